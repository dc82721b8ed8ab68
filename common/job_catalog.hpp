// The job lifecycle as both executors drive it — the extension's background workers (over SPI)
// and dbsyncd's job runner (over libpq): claim a job, report each batch's progress in the
// batch's transaction, record how it ended (or release it, or record its failure). Every write
// to dbsync.jobs is one of the catalog's functions (extension/sql/dbsync.sql, section "job
// lifecycle"); this is the one C++ caller of each, over a CatalogSession.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/catalog_session.hpp"
#include "engine/job_progress.hpp"
#include "engine/sync_executor.hpp"
#include "engine/sync_types.hpp"

namespace dbsync::jobs {

// A job as an executor claimed it (dbsync.claim_job).
struct ClaimedJob {
  int64_t id = 0;
  int64_t sync_id = 0;
  std::string step;                              // "run" or "commit"
  std::optional<std::string> checkpoint;         // encode_sortable_key bytes
  std::optional<std::string> source_checkpoint;  // the source key of that point
  // Counts committed by earlier attempts (a resumed job adds to them).
  int64_t scanned = 0, inserted = 0, updated = 0, deleted = 0, unchanged = 0, conflicts = 0,
          errors = 0;
  bool resumed = false;  // taken over from an executor whose lease ran out
};

// Who claims and which jobs (dbsync.claim_job).
struct ClaimRule {
  std::string executor;  // 'worker <pid>', 'dbsyncd <host>:<pid>'
  int lease_seconds = 60;
  std::optional<std::string> kind;  // 'worker', 'daemon'; nullopt: any (--executors=all)
  bool take_over = false;           // also jobs of a dbsyncd whose lease ran out
  int max_interruptions = 5;
};

// The next job for `rule`, leased (the statement commits with the session's transaction).
Result<std::optional<ClaimedJob>> claim(CatalogSession& session, const ClaimRule& rule);

// A checkpoint as the engine resumes from it (nullopt: from the start); a stored key that does
// not decode is kInternal, naming `what` ("checkpoint", "source checkpoint").
Result<std::optional<Row>> decode_key(const std::optional<std::string>& bytes, const char* what);

// Progress after a batch (dbsync.report_progress), in the batch's transaction, which the caller
// commits: counts (earlier attempts' plus this one's), checkpoint, a renewed lease — only while
// this executor holds the job. Source write-backs are added per report, so the deltas written
// are tracked here (engine/job_progress.hpp).
class ProgressWriter {
 public:
  ProgressWriter(const ClaimedJob& job, std::string executor, int lease_seconds)
      : job_(job), executor_(std::move(executor)), lease_seconds_(lease_seconds) {}

  struct Written {
    bool lost = false;    // another executor took the job over: write nothing more
    bool cancel = false;  // dbsync.cancel asked it to stop
    std::string xid;      // the transaction that wrote it
  };
  // `stage_mark`: the position of a stage kept outside the catalog (nullopt keeps the recorded
  // one). Planned once per job (a kept statement).
  Result<Written> write(CatalogSession& session, const Progress& p,
                        const std::optional<std::string>& stage_mark = std::nullopt);

  const std::string& executor() const { return executor_; }

 private:
  const ClaimedJob& job_;
  std::string executor_;
  int lease_seconds_;
  ProgressTally tally_;
};

// How the job ended (dbsync.finish_job), in the job's transaction after the last write() (whose
// row lock it relies on). `error`: the row errors of a success, the reason of a failure.
// `pending_conflicts`: for kAwaitingResolution with a stage kept outside the catalog, its count
// (nullopt: the catalog counts its own). Returns the status recorded, nullopt when the job is
// not this executor's (any more).
Result<std::optional<std::string>> finish(CatalogSession& session, int64_t job_id,
                                          const std::string& executor, JobState state,
                                          const std::optional<std::string>& error,
                                          std::optional<int64_t> pending_conflicts = std::nullopt);

// Back to the queue from the last committed checkpoint (a graceful stop); notifies dbsync_jobs.
Result<bool> release(CatalogSession& session, int64_t job_id, const std::string& executor);

// A failure recorded in a transaction of its own (the job's was rolled back). Returns whether it
// was recorded (false: the job is not this executor's, or is finished).
Result<bool> fail(CatalogSession& session, int64_t job_id, const std::string& executor,
                  const std::string& message);

// The stage's server (`where`, e.g. "Redis") is unreachable: back to the queue with a backoff.
// Returns the job's error as recorded; nullopt when the job is not this executor's.
Result<std::optional<std::string>> pause(CatalogSession& session, int64_t job_id,
                                         const std::string& executor, const std::string& where,
                                         const std::string& why);

// A job awaiting decisions with none pending goes back to the queue to commit (notified).
// `pending_conflicts`: a stage kept outside the catalog counts its own; nullopt: the catalog's.
Result<bool> requeue_if_decided(CatalogSession& session, int64_t job_id,
                                std::optional<int64_t> pending_conflicts = std::nullopt);

// "{1,2,3}": a bigint[] parameter.
std::string id_array(const std::vector<int64_t>& ids);

}  // namespace dbsync::jobs
