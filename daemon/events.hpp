// Live job progress for GET /api/jobs/{id}/events (server-sent events). One hub thread polls the
// catalog for every watched job at once — one query per tick, whatever the number of subscribers
// — and wakes the subscribers of the jobs whose state changed. A subscriber is an HTTP pool
// thread blocked in its stream (httplib's chunked content provider): the number of subscribers
// is bounded so that ordinary requests always find a free thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon {

// A job's state as the hub last read it.
struct JobSnapshot {
  uint64_t version = 0;  // bumped at each change; 0: not read yet
  std::string json;      // the job (dbsync.job_list without duration)
  bool final = false;    // succeeded, failed, cancelled, or the job is gone
};

class JobEventHub;

// One subscriber's hold on a job; unsubscribes when destroyed.
class JobSubscription {
 public:
  JobSubscription(JobEventHub& hub, long long job) : hub_(hub), job_(job) {}
  ~JobSubscription();
  JobSubscription(const JobSubscription&) = delete;
  JobSubscription& operator=(const JobSubscription&) = delete;

  enum class Wake { kChanged, kTimeout, kStopping };
  // Waits until the job's state is newer than `seen`, `timeout` passes, or the hub stops.
  Wake wait(uint64_t seen, std::chrono::milliseconds timeout, JobSnapshot& out);
  long long job() const { return job_; }

 private:
  JobEventHub& hub_;
  long long job_;
};

class JobEventHub {
 public:
  // `max_subscribers`: open streams at most (beyond: subscribe() answers nullptr).
  JobEventHub(catalog::Pool& pool, int max_subscribers, std::chrono::milliseconds tick);
  ~JobEventHub();
  JobEventHub(const JobEventHub&) = delete;
  JobEventHub& operator=(const JobEventHub&) = delete;

  void start();
  // Ends the hub thread and wakes every subscriber (their streams end). Idempotent.
  void stop();

  // A subscription to `job`, whose current state (read by the caller) is `initial`; nullptr when
  // the limit is reached or the hub is stopping.
  std::unique_ptr<JobSubscription> subscribe(long long job, const std::string& initial_json,
                                             bool initial_final);

  int max_subscribers() const { return max_; }
  int subscribers() const;
  std::chrono::milliseconds tick() const { return tick_; }
  // Catalog polls done so far (each covers every watched job).
  uint64_t polls() const;

  static bool is_final_status(const std::string& status);

 private:
  friend class JobSubscription;
  struct Watch {
    int subscribers = 0;
    JobSnapshot state;
  };
  void run();
  void poll_once();
  void unsubscribe(long long job);

  catalog::Pool& pool_;
  const int max_;
  const std::chrono::milliseconds tick_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // subscribers wait here
  std::condition_variable wake_;     // the hub thread waits here
  std::map<long long, Watch> watches_;
  int count_ = 0;
  uint64_t polls_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dbsync::daemon
