// dbsync's background workers and what backends ask of them.
//
// One launcher (a static worker, started with the server when dbsync is in
// shared_preload_libraries) serves the database named by dbsync.database. Once a second, or
// when its latch is set, it:
//   - answers run requests from backends (dbsync.run): it queues the job in a transaction of its
//     own, so executors see it at once whatever the caller's transaction does next;
//   - requeues jobs whose executor died (a crash, pg_terminate_backend) so they resume from
//     their checkpoint;
//   - fires cron schedules (engine/cron decide(): missed runs become one run; the firing is
//     recorded with a compare-and-set on syncs.last_scheduled_at, so it never fires twice);
//   - starts executor workers (dynamic) while worker jobs are queued, up to dbsync.max_workers.
// Executors claim queued jobs (FOR UPDATE SKIP LOCKED), run them (job_runner.hpp) and exit when
// the queue is empty.
#pragma once

#include <cstdint>
#include <string>

namespace dbsync::ext {

// Shared memory and the launcher's registration; called from _PG_init when preloaded.
void register_workers();

// The answer of the launcher to a run request.
struct RunAnswer {
  int64_t job_id = 0;
  bool created = false;  // false: the sync's unfinished job was returned
};

// Asks the launcher to queue a job for `sync_id` and waits for its answer (interruptible).
// Throws a PgError when dbsync is not preloaded, this is not dbsync.database, the launcher does
// not answer, or queueing failed.
RunAnswer request_run(int64_t sync_id, const std::string& trigger, const std::string& requested_by);

// Wakes the launcher when the current transaction commits (a job became ready to commit).
void wake_launcher_at_commit();

}  // namespace dbsync::ext
