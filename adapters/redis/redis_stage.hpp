// The stage of one job in Redis. Its keys share the hash tag {job:<id>}, so they live in one
// cluster slot and one Lua script may touch them all:
//   <prefix>:{job:<id>}:changes     list: encode_change bytes, in staged order
//   <prefix>:{job:<id>}:conflicts   hash: conflict id -> encode_conflict bytes
//   <prefix>:{job:<id>}:status      hash: conflict id -> pending | resolved | skipped
//   <prefix>:{job:<id>}:decisions   hash: conflict id -> "<decision> <unix ms> <decided by>"
//   <prefix>:{job:<id>}:pending     sorted set: ids of pending conflicts (score = id)
//   <prefix>:{job:<id>}:meta        hash: job, next_conflict_id, staged (changes ever put),
//                                   trimmed (changes a commit removed: dbsyncd's runner)
//   <prefix>:{job:<id>}:rows        hash: conflict id -> the row of a custom decision
//                                   (encode_sortable_key bytes: exact values, every type)
// Every write (put, decision) refreshes the TTL of all of them (default 7 days: longer than
// a resolution window), so an abandoned job's stage disappears on its own; a job left waiting
// longer than that without a write loses its stage as a whole (exists() tells).
//
// Atomicity: put_changes is one MULTI/EXEC, put_conflicts and decide are Lua scripts, so each
// is recorded whole or not at all. When the connection drops after the request was sent, the
// outcome is unknown: the call fails with kUnavailable saying so. A decision is checked and
// recorded in the same script (status must still be pending), so it is never applied twice,
// even by two resolvers racing. read_changes removes a batch (LTRIM) only after its callback
// returned ok; if that LTRIM fails the batch stays staged and is applied again on resume,
// which the Target contract makes harmless (apply is idempotent).
//
// One RedisStage per job, used by one thread at a time (like its RedisConnection). A job is
// committed by one executor at a time (the runner's lease): read_changes assumes nobody else
// trims the list's head meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/redis/redis_connection.hpp"
#include "engine/conflict_resolver.hpp"
#include "engine/endpoints.hpp"

namespace dbsync::redis {

struct RedisStageOptions {
  std::string prefix = "dbsync";
  std::chrono::seconds ttl{std::chrono::hours(24 * 7)};
  size_t push_chunk = 500;  // values per RPUSH inside one MULTI
};

class RedisStage : public Stage {
 public:
  // `conn` must outlive the stage. `job` names the job (its id); it may not contain braces.
  static Result<std::unique_ptr<RedisStage>> open(RedisConnection& conn, std::string job,
                                                  RedisStageOptions options = {});

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  // Deletes every key of the job (changes and conflicts).
  Status clear() override;

  // Whether the job's stage is in Redis: its meta key is written by every put and deleted by
  // clear() or when the TTL ran out. A job resumed while awaiting resolution whose stage no
  // longer exists expired: pending_conflicts() and read_changes() then see an empty stage, so
  // the runner must check this before committing (and fail the job clearly instead).
  Result<bool> exists();

  // ---- for whoever decides conflicts ----
  struct StoredConflict {
    int64_t id = 0;
    std::string status;                // pending, resolved, skipped
    std::optional<Decision> decision;  // once decided
    int64_t decided_at_ms = 0;         // unix milliseconds, once decided
    std::string decided_by;            // who decided (as passed to decide), once decided
    std::optional<Row> resolved_row;   // the row of a custom decision (mapped layout)
    ConflictRecord conflict;
  };
  // Conflicts with id > after_id in id order, at most `limit` (a page: pass the last id back
  // as after_id), only those with `status` when given (pending, resolved or skipped).
  Result<std::vector<StoredConflict>> list_conflicts(
      int64_t after_id, size_t limit, const std::optional<std::string>& status = std::nullopt);
  Result<StoredConflict> get_conflict(int64_t id);
  // How many conflicts were recorded (all statuses).
  Result<int64_t> conflict_count();

  // Decides pending conflict `id` with the engine's resolver, as the in-database stage does:
  // the planned change (when not empty) joins the staged changes and the conflict becomes
  // resolved (skipped for Decision::kSkip), atomically. Returns the new status. Errors:
  // kNotFound (no such conflict), kConflict (already decided, or a merge whose fallback is
  // manual), kInvalidArgument (custom without a row, a row for another decision, a row whose
  // key differs), kUnavailable (Redis).
  // `decided_by` (e.g. a token's name) is kept with the decision for the audit.
  Result<std::string> decide(int64_t id, Decision decision, const Row* custom_row,
                             const ConflictResolver& resolver, std::string_view decided_by = {});
  // The same for a conflict as listed earlier (list_conflicts): not read again, but recorded
  // only if still pending in Redis (checked by the script), so a stale page is harmless.
  Result<std::string> decide_listed(const StoredConflict& listed, Decision decision,
                                    const Row* custom_row, const ConflictResolver& resolver,
                                    std::string_view decided_by = {});
  // Decides every pending conflict the same way (not kCustom: each row differs), page by page.
  // Returns how many were decided; stops at the first failure (those before it stay decided).
  Result<int64_t> decide_all(Decision decision, const ConflictResolver& resolver,
                             std::string_view decided_by = {});

  const std::string& job() const { return job_; }
  // The full name of one of the job's keys ("changes", "conflicts", ... as listed above).
  std::string key(std::string_view part) const;
  std::vector<std::string> keys() const;

 private:
  RedisStage(RedisConnection& conn, std::string job, RedisStageOptions options);
  // `already`: refused because it was no longer pending.
  Result<std::string> decide_stored(const StoredConflict& stored, Decision decision,
                                    const Row* custom_row, const ConflictResolver& resolver,
                                    std::string_view decided_by, bool& already);
  Status fail(const Status& st, const std::string& what) const;

  RedisConnection& conn_;
  std::string job_;
  RedisStageOptions options_;
  std::string ttl_;
};

}  // namespace dbsync::redis
