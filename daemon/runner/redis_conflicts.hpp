// Deciding conflicts staged in Redis (a job whose dbsync.jobs.stage is 'redis'; see
// daemon/runner/redis_stage_factory.hpp), for the API's conflicts and resolve endpoints. The
// in-database stage keeps using dbsync.conflict_list / dbsync.resolve / dbsync.resolve_all.
//
// Addressing: conflict ids in Redis are per job (1, 2, ... in the order the run found them).
// The API addresses a sync's conflicts, so a conflict is (the sync's unfinished job staged in
// Redis, its per-job id): a sync has at most one unfinished job, so (sync, id) names one
// conflict while the job waits; each listed record carries its job_id too.
//
// One rule for decisions, as dbsync.resolve: the sync is loaded (its FieldMapper and policy),
// the engine's ConflictResolver turns the decision into the change to apply, RedisStage::decide
// records both atomically (only while the conflict is still pending: never twice). The job's
// row is locked (FOR UPDATE) while deciding, and when no conflict is left pending the job goes
// back to the queue for its commit step (status 'queued', step 'commit', NOTIFY dbsync_jobs),
// exactly as dbsync.resolve requeues a catalog job.
//
// Decisions are taken only once the job's step is 'commit' (it awaits resolution): a run still
// scanning is refused with kConflict (see redis_stage_factory.hpp: a resumed run rewinds).
//
// Errors (Status): a sync or conflict that does not exist, or a sync without a job staged in
// Redis → kNotFound; a conflict already decided, a job no longer awaiting decisions →
// kConflict; a bad decision or custom row → kInvalidArgument; Redis unreachable →
// kUnavailable; the master unreachable → kUnavailable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_connection.hpp"
#include "common/secrets.hpp"
#include "engine/sync_types.hpp"

namespace dbsync::daemon {

class RedisConflicts {
 public:
  // `master_conninfo` is DATABASE_URL; `key` SECRET_KEY (nullptr when unset: a remote end of
  // the sync then fails naming the setting). Each call opens its own master connection.
  RedisConflicts(std::string master_conninfo, const secrets::Key* key);

  // The sync's unfinished job whose stage is in Redis, or nullopt (its conflicts, if any, are
  // in dbsync.conflicts).
  Result<std::optional<int64_t>> redis_job(int64_t sync_id);

  // A page of the conflicts of that job: id > after_id, in id order, at most `limit` (1..1000),
  // only `status` (pending, resolved, skipped) when given. Returns
  //   {"job_id": N, "items": [{"id", "job_id", "key", "kind", "source_row", "target_row",
  //     "source_changed", "target_changed", "conflicting", "reason", "status", "resolution",
  //     "resolved_row", "resolved_by", "resolved_at"}...], "next_after": id or null}
  // with rows rendered as dbsync.conflict_list renders them (objects of target columns).
  Result<nlohmann::json> list(int64_t sync_id, const std::optional<std::string>& status,
                              int64_t after_id, int64_t limit);

  // Decides conflict `conflict_id` of the sync's Redis job. `custom_row` (a JSON object of
  // target columns; left-out columns keep the source's version) only with "custom".
  // Returns {"job_id", "conflict_id", "status": "resolved"|"skipped", "pending": n,
  //          "job_requeued": bool}.
  Result<nlohmann::json> decide(int64_t sync_id, int64_t conflict_id, const std::string& decision,
                                const std::optional<nlohmann::json>& custom_row,
                                const std::string& decided_by);

  // Decides every pending conflict the same way (not custom). Returns {"job_id", "decided": n,
  // "pending": n, "job_requeued": bool}.
  Result<nlohmann::json> decide_all(int64_t sync_id, const std::string& decision,
                                    const std::string& decided_by);

 private:
  std::string master_conninfo_;
  const secrets::Key* key_;
};

}  // namespace dbsync::daemon
