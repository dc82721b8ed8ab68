# The extension `dbsync` under PGXS (included by the top-level Makefile, before its front
# doors). C++20; it links the engine and the PostgreSQL adapter that CMake builds
# (build/libdbsync_engine.a, build/libdbsync_adapter_postgres.a, build/libdbsync_secrets.a,
# build/libdbsync_catalog.a, all -fPIC; common/secrets.cpp and the job lifecycle of common/ are
# shared with dbsyncd).
#
# The version lives here only: extension/sql/dbsync.sql becomes dbsync--$(EXTVERSION).sql, and
# each release adds an upgrade script extension/sql/dbsync--OLD--NEW.sql.

EXTENSION  = dbsync
EXTVERSION = 0.1.0
MODULE_big = dbsync
DBSYNC_EXT_SOURCES := $(sort $(wildcard extension/src/*.cpp extension/src/pg/*.cpp))
OBJS       = $(DBSYNC_EXT_SOURCES:.cpp=.o)
DATA_built = extension/dbsync--$(EXTVERSION).sql
EXTRA_CLEAN = $(DATA_built)

# pg_regress: the tests in sql/, run in the order of sql/schedule (test/check-schedule makes
# sure no file is missing from it).
REGRESS      = $(shell sed -n 's/^test: *//p' sql/schedule)
REGRESS_OPTS = --inputdir=. --outputdir=build/regress --load-extension=dbsync

# pg_regress over the background workers (test/workers): they serve one database,
# dbsync.database, which the stack sets to its own; pg_regress uses it as it is (a worker
# connected to a database would block the DROP DATABASE of a fresh test database).
DBSYNC_WORKERS_DB ?= dbsync_test
DBSYNC_WORKERS_TESTS = $(shell sed -n 's/^test: *//p' test/workers/schedule)

BUILD_DIR ?= build
DBSYNC_ENGINE_LIB := $(BUILD_DIR)/libdbsync_engine.a
DBSYNC_ADAPTER_LIB := $(BUILD_DIR)/libdbsync_adapter_postgres.a
DBSYNC_SECRETS_LIB := $(BUILD_DIR)/libdbsync_secrets.a
DBSYNC_CATALOG_LIB := $(BUILD_DIR)/libdbsync_catalog.a

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I. -I$(shell $(PG_CONFIG) --includedir)
PG_CXXFLAGS = -std=c++20 -Wall -Wextra -Werror -Wno-register -Wno-missing-field-initializers -Wno-unused-parameter
SHLIB_LINK  = $(DBSYNC_CATALOG_LIB) $(DBSYNC_ADAPTER_LIB) $(DBSYNC_SECRETS_LIB) $(DBSYNC_ENGINE_LIB) -lxxhash -lcrypto -lpq -lstdc++

# Debian's PG 15 is built with LLVM: PGXS would also compile every .cpp to bitcode with
# clang-14 without PG_CXXFLAGS (no -std=c++20) and fail. We do not need JIT inlining.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

$(DATA_built): extension/sql/dbsync.sql
	cp $< $@

# The engine comes from the CMake build; headers of the engine are prerequisites of every
# object (PGXS has no automatic header dependencies).
$(shlib): $(DBSYNC_ENGINE_LIB) $(DBSYNC_ADAPTER_LIB) $(DBSYNC_SECRETS_LIB) $(DBSYNC_CATALOG_LIB)
$(DBSYNC_ENGINE_LIB) $(DBSYNC_ADAPTER_LIB) $(DBSYNC_SECRETS_LIB) $(DBSYNC_CATALOG_LIB): build
	@true
$(OBJS): $(wildcard extension/src/*.hpp extension/src/pg/*.hpp engine/*.hpp adapters/postgres/*.hpp common/*.hpp) | build

installcheck-workers:
	$(pg_regress_installcheck) --use-existing --dbname=$(DBSYNC_WORKERS_DB) \
	  --inputdir=test/workers --outputdir=build/regress-workers $(DBSYNC_WORKERS_TESTS)
.PHONY: installcheck-workers

else
# A fresh machine: PostgreSQL's build files (postgresql-server-dev-15) are not installed yet,
# so PGXS could not be read. Install the dependencies, then run make again.
install installcheck installcheck-workers:
ifeq ($(DBSYNC_PGXS_RETRY),)
	scripts/install-deps
	$(MAKE) DBSYNC_PGXS_RETRY=1 $@
else
	@echo "make: PGXS not found ($(PG_CONFIG) --pgxs): is postgresql-server-dev-15 installed?" >&2; exit 1
endif
endif

DBSYNC_STACK_PREREQS += install
