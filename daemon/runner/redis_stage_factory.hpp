// The Redis stage of dbsyncd's jobs (issue #4, "Redis stage"): with daemon.redis_url in
// dbsync.settings, a job of a sync whose strategy stages changes (manual; webhook, whose
// fallback may leave conflicts) keeps its change set and conflicts in Redis (adapters/redis)
// instead of dbsync.stage / dbsync.conflicts.
//
// Where a job's stage lives is dbsync.jobs.stage ('catalog' or 'redis'): chosen from the
// settings when a run starts from scratch (step run, no checkpoint; the Redis keys of an
// earlier attempt that committed nothing are cleared then), and used as recorded ever after —
// by a resumed run, the commit step and whoever decides — so a settings change mid-job does not
// move the job's stage (a Redis URL pointing elsewhere finds no stage: the job fails clearly).
//
// Nothing staged twice, nothing applied twice: the stage's position (dbsync.jobs.stage_mark)
// commits with every checkpoint — during a run "run <changes staged> <last conflict id>", during
// a commit "commit <changes applied>". A resumed run first drops what a put after the last
// checkpoint left in Redis (a put whose outcome was unknown, or one whose batch never
// committed); a resumed commit first removes the changes already applied whose LTRIM did not
// happen (the count trimmed is kept in the meta hash, 'trimmed', updated with each LTRIM).
// Conflicts are decided only once the job's step is 'commit' (daemon/runner/redis_conflicts.hpp),
// so a rewind never drops a decision.
//
// Keys: RedisStage's, under the prefix "dbsync:<oid of the master database>" so that several
// masters (or databases) may share one Redis: "dbsync:16384:{job:42}:changes", ...
//
// History: when a job commits, its conflicts with their decisions are copied into
// dbsync.conflicts (record_conflicts) in the transaction that records its final status, so the
// copy happens once — a commit cut off before that transaction resumes and copies then. The
// keys are deleted only after that transaction committed (clear() keeps them while committing;
// drop() deletes them), and dbsync.jobs.stage_cleared records that they are gone.
//
// No keys left behind: a job can end without a dbsyncd deleting its keys (dbsync.cancel while
// it awaits decisions, a failure before its stage was opened, a dbsyncd killed between the final
// commit and the DEL, Redis down at that moment). The runner's janitor (redis_stage_janitor)
// finds finished jobs with stage 'redis' and stage_cleared false, deletes their keys by name
// (no KEYS or SCAN) and marks them; Redis unreachable: it tries again later.
//
// Password: daemon.redis_password is stored sealed with SECRET_KEY, as datasource conninfos are
// (common/secrets: AES-256-GCM), as {"sealed": "<hex>"}; a clear jsonb string (stored before
// sealing existed) is still read. Without SECRET_KEY a sealed password cannot be read: the job
// fails saying so.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/redis/redis_connection.hpp"
#include "adapters/redis/redis_stage.hpp"
#include "common/secrets.hpp"
#include "daemon/runner/job_runner.hpp"

namespace dbsync::daemon {

// The daemon's Redis settings (dbsync.settings 'daemon.redis_url': a jsonb string;
// 'daemon.redis_password': sealed as above, or a clear string from before), nullopt when no URL
// is set. `key` is SECRET_KEY (nullptr when unset). A sealed password without a key or with
// another key: kInvalidArgument naming SECRET_KEY.
struct RedisSettings {
  std::string url;
  std::optional<std::string> password;
};
Result<std::optional<RedisSettings>> read_redis_settings(pg::PgConnection& master,
                                                         const secrets::Key* key);

// The stored form of daemon.redis_password: its jsonb type ("object" sealed, "string" clear)
// and content ({"sealed"}'s hex, or the clear text) to the password. Errors as above.
Result<std::string> open_redis_password(const std::string& jsonb_type, const std::string& content,
                                        const secrets::Key* key);
// The hex of `password` sealed with `key`, for {"sealed": hex}.
Result<std::string> seal_redis_password(const secrets::Key& key, std::string_view password);

// The RedisStage options of the master `master` is connected to (its key prefix).
Result<redis::RedisStageOptions> redis_stage_options(pg::PgConnection& master);

// Whether a sync of this strategy stages changes (so that its jobs use Redis when it is set).
bool strategy_uses_redis_stage(Strategy s);

// A job's stage in Redis, owning its connection: a Stage for the engine, an ExternalStage for
// the runner (kUnavailable failures pause the job), and the RedisStage for deciding.
class RedisJobStage final : public Stage, public ExternalStage {
 public:
  // How the runner opens a job's stage.
  enum class Start {
    kFresh,   // a run from scratch: whatever an earlier attempt left is cleared
    kResume,  // a resumed run or a commit step: back to `mark` (see above)
    kAsIs,    // for deciding: nothing changed
  };
  // Connects (kUnavailable when Redis cannot be reached) and opens job `job_id`'s stage.
  static Result<std::unique_ptr<RedisJobStage>> open(
      const RedisSettings& settings, int64_t job_id, redis::RedisStageOptions options,
      Start start = Start::kAsIs, bool run_step = false,
      const std::optional<std::string>& mark = std::nullopt);
  // For record_conflicts (the runner's): the job's transaction and its sync; both outlive the
  // stage.
  void attach(JobTransaction& txn, std::string sync_id, const FieldMapper& mapper);

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  Status clear() override;

  std::optional<Status> unavailable() const override { return unavailable_; }
  Result<bool> exists() override;
  std::string where() const override { return "Redis " + conn_->endpoint(); }
  std::string mark() const override;
  // Copies every conflict (in pages of kCopyBatch) with its decision into dbsync.conflicts in
  // the job's transaction (the one of its final status: committed once, with it).
  Status record_conflicts() override;
  Status drop() override;
  static constexpr size_t kCopyBatch = 500;

  redis::RedisStage& stage() { return *stage_; }

 private:
  RedisJobStage() = default;
  Status note(Status st);
  Status rewind_run(int64_t staged, int64_t last_conflict);
  // Checks the stage still holds what this job staged (or, committing, what it has left to
  // apply); an error naming the loss otherwise. One round trip.
  Status verify();
  Status lost(int64_t changes, int64_t conflicts) const;
  Status skip_applied(int64_t applied);
  Result<int64_t> meta_int(const char* field);

  std::unique_ptr<redis::RedisConnection> conn_;
  std::unique_ptr<redis::RedisStage> stage_;
  std::string ttl_;
  std::optional<Status> unavailable_;
  bool committing_ = false;  // read_changes was called: the mark counts applied changes
  int64_t staged_ = 0, last_conflict_ = 0, applied_ = 0;
  bool saw_meta_ = false;  // verify() found the stage's meta key once
  bool run_step_ = false;  // opened for the run step (staging), not a commit step
  int64_t job_id_ = 0;
  JobTransaction* txn_ = nullptr;
  std::string sync_id_;
  const FieldMapper* mapper_ = nullptr;
};

// The runner's StageFactory: the catalog stage or a RedisJobStage, as described above.
StageFactory redis_stage_factory();

// Deletes the keys of finished Redis jobs whose keys may remain (stage 'redis', status
// succeeded, failed or cancelled, stage_cleared false), at most `limit` jobs per query, and
// marks them. Returns how many were cleared. With no Redis in the settings there is nothing to
// reach: 0 (their keys expire with their TTL). Redis unreachable: kUnavailable (those cleared
// before it stay marked).
Result<int64_t> sweep_redis_stages(pg::PgConnection& master, const secrets::Key* key,
                                   int limit = 100);
// Redis jobs waiting for decisions whose stage is gone (Redis restarted without persistence, or
// the TTL ran out): back to the queue for their commit step, whose check fails them clearly ("no
// longer in Redis ... run the sync again") instead of leaving them waiting for conflicts that
// no longer exist. Returns how many were requeued.
Result<int64_t> requeue_lost_waiting_jobs(pg::PgConnection& master, const secrets::Key* key,
                                          int limit = 100);
// The runner's StageJanitor: requeue_lost_waiting_jobs, then sweep_redis_stages.
StageJanitor redis_stage_janitor();

}  // namespace dbsync::daemon
