// The launcher and the executors (see workers.hpp). Worker entry points are C functions that
// run C++ inside one try/catch: an ERROR raised by PostgreSQL comes back as a PostgresError
// (pg_call), the transaction is aborted, and the loop goes on; a FATAL (terminate, postmaster
// death) ends the process without unwinding, which is fine: nothing of ours needs cleaning up
// that the process exit and the launcher's requeue do not cover.
#include "extension/src/workers.hpp"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/catalog_sql.hpp"
#include "common/job_catalog.hpp"
#include "engine/cron.hpp"
#include "extension/src/job_runner.hpp"
#include "extension/src/module.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/remote.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/spi_catalog_session.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/pg/xact.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PGDLLEXPORT void dbsync_launcher_main(Datum arg);
PGDLLEXPORT void dbsync_executor_main(Datum arg);
}

namespace dbsync::ext {
namespace {

constexpr int kMaxRequests = 32;
constexpr int kMaxExecutors = 64;
constexpr long kLauncherNapMs = 1000;
constexpr int kMaxInterruptions = 5;

enum RequestState : int { kFree = 0, kPending = 1, kAnswered = 2 };

struct RunRequest {
  int state;
  uint64 id;  // unique per request: an answer goes to the request it was computed for
  pid_t requester_pid;
  Latch* requester_latch;
  int64 sync_id;
  char trigger[32];
  char requested_by[NAMEDATALEN];
  // the answer
  int64 job_id;
  bool created;
  int sqlstate;
  char error[512];
};

struct SharedState {
  slock_t mutex;
  pid_t launcher_pid;
  Latch* launcher_latch;
  uint64 next_request_id;
  RunRequest requests[kMaxRequests];
};

SharedState* shared = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

extern "C" void dbsync_shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
}

extern "C" void dbsync_shmem_startup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  shared = static_cast<SharedState*>(ShmemInitStruct("dbsync", sizeof(SharedState), &found));
  if (!found) {
    memset(shared, 0, sizeof(SharedState));
    SpinLockInit(&shared->mutex);
  }
  LWLockRelease(AddinShmemInitLock);
}

void copy_cstr(char* dst, size_t size, const std::string& src) {
  size_t n = std::min(size - 1, src.size());
  memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

std::string num(int64_t v) { return std::to_string(v); }

// ------------------------------------------------------------------------------ launcher

// The launcher's slot in shared memory is cleared when it exits, so backends stop waking it.
extern "C" void clear_launcher(int, Datum) {
  SpinLockAcquire(&shared->mutex);
  if (shared->launcher_pid == MyProcPid) {
    shared->launcher_pid = 0;
    shared->launcher_latch = nullptr;
  }
  SpinLockRelease(&shared->mutex);
}

bool extension_installed() {
  return !pg::spi::query("SELECT 1 FROM pg_extension WHERE extname = 'dbsync'").empty();
}

// Queues the jobs backends asked for, each in a transaction of its own.
void answer_requests() {
  for (int i = 0; i < kMaxRequests; ++i) {
    RunRequest snapshot;
    SpinLockAcquire(&shared->mutex);
    RunRequest& slot = shared->requests[i];
    bool pending = slot.state == kPending;
    if (pending) snapshot = slot;
    // A requester that went away (its wait was interrupted and it died) frees its slot.
    if (slot.state == kAnswered && slot.requester_pid != 0 && kill(slot.requester_pid, 0) != 0)
      slot.state = kFree;
    SpinLockRelease(&shared->mutex);
    if (!pending) continue;

    int64 job_id = 0;
    bool created = false;
    int sqlstate = 0;
    std::string message;
    try {
      pg::xact::begin();
      pg::spi::Rows r =
          pg::spi::query("SELECT job_id, created FROM dbsync.queue_job($1::bigint, $2, $3)",
                         {num(snapshot.sync_id), std::string(snapshot.trigger),
                          std::string(snapshot.requested_by)});
      job_id = std::stoll(r.text(0, 0));
      created = r.text(0, 1) == "t";
      pg::xact::commit();
    } catch (const pg::PgError& e) {
      pg::xact::abort();
      sqlstate = e.sqlstate();
      message = e.what();
    }
    SpinLockAcquire(&shared->mutex);
    RunRequest& answer = shared->requests[i];
    Latch* wake = nullptr;
    // The requester may have given up (its wait was cancelled) and the slot been reused.
    if (answer.state == kPending && answer.id == snapshot.id) {
      answer.job_id = job_id;
      answer.created = created;
      answer.sqlstate = sqlstate;
      copy_cstr(answer.error, sizeof(answer.error), message);
      answer.state = kAnswered;
      wake = answer.requester_latch;
    }
    SpinLockRelease(&shared->mutex);
    if (wake) SetLatch(wake);
  }
}

// Jobs whose executor died (crash, pg_terminate_backend, server restart) go back to the queue
// and resume from their checkpoint; after kMaxInterruptions they fail instead of looping.
// A worker job that a dbsyncd runs (--executors=all; executor 'dbsyncd host:pid') has no
// backend here: it is an orphan only once its lease (renewed by the daemon's heartbeat) ran out.
// The rule is dbsync.requeue_orphaned_jobs's.
void requeue_orphans() {
  pg::xact::begin();
  pg::spi::Rows r = pg::spi::query(catalog_sql::kRequeueOrphanedJobs, {num(kMaxInterruptions)});
  pg::xact::commit();
  for (size_t i = 0; i < r.size(); ++i) {
    std::string msg =
        "dbsync: job " + r.text(i, 0) + " lost its executor (interruption " + r.text(i, 2) + "); " +
        (r.text(i, 1) == "queued" ? "requeued to resume from its checkpoint" : "failed");
    pg::pg_call([&] { elog(LOG, "%s", msg.c_str()); });
  }
}

// Schedules: each due sync gets one job; the firing is recorded with a compare-and-set on
// last_scheduled_at in the same transaction, so it happens once per fire time whoever looks.
void fire_schedules() {
  pg::xact::begin();
  pg::spi::Rows due = pg::spi::query(
      "SELECT id, name, schedule, "
      "  (extract(epoch FROM COALESCE(last_scheduled_at, created_at)) * 1000000)::bigint, "
      "  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, "
      "  COALESCE(last_scheduled_at, created_at)::text "
      "FROM dbsync.syncs WHERE schedule IS NOT NULL AND enabled ORDER BY id");
  for (size_t i = 0; i < due.size(); ++i) {
    Result<CronSchedule> schedule = CronSchedule::parse(due.text(i, 2));
    if (!schedule.is_ok()) continue;  // validated when set; a later zone change is ignored
    int64_t handled = std::stoll(due.text(i, 3));
    int64_t now = std::stoll(due.text(i, 4));
    FireDecision d = decide(*schedule, handled, now);
    if (!d.fire) continue;
    pg::spi::Rows fired = pg::spi::query(
        "UPDATE dbsync.syncs SET last_scheduled_at = to_timestamp($2::double precision / "
        "1000000) WHERE id = $1::bigint AND COALESCE(last_scheduled_at, created_at)::text = $3 "
        "RETURNING (SELECT q.job_id::text || CASE WHEN q.created THEN '' ELSE "
        "  ' already queued or running: not run twice' END "
        "  FROM dbsync.queue_job($1::bigint, 'schedule') q)",
        {due.text(i, 0), num(now), due.text(i, 5)});
    if (fired.empty()) continue;  // someone else recorded this firing
    std::string msg = "dbsync: schedule of sync \"" + due.text(i, 1) + "\" fired (job " +
                      fired.text(0, 0) + ")" +
                      (d.missed > 0 ? ", standing for " + num(d.missed) + " missed runs" : "");
    pg::pg_call([&] { elog(LOG, "%s", msg.c_str()); });
  }
  pg::xact::commit();
}

// Audit retention (dbsync.prune_audit, setting audit.keep_days): about once an hour; while a
// backlog lasts, one bounded chunk per launcher round, so the launcher keeps answering.
constexpr long kAuditPruneIntervalMs = 3600L * 1000L;
constexpr int kAuditPruneChunk = 1000;
TimestampTz next_audit_prune = 0;

void prune_audit() {
  const TimestampTz now = pg::pg_call([] { return GetCurrentTimestamp(); });
  if (now < next_audit_prune) return;
  // Set before: a prune that fails (say, a bad setting) is tried again in an hour, not each round.
  next_audit_prune = TimestampTzPlusMilliseconds(now, kAuditPruneIntervalMs);
  pg::xact::begin();
  pg::spi::Rows r =
      pg::spi::query("SELECT dbsync.prune_audit($1::integer)", {num(kAuditPruneChunk)});
  const int64 deleted = std::stoll(r.text(0, 0));
  pg::xact::commit();
  if (deleted >= kAuditPruneChunk) next_audit_prune = now;  // more to delete: next round
  if (deleted > 0) {
    std::string msg = "dbsync launcher: audit retention deleted " + num(deleted) + " audit rows";
    pg::pg_call([&] { elog(LOG, "%s", msg.c_str()); });
  }
}

int64 queued_worker_jobs() {
  pg::xact::begin();
  pg::spi::Rows r = pg::spi::query(catalog_sql::kReadyWorkerJobs);
  pg::xact::commit();
  return std::stoll(r.text(0, 0));
}

struct ExecutorPool {
  std::array<BackgroundWorkerHandle*, kMaxExecutors> handles{};

  int running() {
    int n = 0;
    for (auto*& h : handles) {
      if (!h) continue;
      pid_t pid;
      BgwHandleStatus st = pg::pg_call([&] { return GetBackgroundWorkerPid(h, &pid); });
      if (st == BGWH_STOPPED || st == BGWH_POSTMASTER_DIED) {
        pg::pg_call([&] { pfree(h); });
        h = nullptr;
      } else {
        ++n;
      }
    }
    return n;
  }

  void start(int wanted) {
    for (auto*& h : handles) {
      if (wanted <= 0) break;
      if (h) continue;
      BackgroundWorker worker;
      memset(&worker, 0, sizeof(worker));
      worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
      worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
      worker.bgw_restart_time = BGW_NEVER_RESTART;
      snprintf(worker.bgw_library_name, BGW_MAXLEN, "dbsync");
      snprintf(worker.bgw_function_name, BGW_MAXLEN, "dbsync_executor_main");
      snprintf(worker.bgw_name, BGW_MAXLEN, "dbsync executor");
      snprintf(worker.bgw_type, BGW_MAXLEN, "dbsync executor");
      worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
      worker.bgw_notify_pid = MyProcPid;
      BackgroundWorkerHandle* handle = nullptr;
      bool ok = pg::pg_call([&] { return RegisterDynamicBackgroundWorker(&worker, &handle); });
      if (!ok) {
        pg::pg_call([&] {
          elog(WARNING,
               "dbsync: could not start an executor (max_worker_processes is too low for "
               "dbsync.max_workers)");
        });
        return;
      }
      h = handle;
      --wanted;
    }
  }
};

void launcher_loop() {
  ExecutorPool pool;
  bool announced = false;
  for (;;) {
    pg::pg_call([&] {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kLauncherNapMs,
                      PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
      if (ConfigReloadPending) {
        ConfigReloadPending = false;
        ProcessConfigFile(PGC_SIGHUP);
      }
    });
    try {
      pg::xact::begin();
      bool installed = extension_installed();
      pg::xact::commit();
      if (!installed) {
        // Nothing to serve yet (e.g. CREATE EXTENSION not committed): a request waits until it
        // is, and its requester gives up after 30 s saying the launcher did not answer.
        continue;
      }
      if (!announced) {
        pg::pg_call(
            [&] { elog(LOG, "dbsync launcher: serving database \"%s\"", settings.database); });
        announced = true;
      }
      answer_requests();
      requeue_orphans();
      fire_schedules();
      prune_audit();
      int running = pool.running();
      int64 queued = queued_worker_jobs();
      int limit = std::min(settings.max_workers, kMaxExecutors);
      if (queued > 0 && running < limit)
        pool.start(static_cast<int>(std::min<int64>(queued, limit - running)));
    } catch (const pg::PgError& e) {
      pg::xact::abort();
      std::string msg = std::string("dbsync launcher: ") + e.what();
      pg::pg_call([&] { elog(WARNING, "%s", msg.c_str()); });
    }
  }
}

// ------------------------------------------------------------------------------ executors

// This executor as dbsync.jobs.executor names it (the launcher finds its backend by that name).
std::string executor_name() { return "worker " + num(MyProcPid); }

// Claims the next queued worker job of the catalog stage (dbsync.claim_job: executors never take
// the same one).
std::optional<ClaimedJob> claim() {
  pg::xact::begin();
  pg::SpiCatalogSession catalog;
  jobs::ClaimRule rule;
  rule.executor = executor_name();
  rule.lease_seconds = kWorkerLeaseSeconds;
  rule.kind = "worker";
  std::optional<ClaimedJob> job = pg::value_or_throw(jobs::claim(catalog, rule));
  pg::xact::commit();
  return job;
}

void executor_loop() {
  for (;;) {
    pg::pg_call([&] {
      CHECK_FOR_INTERRUPTS();
      if (ConfigReloadPending) {
        ConfigReloadPending = false;
        ProcessConfigFile(PGC_SIGHUP);
      }
    });
    std::optional<ClaimedJob> job = claim();
    if (!job) return;
    std::string activity = "dbsync job " + num(job->id);
    pg::pg_call([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
    std::string failure;
    try {
      pg::xact::begin();
      run_claimed_job(*job, executor_name());
      pg::xact::commit();
    } catch (const pg::PgError& e) {
      failure = e.what();
      if (!e.detail().empty()) failure += " (" + e.detail() + ")";
    } catch (const std::exception& e) {
      failure = std::string("internal error: ") + e.what();
    }
    if (!failure.empty()) {
      pg::xact::abort();
      record_job_failure(job->id, executor_name(), failure);
    }
    pg::pg_call([&] { pgstat_report_activity(STATE_IDLE, nullptr); });
  }
}

// Runs `body` as a worker's main: any exception ends the worker with its message in the log.
template <typename F>
void worker_main(const char* what, F&& body) {
  static pg::CaughtError caught;
  bool failed = false;
  try {
    body();
  } catch (...) {
    pg::capture(caught, std::current_exception());
    failed = true;
  }
  if (failed) {
    // No C++ frame of ours is live past here.
    ereport(FATAL, (errcode(caught.sqlstate), errmsg("%s: %s", what, caught.message)));
  }
}

void setup_signals() {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
}

}  // namespace

void register_workers() {
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = dbsync_shmem_request;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = dbsync_shmem_startup;

  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 5;
  snprintf(worker.bgw_library_name, BGW_MAXLEN, "dbsync");
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "dbsync_launcher_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "dbsync launcher");
  snprintf(worker.bgw_type, BGW_MAXLEN, "dbsync launcher");
  RegisterBackgroundWorker(&worker);
}

RunAnswer request_run(int64_t sync_id, const std::string& trigger,
                      const std::string& requested_by) {
  if (!preloaded || shared == nullptr)
    throw pg::PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      "dbsync is not loaded through shared_preload_libraries", "",
                      "Add dbsync to shared_preload_libraries in postgresql.conf, set "
                      "dbsync.database to this database, and restart the server.");
  std::string here = pg::pg_call([&] {
    char* name = get_database_name(MyDatabaseId);
    return std::string(name ? name : "");
  });
  if (here != settings.database)
    throw pg::PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      "dbsync's workers serve database \"" + std::string(settings.database) +
                          "\", not \"" + here + "\"",
                      "", "Set dbsync.database = '" + here + "' and restart the server.");

  int slot = -1;
  Latch* launcher = nullptr;
  SpinLockAcquire(&shared->mutex);
  for (int i = 0; i < kMaxRequests && slot < 0; ++i) {
    if (shared->requests[i].state != kFree) continue;
    RunRequest& r = shared->requests[i];
    memset(&r, 0, sizeof(r));
    r.state = kPending;
    r.id = ++shared->next_request_id;
    r.requester_pid = MyProcPid;
    r.requester_latch = MyLatch;
    r.sync_id = sync_id;
    copy_cstr(r.trigger, sizeof(r.trigger), trigger);
    copy_cstr(r.requested_by, sizeof(r.requested_by), requested_by);
    slot = i;
  }
  launcher = shared->launcher_latch;
  SpinLockRelease(&shared->mutex);
  if (slot < 0)
    throw pg::PgError(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                      "too many dbsync.run calls waiting for the launcher; try again");
  if (launcher) SetLatch(launcher);

  auto release = [&] {
    SpinLockAcquire(&shared->mutex);
    shared->requests[slot].state = kFree;
    SpinLockRelease(&shared->mutex);
  };
  RunRequest answer;
  const TimestampTz deadline = GetCurrentTimestamp() + 30 * USECS_PER_SEC;
  try {
    for (;;) {
      SpinLockAcquire(&shared->mutex);
      bool done = shared->requests[slot].state == kAnswered;
      if (done) answer = shared->requests[slot];
      bool launcher_up = shared->launcher_pid != 0;
      SpinLockRelease(&shared->mutex);
      if (done) break;
      if (GetCurrentTimestamp() > deadline)
        throw pg::PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                          launcher_up ? "the dbsync launcher did not answer within 30 seconds"
                                      : "the dbsync launcher is not running",
                          "", "See the server log for \"dbsync launcher\".");
      pg::pg_call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      });
    }
  } catch (...) {
    release();
    throw;
  }
  release();
  if (answer.sqlstate != 0)
    throw pg::PgError(answer.sqlstate, std::string("could not queue a job: ") + answer.error);
  return RunAnswer{answer.job_id, answer.created};
}

namespace {
bool wake_registered = false;
bool wake_pending = false;

extern "C" void dbsync_xact_callback(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT && wake_pending && shared != nullptr) {
    SpinLockAcquire(&shared->mutex);
    Latch* launcher = shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    if (launcher) SetLatch(launcher);
  }
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) wake_pending = false;
}
}  // namespace

void wake_launcher_at_commit() {
  if (shared == nullptr) return;
  if (!wake_registered) {
    pg::pg_call([&] { RegisterXactCallback(dbsync_xact_callback, nullptr); });
    wake_registered = true;
  }
  wake_pending = true;
}

}  // namespace dbsync::ext

using namespace dbsync;

extern "C" void dbsync_launcher_main(Datum) {
  ext::setup_signals();
  BackgroundWorkerInitializeConnection(ext::settings.database, nullptr, 0);
  SpinLockAcquire(&ext::shared->mutex);
  bool other = ext::shared->launcher_pid != 0 && kill(ext::shared->launcher_pid, 0) == 0 &&
               ext::shared->launcher_pid != MyProcPid;
  if (!other) {
    ext::shared->launcher_pid = MyProcPid;
    ext::shared->launcher_latch = MyLatch;
  }
  SpinLockRelease(&ext::shared->mutex);
  if (other) proc_exit(0);
  before_shmem_exit(ext::clear_launcher, 0);
  pgstat_report_appname("dbsync launcher");
  ext::worker_main("dbsync launcher", [] { ext::launcher_loop(); });
  proc_exit(0);
}

extern "C" void dbsync_executor_main(Datum arg) {
  ext::setup_signals();
  BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
  // Executors run many short statements (pages, lookups, baseline batches) whose estimated cost
  // can pass jit_above_cost: compiling them costs more than running them.
  SetConfigOption("jit", "off", PGC_USERSET, PGC_S_SESSION);
  // Each batch allocates and frees the same few large buffers (the batch's rows and changes,
  // COPY text, baseline arrays). Past glibc's mmap threshold every one is a fresh mapping, its
  // pages faulted in and unmapped again, batch after batch (about 6% of a load's CPU in the
  // kernel): keep them on the heap, and the heap's top unless much of it is free.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  pgstat_report_appname("dbsync executor");
  dbsync::pg::use_backend_socket_wait();  // remote ends wait on the latch too
  ext::worker_main("dbsync executor", [] { ext::executor_loop(); });
  proc_exit(0);
}
