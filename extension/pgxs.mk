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

# Which files may touch PostgreSQL (README, "Which files touch PostgreSQL"): only the objects
# below are compiled with PostgreSQL's server include directories; every other object of the
# extension is compiled without them, so an #include of "postgres.h" (directly or through a
# pg/ header that includes it) fails to build there ("No such file or directory").
#  - extension/src/pg/: the thin layer (SPI sessions, the guard, Datum decoding, index scans);
#  - the SQL entry points: files defining SQL-callable functions (DBSYNC_FUNCTION), _PG_init or a
#    background worker's main; check-pg-boundary refuses an entry in this list that defines none.
# Nothing else: a file that needs PostgreSQL moves that part into pg/.
DBSYNC_PG_ENTRY_POINTS := browse datasources diff info_functions jobs module runner_support \
                          schedules syncs workers
DBSYNC_PG_OBJS := $(patsubst %.cpp,%.o,$(wildcard extension/src/pg/*.cpp)) \
                  $(patsubst %,extension/src/%.o,$(DBSYNC_PG_ENTRY_POINTS))

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

# PGXS puts the server include directories into CPPFLAGS for every object: take them out, and
# give them back to the objects allowed to see them (above).
DBSYNC_PG_SERVER_INCLUDES := -I$(includedir_server) -I$(includedir_internal)
override CPPFLAGS := $(filter-out $(DBSYNC_PG_SERVER_INCLUDES),$(CPPFLAGS))
$(DBSYNC_PG_OBJS): override CPPFLAGS += $(DBSYNC_PG_SERVER_INCLUDES)

# The rule is checked on every build of dbsync.so (and by `make check-pg-boundary`):
#  1. a file including "postgres.h" compiled as a file outside the allowed list must fail with
#     "No such file", and compiled as an allowed one must succeed (so the failure is the rule's);
#  2. every entry point in the list defines an SQL function, _PG_init or a worker's main;
#  3. no file outside pg/ calls SPI by hand (pg/session.hpp is the way to it);
#  4. no CMake target (engine, adapters, common, daemon, tools, tests) has the server include
#     directory in its flags.
DBSYNC_PG_PROBE := $(BUILD_DIR)/pg-boundary/probe.cpp
$(BUILD_DIR)/pg-boundary/ok: extension/pgxs.mk CMakeLists.txt $(DBSYNC_EXT_SOURCES) | build
	@mkdir -p $(@D)
	@printf '%s\n' '#include "postgres.h"' 'int dbsync_probe;' >$(DBSYNC_PG_PROBE)
	@if $(COMPILE.cc) -o $(@D)/probe.o $(DBSYNC_PG_PROBE) >$(@D)/forbidden.log 2>&1; then \
	  echo "check-pg-boundary: a file outside the allowed list compiled #include \"postgres.h\"" >&2; exit 1; \
	fi
	@grep -q 'postgres.h: No such file' $(@D)/forbidden.log || \
	  { echo "check-pg-boundary: the probe failed for another reason:" >&2; cat $(@D)/forbidden.log >&2; exit 1; }
	@$(COMPILE.cc) $(DBSYNC_PG_SERVER_INCLUDES) -o $(@D)/probe.o $(DBSYNC_PG_PROBE) || \
	  { echo "check-pg-boundary: an allowed file cannot include postgres.h" >&2; exit 1; }
	@for f in $(DBSYNC_PG_ENTRY_POINTS); do \
	  grep -Eq '^DBSYNC_FUNCTION\(|^(PGDLLEXPORT |extern "C" )+void [A-Za-z_]+\((Datum|void)' extension/src/$$f.cpp || \
	    { echo "check-pg-boundary: extension/src/$$f.cpp is listed as an SQL entry point but defines none" >&2; exit 1; }; \
	done
	@! grep -En 'executor/spi\.h|\bSPI_[a-z]' $(filter-out extension/src/pg/%,$(DBSYNC_EXT_SOURCES)) >&2 || \
	  { echo "check-pg-boundary: SPI is called outside extension/src/pg/ (use pg/session.hpp)" >&2; exit 1; }
	@! grep -l -- '$(includedir_server)' $(BUILD_DIR)/CMakeFiles/*/flags.make >&2 || \
	  { echo "check-pg-boundary: a CMake target (above) compiles with PostgreSQL's server headers" >&2; exit 1; }
	@touch $@
check-pg-boundary: $(BUILD_DIR)/pg-boundary/ok
.PHONY: check-pg-boundary
$(shlib): $(BUILD_DIR)/pg-boundary/ok

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
