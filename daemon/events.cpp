#include "daemon/events.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "daemon/catalog/jobs.hpp"
#include "daemon/log.hpp"

namespace dbsync::daemon {

JobSubscription::~JobSubscription() { hub_.unsubscribe(job_); }

JobSubscription::Wake JobSubscription::wait(uint64_t seen, std::chrono::milliseconds timeout,
                                            JobSnapshot& out) {
  std::unique_lock<std::mutex> lock(hub_.mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (hub_.stopping_) return Wake::kStopping;
    const JobSnapshot& s = hub_.watches_[job_].state;
    if (s.version > seen) {
      out = s;
      return Wake::kChanged;
    }
    if (hub_.changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      const JobSnapshot& again = hub_.watches_[job_].state;
      if (hub_.stopping_) return Wake::kStopping;
      if (again.version > seen) {
        out = again;
        return Wake::kChanged;
      }
      return Wake::kTimeout;
    }
  }
}

JobEventHub::JobEventHub(catalog::Pool& pool, int max_subscribers, std::chrono::milliseconds tick)
    : pool_(pool), max_(max_subscribers), tick_(tick) {}

JobEventHub::~JobEventHub() { stop(); }

void JobEventHub::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void JobEventHub::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool JobEventHub::is_final_status(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

std::unique_ptr<JobSubscription> JobEventHub::subscribe(long long job,
                                                        const std::string& initial_json,
                                                        bool initial_final) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || count_ >= max_) return nullptr;
    ++count_;
    Watch& w = watches_[job];
    ++w.subscribers;
    // The caller's read is the first state unless the hub already has one.
    if (w.state.version == 0) w.state = JobSnapshot{1, initial_json, initial_final};
  }
  wake_.notify_all();
  return std::make_unique<JobSubscription>(*this, job);
}

void JobEventHub::unsubscribe(long long job) {
  std::lock_guard<std::mutex> lock(mu_);
  --count_;
  auto it = watches_.find(job);
  if (it != watches_.end() && --it->second.subscribers <= 0) watches_.erase(it);
}

int JobEventHub::subscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

uint64_t JobEventHub::polls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return polls_;
}

void JobEventHub::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (watches_.empty()) {
      wake_.wait(lock);  // nothing to watch: no query at all
      continue;
    }
    lock.unlock();
    poll_once();
    lock.lock();
    if (!stopping_) wake_.wait_for(lock, tick_);
  }
}

void JobEventHub::poll_once() {
  std::vector<long long> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [job, w] : watches_) ids.push_back(job);
  }
  if (ids.empty()) return;
  std::string failed;
  std::map<long long, std::pair<std::string, bool>> seen;
  if (auto conn = pool_.acquire(std::chrono::milliseconds(1000)); !conn.is_ok()) {
    failed = conn.failure().message;
  } else if (auto states = catalog::job_states(conn.value().pg(), ids); !states.is_ok()) {
    failed = states.failure().message;
  } else {
    for (catalog::JobState& s : states.value())
      seen[s.id] = {std::move(s.json), is_final_status(s.status)};
  }
  if (!failed.empty()) {
    // The master is away: subscribers keep their heartbeat; the next tick tries again.
    log_event(LogLevel::kWarn, "events_poll_failed", {{"message", failed}});
    std::lock_guard<std::mutex> lock(mu_);
    ++polls_;
    return;
  }
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++polls_;
    for (auto& [job, w] : watches_) {
      auto it = seen.find(job);
      std::string json;
      bool final = true;
      if (it != seen.end()) {
        json = it->second.first;
        final = it->second.second;
      } else {
        // Deleted with its sync while watched: the stream ends.
        json = "{\"id\": " + std::to_string(job) + ", \"status\": \"deleted\"}";
      }
      if (json == w.state.json && final == w.state.final) continue;
      w.state = JobSnapshot{w.state.version + 1, std::move(json), final};
      any = true;
    }
  }
  if (any) changed_.notify_all();
}

}  // namespace dbsync::daemon
