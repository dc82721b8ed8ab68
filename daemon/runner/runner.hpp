// dbsyncd's job runner: claims queued jobs from the master's catalog and runs them
// (daemon/runner/job_runner.hpp), several at once, beside other dbsyncd processes and the
// extension's background workers.
//
// Who takes what (one rule, dbsync.claim_job's, in extension/sql/dbsync.sql):
//  - a queued job whose not_before has come: executor_kind 'daemon' always, any kind with
//    --executors=all. FOR UPDATE SKIP LOCKED: two executors never claim the same job.
//  - a running or committing job whose lease ran out and whose executor is a dbsyncd
//    ('dbsyncd host:pid') or nobody: its daemon died (kill -9, a lost machine). It resumes from
//    its checkpoint with interruptions + 1; at 5 interruptions it fails instead.
//  - never a job held by a background worker ('worker <pid>'): the extension's launcher knows
//    whether that backend lives (and leaves daemon-run jobs to their lease).
// A claimed job carries executor = 'dbsyncd <host>:<pid>' and lease_until; the lease is renewed
// after each batch and by a heartbeat every third of --lease-seconds, which also notices
// cancel_requested. A runner whose lease was taken over stops writing (the job is not ours).
//
// Wake-ups: LISTEN dbsync_jobs on a connection of its own (reconnecting with capped backoff
// when the master goes away) and a poll every --poll-seconds.
//
// Janitor: a worker with nothing to run (or one that just finished a job) runs the
// StageJanitor, one worker at a time, at most once per --poll-seconds; after a failure (Redis
// down) the next attempt waits twice as long each time, up to 60 s. Its failures are logged,
// never fatal; jobs are never held up by it.
//
// stop(): running jobs stop after their current batch and are released (status 'queued',
// executor and lease NULL, checkpoint kept) for another executor; then the threads end.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/secrets.hpp"
#include "daemon/config.hpp"
#include "daemon/runner/job_runner.hpp"

namespace dbsync::daemon {

class JobRunner {
 public:
  // `stages` picks each job's stage (catalog_stage_factory() by default); `janitor` (optional)
  // cleans up after finished jobs' stages (redis_stage_janitor()).
  JobRunner(const Config& config, StageFactory stages, StageJanitor janitor = {});
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;
  ~JobRunner();

  // SECRET_KEY is checked here (a bad key: kInvalidArgument); threads start.
  Status start();
  // Graceful: running jobs release after their batch; returns once every thread ended.
  void stop();

  const std::string& executor() const { return executor_; }

 private:
  void listen_loop();
  void work_loop();
  void heartbeat_loop();
  // Waits up to `seconds` or until woken (a notification, stop) after generation `seen`.
  void wait_for_work(uint64_t seen, int seconds);
  void sleep_unless_stopping(int seconds);
  // Runs the janitor when it is due and no other worker runs it.
  void maybe_sweep(pg::PgConnection& conn);

  const Config& config_;
  StageFactory stages_;
  StageJanitor janitor_;
  std::string executor_;
  std::optional<secrets::Key> key_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> heartbeat_stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;                                        // bumped by every wake-up
  std::map<int64_t, std::shared_ptr<std::atomic<bool>>> running_;  // job -> cancel seen
  bool sweeping_ = false;                                          // under mu_
  std::chrono::steady_clock::time_point next_sweep_{};             // under mu_
  int sweep_backoff_ = 0;                                          // seconds, under mu_
  std::vector<std::thread> workers_;
  std::thread listener_, heartbeat_;
};

}  // namespace dbsync::daemon
