// What the SQL functions over a sync share (syncs.cpp defines these): a sync's configuration
// loaded from the catalog and validated against its tables, and rows rendered as JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "adapters/postgres/pg_table.hpp"
#include "engine/datasource_kinds.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/introspection.hpp"
#include "engine/sync_types.hpp"
#include "engine/value.hpp"
#include "engine/value_json.hpp"
#include "extension/src/pg/local_table.hpp"

namespace dbsync::ext {

struct SyncConfig {
  std::string name;
  std::string source, source_table, target, target_table;
  std::string mapping = "{}";
  std::vector<std::string> key, source_key;
  std::string direction = "one_way";
  std::string strategy = "source_wins";
  std::string strategy_options = "{}";
  std::string delete_policy = "propagate";
  int batch_size = 1000;
  std::optional<std::string> filter;
};

struct Endpoint {
  std::string id;
  std::string name;  // the datasource's
  std::string kind;
  // As stored: canonical (schema.name, quoted where needed) for Postgres-family ends, as given
  // for the others.
  std::string table;
  std::optional<pg::LocalTable> local;  // kind local: a table of this server
  std::shared_ptr<pg::PgTable> remote;  // kinds postgres, supabase, neon: opened and described

  // The table's columns when it was described here (local or remote), else nullptr.
  const Schema* schema() const;
  // The table as the introspection described it (engine/introspection.hpp), else nullptr:
  // validation reads it, whatever the kind.
  const TableDescription* description() const;
};

// is_postgres_family, is_master_kind: engine/datasource_kinds.hpp.

struct CheckedSync {
  std::string id;  // set when loaded from the catalog
  int batch_size = 1000;
  Endpoint source, target;
  MappingSpec spec;
  SyncPolicy policy;
  std::optional<FieldMapper> mapper;  // both ends Postgres-family (described)
  std::optional<std::string> filter;
  std::optional<std::string> created_by;  // the creator role's oid (loaded syncs)
};

// The sync `name` compiled with both ends opened, for functions run in a backend (inside an
// SPI session): ERROR 42704 for an unknown sync, 0A000 naming `function` when an end is not
// Postgres-family (MySQL, WordPress: run by dbsyncd). Remote ends are connected to for the
// calling role: a role that is not a superuser needs password authentication.
CheckedSync load_postgres_sync(const std::string& name, const char* function);
inline CheckedSync load_local_sync(const std::string& name, const char* function) {
  return load_postgres_sync(name, function);
}
// The same by sync id, for the job runner, which decides `require_password` itself (from
// superuser(created_by)): ERROR 42704 for an unknown id, 0A000 for a non-Postgres end.
CheckedSync load_postgres_sync_by_id(int64_t id, bool require_password);

// Throws 42501 unless `role_oid` may read the sync's local source (and write it, two-way) and
// read and write its local target. create_sync / alter_sync check the caller; the job runner
// checks the sync's owner (created_by) before every job, as privileges may have changed.
void check_local_privileges(const CheckedSync& k, const std::string& role_oid);

// The ends as engine streams (inside the SPI session of the load; `k` must outlive them): a
// LocalSource for a local table, the PgTable for a remote one; the source with the filter.
std::unique_ptr<Source> source_reader(const CheckedSync& k);
std::unique_ptr<Source> target_reader(const CheckedSync& k);

// json_string, render_value, render_row and value_from_json: engine/value_json.hpp.

// The transaction's start as Unix microseconds: now() in expressions.
int64_t now_unix_micros();

}  // namespace dbsync::ext
