// The kinds of datasource, once: every check of a kind (the catalog's CHECK and add_datasource
// through dbsync.datasource_kinds(), the extension's SQL functions, dbsyncd) reads this table,
// so adding a kind is one line in datasource_kinds.cpp (and its adapter).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace dbsync {

// The database a kind speaks: what client reaches it and which SQL its filters are written in.
enum class KindFamily { kPostgres, kMysql };

// Which executor runs a sync's jobs when both its ends are of kinds marked kWorkers: the
// extension's background workers (inside PostgreSQL); any end marked kDaemon makes it dbsyncd's.
// (The catalog's dbsync.executor_kind also sends webhook syncs and Redis-staged manual syncs to
// dbsyncd, whatever the kinds.)
enum class KindExecutor { kWorkers, kDaemon };

// What a datasource of the kind stores as its conninfo.
enum class ConninfoForm {
  kNone,      // the master itself: no conninfo
  kLibpq,     // a libpq connection string or postgres:// URL
  kMysqlUrl,  // mysql://user:password@host:port/database
};

struct DatasourceKind {
  std::string_view name;
  KindFamily family;
  KindExecutor executor;
  ConninfoForm conninfo;
  // The master itself: read and written in the master's own transaction (no connection).
  bool is_master;
  // Rows carry a version the write contract can check (PostgreSQL's xmin).
  bool fingerprints;
};

// Every kind, in the order they are listed to people.
std::span<const DatasourceKind> datasource_kinds();

// The kind named `name`, or nullptr.
const DatasourceKind* find_datasource_kind(std::string_view name);

// Whether `name` is a kind of the PostgreSQL family (the master itself included).
bool is_postgres_family(std::string_view name);
// Whether `name` is the master itself (kind local).
bool is_master_kind(std::string_view name);

// The kinds' names (of one family, or all) joined by ", ", for messages and hints.
std::string datasource_kind_names();
std::string datasource_kind_names(KindFamily family);

const char* kind_family_name(KindFamily family);        // postgres, mysql
const char* kind_executor_name(KindExecutor executor);  // worker, daemon
const char* conninfo_form_name(ConninfoForm form);      // none, libpq, mysql_url

}  // namespace dbsync
