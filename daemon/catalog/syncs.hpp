// Sync configs through the SQL API (dbsync.create_sync, alter_sync, drop_sync, schedule,
// preview, diff), their webhook secrets, and queuing a job (dbsync.queue_job).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

// The arguments of dbsync.create_sync / alter_sync the API passes by name, with their SQL type.
enum class SyncArgType { kText, kJsonb, kTextArray, kInteger, kBoolean };
struct SyncArg {
  const char* name;
  SyncArgType type;
  bool nullable;  // null is a value ("filter": null clears it)
};
// Every field of a sync config the API takes ("schedule" is not an argument of create_sync: it
// goes through dbsync.schedule, see set_schedule).
const std::vector<SyncArg>& sync_args();

DbResult<nlohmann::json> list_syncs(pg::PgConnection& db, std::optional<long long> after,
                                    long long limit);
DbResult<std::optional<nlohmann::json>> get_sync(pg::PgConnection& db, long long id);
DbResult<std::optional<std::string>> sync_name(pg::PgConnection& db, long long id);
// dbsync.create_sync with the arguments present in `fields` (a JSON object of sync_args()
// values, checked by the caller); the new id.
DbResult<long long> create_sync(pg::PgConnection& db, const nlohmann::json& fields);
// dbsync.alter_sync of the arguments present in `fields` ("name" is the sync's, not a field).
DbStatus alter_sync(pg::PgConnection& db, const std::string& name, const nlohmann::json& fields);
DbStatus drop_sync(pg::PgConnection& db, const std::string& name);
// A cron text sets the schedule (dbsync.schedule checks it), nullopt removes it.
DbStatus set_schedule(pg::PgConnection& db, const std::string& name,
                      const std::optional<std::string>& cron);
// dbsync.preview's rows and dbsync.diff's, as JSON arrays.
DbResult<nlohmann::json> preview(pg::PgConnection& db, const std::string& name, long long limit);
DbResult<nlohmann::json> diff(pg::PgConnection& db, const std::string& name, long long limit);

// dbsync.queue_job: {"job_id", "created"} (an unfinished job of the sync is found, not made);
// nullopt when the sync does not exist.
DbResult<std::optional<nlohmann::json>> queue_job(pg::PgConnection& db, long long sync_id,
                                                  const std::string& trigger,
                                                  const std::string& requested_by);

// ---- webhook secrets (sealed with SECRET_KEY by the caller)
// Stores (or replaces) the sealed secret; {"created_at"}; nullopt: no such sync.
DbResult<std::optional<nlohmann::json>> put_webhook_secret(pg::PgConnection& db, long long sync_id,
                                                           const std::string& sealed);
// Whether there was one.
DbResult<bool> delete_webhook_secret(pg::PgConnection& db, long long sync_id);
// The sealed secret; nullopt when the sync has none (or does not exist).
DbResult<std::optional<std::string>> webhook_secret(pg::PgConnection& db, long long sync_id);

}  // namespace dbsync::daemon::catalog
