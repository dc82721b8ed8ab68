// dbsyncd's job runner: claims queued jobs from the master's catalog and runs them
// (daemon/job_runner.hpp), several at once, beside other dbsyncd processes and the extension's
// background workers.
//
// Who takes what (one rule, in claim()):
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
// stop(): running jobs stop after their current batch and are released (status 'queued',
// executor and lease NULL, checkpoint kept) for another executor; then the threads end.
#pragma once

#include <atomic>
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
#include "daemon/job_runner.hpp"

namespace dbsync::daemon {

class JobRunner {
 public:
  // `stages` picks each job's stage (catalog_stage_factory() by default).
  JobRunner(const Config& config, StageFactory stages);
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

  const Config& config_;
  StageFactory stages_;
  std::string executor_;
  std::optional<secrets::Key> key_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> heartbeat_stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;                                        // bumped by every wake-up
  std::map<int64_t, std::shared_ptr<std::atomic<bool>>> running_;  // job -> cancel seen
  std::vector<std::thread> workers_;
  std::thread listener_, heartbeat_;
};

}  // namespace dbsync::daemon
