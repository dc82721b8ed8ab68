// Conflicts kept in the catalog (dbsync.conflict_list) and their decisions (dbsync.resolve,
// resolve_all). A job staged in Redis keeps its conflicts there
// (daemon/runner/redis_conflicts.hpp).
#pragma once

#include <optional>
#include <string>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

// Whether the sync's unfinished job keeps its change set and conflicts in Redis.
DbResult<bool> redis_staged(pg::PgConnection& db, long long sync_id);

struct ConflictFilter {
  std::string sync;  // the sync's name
  std::optional<std::string> status;
  std::optional<long long> job_id;
  std::optional<long long> after;
  long long limit = 100;
};
DbResult<nlohmann::json> list_conflicts(pg::PgConnection& db, const ConflictFilter& filter);
DbResult<std::optional<nlohmann::json>> get_conflict(pg::PgConnection& db, long long id);
// The sync a conflict belongs to; nullopt: no such conflict.
DbResult<std::optional<long long>> conflict_sync(pg::PgConnection& db, long long id);
// dbsync.resolve: the decision's result. `row_json`: the custom row, a JSON object's text.
DbResult<std::string> resolve(pg::PgConnection& db, long long conflict, const std::string& decision,
                              const DbParam& row_json);
// dbsync.resolve_all: how many were decided.
DbResult<nlohmann::json> resolve_all(pg::PgConnection& db, const std::string& sync,
                                     const std::string& decision);

}  // namespace dbsync::daemon::catalog
