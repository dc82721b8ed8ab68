// One job run by an executor worker: the sync loaded and checked, its endpoints opened (local
// tables through SPI, remote PostgreSQL through libpq), the engine's SyncExecutor driven with a
// commit after every batch — the target's rows, the baseline, the stage and the job's progress
// and checkpoint commit together (for a remote end: its batch commits first, and re-applying it
// after a crash is harmless, inserts being idempotent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dbsync::ext {

// A job as an executor claimed it (dbsync.jobs).
struct ClaimedJob {
  int64_t id = 0;
  int64_t sync_id = 0;
  std::string step;                              // "run" or "commit"
  std::optional<std::string> checkpoint;         // encode_sortable_key bytes
  std::optional<std::string> source_checkpoint;  // the source key of that point
  // Counts committed by earlier attempts (a resumed job adds to them).
  int64_t scanned = 0, inserted = 0, updated = 0, deleted = 0, unchanged = 0, conflicts = 0,
          errors = 0;
};

// Runs the job inside the current worker transaction (pg/xact.hpp), committing after every
// batch, and records how it ended (succeeded, failed with the engine's error, cancelled,
// awaiting_resolution) in dbsync.jobs before returning. An ERROR raised by PostgreSQL is thrown
// as a PostgresError: the caller aborts the transaction and records the failure.
void run_claimed_job(const ClaimedJob& job);

// Records a failure of `job_id` in a transaction of its own (after the caller aborted).
void record_job_failure(int64_t job_id, const std::string& message);

}  // namespace dbsync::ext
