// A sync as the daemon runs it: its configuration read from the master's catalog, its ends
// opened through the end registry (daemon/runner/ends.hpp), its mapping compiled by the engine
// and its policy parsed by the engine's rule (engine/sync_policy.hpp, the extension's; the
// configuration was validated by dbsync.create_sync / alter_sync).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "common/secrets.hpp"
#include "daemon/runner/ends.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"

namespace dbsync::daemon {

struct JobSync {
  std::string id;
  std::string name;
  int batch_size = 1000;
  SyncPolicy policy;
  // Ends: `local` tables are the master's, reached through DATABASE_URL; postgres, supabase and
  // neon through their datasource's conninfo (decrypted with SECRET_KEY).
  OpenedEnd source, target;
  std::optional<FieldMapper> mapper;  // refers to the ends' schemas: the ends outlive it
};

// Loads and opens sync `sync_id`. `key` is SECRET_KEY (nullptr when not set: a remote end then
// fails naming the setting). Errors name the sync and the datasource; never a conninfo.
Result<std::unique_ptr<JobSync>> load_job_sync(pg::PgConnection& master,
                                               const std::string& master_conninfo, int64_t sync_id,
                                               const secrets::Key* key);

}  // namespace dbsync::daemon
