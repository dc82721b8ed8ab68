# dbsync front doors.
#
#   make deps    install the Debian packages (scripts/install-deps; root, or prints the sudo line)
#   make build   CMake configure + build in build/ (RelWithDebInfo, -Werror via CMakeLists)
#   make test    deps, build, start the local stack, run every suite (test/run-suites), stop
#                the stack; last line "N passed, N failed". CI=true adds the ASan/UBSan build.
#   make demo    deps, build, start the stack (left running), load the demo data (test/demo)
#   make soak    the convergence checker over every configuration for SOAK_SECONDS (3600),
#                SOAK_ROUNDS rounds each (30), from SOAK_SEED (random); see test/convergence
#   make stop    stop the local stack          make status   show it
#   make clean   remove build/ (and the stack's run dir when the stack is not running)
#
# Recipes here are POSIX sh on purpose: PGXS sets SHELL = /bin/sh when it is included.
# The logic lives in scripts: scripts/install-deps, test/stack/stack, test/run-suites, test/demo.

BUILD_DIR        ?= build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS       ?=
JOBS             ?= 2
STACK            := test/stack/stack
# Suites for `make test` (default: all registered in test/run-suites), e.g. SUITES=ctest.
SUITES           ?=

# Targets to make after `build` and before the stack starts in `make test` / `make demo`
# (the extension part appends `install` here: the server preloads dbsync.so at start).
DBSYNC_STACK_PREREQS :=

.DEFAULT_GOAL := all
# cmake --build runs make below us: no "Entering directory" noise from it.
MAKEFLAGS += --no-print-directory

# ---------------------------------------------------------------------------------------
# The extension's part (PGXS) lives in extension/pgxs.mk, included here before the front doors.
#  - `override with_llvm = no` before `include $(PGXS)` (see BUILD-NOTES).
#  - PGXS brings all, install, installcheck, clean, ... . `all` and `clean` below have no
#    recipe (prerequisites only), so PGXS's recipes and these coexist; keep it that way.
#  - It adds `install` to DBSYNC_STACK_PREREQS, so `make test`/`make demo` build dbsync.so
#    before the stack starts (test/stack/stack then runs this checkout's dbsync.so).
#  - pg_regress suites (test/run-suites) run `$(MAKE) installcheck` and installcheck-workers.
# ---------------------------------------------------------------------------------------
-include extension/pgxs.mk

.PHONY: all deps build test soak demo stop status clean clean-build help

all: build

help:
	@sed -n '3,12s/^# \{0,1\}//p' Makefile

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The runner starts the stack (unless it is running: then it is used and left running),
# stops it at exit whatever happens, and prints the summary line last.
test: build $(DBSYNC_STACK_PREREQS)
	test/run-suites $(SUITES)

soak: build $(DBSYNC_STACK_PREREQS)
	test/convergence/soak

demo: build $(DBSYNC_STACK_PREREQS)
	$(STACK) start
	test/demo

stop:
	@if [ -f .run/stack/dbsyncd.pid ]; then kill $$(cat .run/stack/dbsyncd.pid) 2>/dev/null || true; rm -f .run/stack/dbsyncd.pid; fi
	$(STACK) stop

status:
	$(STACK) status

clean: clean-build

# build/ only; the stack's run dir (.run/stack) goes too when no stack is running.
clean-build:
	rm -rf $(BUILD_DIR)
	@st=0; $(STACK) status >/dev/null 2>&1 || st=$$?; \
	if [ $$st -eq 3 ]; then rm -rf .run/stack; \
	else echo "clean: the local stack is running or stale: kept .run/stack (make stop first)"; fi
