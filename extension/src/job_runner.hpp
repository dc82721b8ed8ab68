// One job run by an executor worker: the sync loaded and checked, its endpoints opened (local
// tables through SPI, remote PostgreSQL through libpq), the engine's SyncExecutor driven with a
// commit after every batch — the target's rows, the baseline, the stage and the job's progress
// and checkpoint commit together (for a remote end: its batch commits first, and re-applying it
// after a crash is harmless, inserts being idempotent).
#pragma once

#include <cstdint>
#include <string>

#include "common/job_catalog.hpp"

namespace dbsync::ext {

using jobs::ClaimedJob;

// The lease a worker takes on its job, renewed with each batch (a worker has no heartbeat: the
// launcher requeues the job of a worker that died, whatever its lease).
constexpr int kWorkerLeaseSeconds = 300;

// Runs the job, claimed by `executor` ('worker <pid>'), inside the current worker transaction
// (pg/xact.hpp), committing after every batch, and records how it ended (succeeded, failed with
// the engine's error, cancelled, awaiting_resolution) in dbsync.jobs before returning (the job
// lifecycle: common/job_catalog.hpp). A job another executor took over meanwhile is left alone:
// the batch under way is rolled back and nothing more is written. An ERROR raised by PostgreSQL
// is thrown as a PostgresError: the caller aborts the transaction and records the failure.
void run_claimed_job(const ClaimedJob& job, const std::string& executor);

// Records a failure of `job_id` in a transaction of its own (after the caller aborted).
void record_job_failure(int64_t job_id, const std::string& executor, const std::string& message);

}  // namespace dbsync::ext
