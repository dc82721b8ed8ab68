// Module entry: settings (GUCs) and whether the library was preloaded.
#include "extension/src/module.hpp"

#include "extension/src/pg/index_scan.hpp"
#include "extension/src/workers.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

namespace dbsync::ext {

Settings settings;
bool preloaded = false;

}  // namespace dbsync::ext

extern "C" void _PG_init(void) {
  using dbsync::ext::settings;
  // Plain C only in here: no C++ object is alive if a GUC definition raises an ERROR.
  DefineCustomStringVariable(
      "dbsync.database", "Database the dbsync scheduler and executors connect to.", nullptr,
      &settings.database, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("dbsync.max_workers",
                          "Executor background workers that may run dbsync jobs at once.",
                          nullptr, &settings.max_workers, 2, 0, 64, PGC_SIGHUP, 0, nullptr,
                          nullptr, nullptr);
  // PGC_SUSET, not SIGHUP: a superuser may also SET it per session or per database (the
  // regression tests use their own key file); nobody else can set or read it.
  DefineCustomStringVariable(
      "dbsync.secret_key_file",
      "File holding the key (32 bytes, hex or raw) that encrypts datasource secrets.", nullptr,
      &settings.secret_key_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
  dbsync::pg::index_scan::define_guc();
  MarkGUCPrefixReserved("dbsync");
  dbsync::ext::preloaded = process_shared_preload_libraries_in_progress;
  // The launcher and the shared memory it shares with backends (plain C calls in there too).
  if (dbsync::ext::preloaded) dbsync::ext::register_workers();
}
