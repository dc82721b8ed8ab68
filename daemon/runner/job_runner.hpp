// One claimed job run by dbsyncd: the master checks the sync's owner (dbsync.
// check_sync_privileges, the extension's rule), the sync is loaded and its ends opened, and the
// engine's SyncExecutor runs with a commit after every batch — the baseline, the stage, the
// job's progress, checkpoint and lease (and a local target's rows) in one master transaction,
// as the extension's executor commits them (extension/src/job_runner.cpp). A remote target
// commits its batch first; re-applying it after a crash is harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "common/job_catalog.hpp"
#include "common/secrets.hpp"
#include "daemon/runner/job_sync.hpp"
#include "daemon/runner/job_transaction.hpp"
#include "engine/endpoints.hpp"

namespace dbsync::daemon {

using jobs::ClaimedJob;

struct JobContext {
  std::string master_conninfo;        // DATABASE_URL
  const secrets::Key* key = nullptr;  // SECRET_KEY, when set
  std::string executor;               // 'dbsyncd host:pid': the jobs row names its runner
  int lease_seconds = 60;
  std::function<bool()> stopping;     // graceful stop: finish the batch, release the job
  std::function<bool()> cancel_seen;  // the heartbeat saw cancel_requested
};

// A stage kept outside the master (Redis). The runner asks it whether a failed job failed
// because the stage's server was unreachable (the job then pauses and retries later instead of
// failing: its checkpoint and what the stage holds are kept), whether its data still exists
// before a commit step, and how many conflicts are pending when the job comes to wait (after
// locking the job's row, so that a decision made meanwhile is not missed).
class ExternalStage {
 public:
  virtual ~ExternalStage() = default;
  // The stage's own last call failed with kUnavailable: that failure (else nullopt). A failure
  // of the callback of read_changes (the target) is not the stage's.
  virtual std::optional<Status> unavailable() const = 0;
  virtual Result<bool> exists() = 0;
  // "Redis host:port", for messages.
  virtual std::string where() const = 0;
  // The stage's position, written to dbsync.jobs.stage_mark with every checkpoint (in the same
  // transaction), so that a resumed job returns the stage to what was committed.
  virtual std::string mark() const = 0;
  // Copies the job's conflicts with their decisions into dbsync.conflicts, in the job's
  // transaction (the one that records its final status): the history outlives the stage. Its
  // clear() keeps the data while committing, since that transaction may still fail; drop()
  // deletes it once the final status is committed.
  virtual Status record_conflicts() = 0;
  virtual Status drop() = 0;
};

// Picks the stage of a job: the in-database stage (CatalogStage) by default; the seam where a
// Redis stage is wired in. The stage may use `txn` (the job's master transaction) and `ctx`
// (SECRET_KEY: the Redis password is sealed with it).
using StageFactory = std::function<Result<std::unique_ptr<Stage>>(
    JobTransaction& txn, const ClaimedJob& job, const JobSync& sync, const JobContext& ctx)>;
StageFactory catalog_stage_factory();

// Housekeeping for stages kept outside the master, run by the runner now and then (see
// JobRunner): e.g. deleting the Redis keys of finished jobs. Returns how many jobs it cleared;
// a failure is logged and retried later, never fatal.
using StageJanitor =
    std::function<Result<int64_t>(pg::PgConnection& master, const secrets::Key* key)>;

enum class JobEnd {
  kFinished,  // succeeded, failed, cancelled or awaiting_resolution: recorded (dbsync.finish_job)
  kReleased,  // stopping: back to 'queued' from its last checkpoint, for any executor
  kLost,      // another executor took it over (our lease ran out): nothing more written
};

struct JobResult {
  JobEnd end = JobEnd::kFinished;
  std::string status;  // as recorded (for the log)
  std::string error;
};

// Runs `job` to its end. `master` is the runner's own connection (checks, loading, the failure
// record); the job's transaction uses a connection of its own. Never throws on a database
// failure: the job is recorded as failed (or released when the master went away, in which case
// its lease runs out and it is claimed again).
JobResult run_job(pg::PgConnection& master, const ClaimedJob& job, const JobContext& ctx,
                  const StageFactory& stages);

// Records that a finished Redis job's keys are gone (dbsync.jobs.stage_cleared), in a
// transaction of its own; the janitor then leaves the job alone.
Status mark_stage_cleared(pg::PgConnection& master, int64_t job_id);

// Records a failure of a job this executor holds, in a transaction of its own.
Status record_job_failure(pg::PgConnection& master, int64_t job_id, const std::string& executor,
                          const std::string& message);

}  // namespace dbsync::daemon
