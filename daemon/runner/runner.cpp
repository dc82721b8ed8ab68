#include "daemon/runner/runner.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "common/catalog_sql.hpp"
#include "common/pq_catalog_session.hpp"
#include "daemon/log.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

constexpr int kMaxInterruptions = 5;
constexpr int kMaxBackoffSeconds = 30;

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// One line: libpq's messages span several.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int64_t to_int(std::string_view s) { return std::strtoll(std::string(s).c_str(), nullptr, 10); }

// The next job for this runner (see runner.hpp for the rule: dbsync.claim_job's), or none.
Result<std::optional<ClaimedJob>> claim(pg::PgConnection& conn, bool all,
                                        const std::string& executor, int lease_seconds) {
  PqCatalogSession catalog(conn);
  jobs::ClaimRule rule;
  rule.executor = executor;
  rule.lease_seconds = lease_seconds;
  if (!all) rule.kind = "daemon";
  rule.take_over = true;  // jobs of a dbsyncd that died
  rule.max_interruptions = kMaxInterruptions;
  return jobs::claim(catalog, rule);
}

}  // namespace

JobRunner::JobRunner(const Config& config, StageFactory stages, StageJanitor janitor)
    : config_(config),
      stages_(std::move(stages)),
      janitor_(std::move(janitor)),
      executor_("dbsyncd " + host_name() + ":" + std::to_string(::getpid())) {}

JobRunner::~JobRunner() { stop(); }

Status JobRunner::start() {
  if (!config_.secret_key_hex.empty()) {
    Result<secrets::Key> key = secrets::parse_key(config_.secret_key_hex);
    if (!key.is_ok())
      return error(ErrorCode::kInvalidArgument, "SECRET_KEY: " + key.status().message());
    key_ = std::move(key).value();
  }
  if (config_.runners <= 0) return Status::ok();
  listener_ = std::thread([this] { listen_loop(); });
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
  for (int i = 0; i < config_.runners; ++i) workers_.emplace_back([this] { work_loop(); });
  log_event(LogLevel::kInfo, "job runner started",
            {{"executor", executor_},
             {"executors", config_.executors_all ? "all" : "daemon"},
             {"runners", config_.runners},
             {"lease_seconds", config_.lease_seconds}});
  return Status::ok();
}

void JobRunner::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty() && !listener_.joinable()) return;
    stopping_ = true;
    ++generation_;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  // The heartbeat keeps the leases of releasing jobs until every worker ended.
  heartbeat_stop_ = true;
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (listener_.joinable()) listener_.join();
}

void JobRunner::sleep_unless_stopping(int seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return stopping_.load(); });
}

void JobRunner::wait_for_work(uint64_t seen, int seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(seconds),
               [&] { return stopping_.load() || generation_ != seen; });
}

void JobRunner::maybe_sweep(pg::PgConnection& conn) {
  if (!janitor_) return;
  const int every = std::max(1, config_.poll_seconds);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sweeping_ || stopping_ || std::chrono::steady_clock::now() < next_sweep_) return;
    sweeping_ = true;
  }
  Result<int64_t> swept = error(ErrorCode::kInternal, "not run");
  try {
    swept = janitor_(conn, key_ ? &*key_ : nullptr);
  } catch (const std::exception& e) {
    swept = error(ErrorCode::kInternal, std::string("internal error: ") + e.what());
  }
  conn.rollback_quietly();
  int retry = every;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sweeping_ = false;
    sweep_backoff_ = swept.is_ok() ? 0 : std::min(60, std::max(every, sweep_backoff_ * 2));
    if (!swept.is_ok()) retry = sweep_backoff_;
    next_sweep_ = std::chrono::steady_clock::now() + std::chrono::seconds(retry);
  }
  if (!swept.is_ok())
    log_event(LogLevel::kWarn, "stage janitor: could not clean up after finished jobs",
              {{"error", one_line(swept.status().message())}, {"retry_in_seconds", retry}});
  else if (*swept > 0)
    log_event(LogLevel::kInfo, "stage janitor: deleted the stage keys of finished jobs",
              {{"jobs", *swept}});
}

void JobRunner::listen_loop() {
  int backoff = 1;
  while (!stopping_) {
    Result<pg::PgConnection> c = pg::PgConnection::connect(config_.database_url, 10);
    Status st = c.is_ok() ? c->exec("LISTEN dbsync_jobs") : c.status();
    if (!st.is_ok()) {
      log_event(LogLevel::kWarn, "job listener: the master is unreachable",
                {{"error", one_line(st.message())}, {"retry_in_seconds", backoff}});
      sleep_unless_stopping(backoff);
      backoff = std::min(backoff * 2, kMaxBackoffSeconds);
      continue;
    }
    backoff = 1;
    log_event(LogLevel::kDebug, "job listener: listening on dbsync_jobs");
    {
      // Jobs may have been queued while no one listened.
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
    PGconn* raw = c->raw();
    while (!stopping_) {
      pollfd p{PQsocket(raw), POLLIN, 0};
      int n = ::poll(&p, 1, 500);
      if (n < 0 && errno != EINTR) break;
      if (n > 0) {
        if (PQconsumeInput(raw) != 1) break;
        bool any = false;
        while (PGnotify* note = PQnotifies(raw)) {
          PQfreemem(note);
          any = true;
        }
        if (any) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            ++generation_;
          }
          cv_.notify_all();
        }
      }
      if (PQstatus(raw) != CONNECTION_OK) break;
    }
    if (!stopping_)
      log_event(LogLevel::kWarn, "job listener: lost the master connection; reconnecting");
  }
}

void JobRunner::heartbeat_loop() {
  const int every = std::max(1, config_.lease_seconds / 3);
  pg::PgConnection conn;
  while (!heartbeat_stop_) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(every), [&] { return heartbeat_stop_.load(); });
    }
    if (heartbeat_stop_) break;
    std::string ids;
    std::map<int64_t, std::shared_ptr<std::atomic<bool>>> flags;
    {
      std::lock_guard<std::mutex> lock(mu_);
      flags = running_;
    }
    if (flags.empty()) continue;
    for (const auto& [id, flag] : flags) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    if (!conn.is_open() || PQstatus(conn.raw()) != CONNECTION_OK) {
      Result<pg::PgConnection> c = pg::PgConnection::connect(config_.database_url, 10);
      if (!c.is_ok()) {
        log_event(LogLevel::kWarn, "heartbeat: the master is unreachable",
                  {{"error", one_line(c.status().message())}});
        continue;
      }
      conn = std::move(c).value();
      if (Status st = use_catalog_search_path(conn); !st.is_ok()) {
        log_event(LogLevel::kWarn, "heartbeat: the master is unreachable",
                  {{"error", one_line(st.message())}});
        conn = pg::PgConnection();
        continue;
      }
    }
    // A job row locked by its own batch is skipped: that batch renews the lease itself.
    Result<pg::PgResult> r = conn.query(catalog_sql::kRenewLeases,
                                        {PgParam::text("{" + ids + "}"), PgParam::text(executor_),
                                         PgParam::text(std::to_string(config_.lease_seconds))});
    if (!r.is_ok()) {
      log_event(LogLevel::kWarn, "heartbeat failed", {{"error", one_line(r.status().message())}});
      conn = pg::PgConnection();
      continue;
    }
    for (int i = 0; i < r->rows(); ++i) {
      auto it = flags.find(to_int(r->get(i, 0)));
      if (it != flags.end() && r->get(i, 1) == "t") *it->second = true;
    }
  }
}

void JobRunner::work_loop() {
  pg::PgConnection conn;
  int backoff = 1;
  while (!stopping_) {
    if (!conn.is_open() || PQstatus(conn.raw()) != CONNECTION_OK) {
      Result<pg::PgConnection> c = pg::PgConnection::connect(config_.database_url, 10);
      if (!c.is_ok()) {
        log_event(LogLevel::kWarn, "job runner: the master is unreachable",
                  {{"error", one_line(c.status().message())}, {"retry_in_seconds", backoff}});
        sleep_unless_stopping(backoff);
        backoff = std::min(backoff * 2, kMaxBackoffSeconds);
        continue;
      }
      // Its search_path stays the role's: dbsync.check_sync_privileges resolves the sync's
      // table names as the extension's workers do.
      conn = std::move(c).value();
      backoff = 1;
    }
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = generation_;
    }
    Result<std::optional<ClaimedJob>> job =
        claim(conn, config_.executors_all, executor_, config_.lease_seconds);
    if (!job.is_ok()) {
      log_event(LogLevel::kWarn, "job runner: claiming failed",
                {{"error", one_line(job.status().message())}});
      conn = pg::PgConnection();
      sleep_unless_stopping(backoff);
      backoff = std::min(backoff * 2, kMaxBackoffSeconds);
      continue;
    }
    if (!*job) {
      maybe_sweep(conn);
      wait_for_work(seen, config_.poll_seconds);
      continue;
    }
    const ClaimedJob& claimed = **job;
    auto cancel_seen = std::make_shared<std::atomic<bool>>(false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_[claimed.id] = cancel_seen;
    }
    log_event(LogLevel::kInfo, claimed.resumed ? "job resumed" : "job claimed",
              {{"job", claimed.id}, {"sync", claimed.sync_id}, {"step", claimed.step}});
    JobContext ctx;
    ctx.master_conninfo = config_.database_url;
    ctx.key = key_ ? &*key_ : nullptr;
    ctx.executor = executor_;
    ctx.lease_seconds = config_.lease_seconds;
    ctx.stopping = [this] { return stopping_.load(); };
    ctx.cancel_seen = [cancel_seen] { return cancel_seen->load(); };
    JobResult result;
    try {
      result = run_job(conn, claimed, ctx, stages_);
    } catch (const std::exception& e) {
      // Not a database failure (those are values): a bug; the job fails with it.
      result = JobResult{JobEnd::kFinished, "failed", std::string("internal error: ") + e.what()};
      conn.rollback_quietly();
      (void)record_job_failure(conn, claimed.id, executor_, result.error);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(claimed.id);
    }
    nlohmann::json fields{{"job", claimed.id}, {"status", result.status}};
    if (!result.error.empty()) fields["error"] = one_line(result.error);
    log_event(result.end == JobEnd::kLost ? LogLevel::kWarn : LogLevel::kInfo,
              result.end == JobEnd::kReleased ? "job released"
              : result.end == JobEnd::kLost   ? "job lost"
                                              : "job ended",
              fields);
    maybe_sweep(conn);
  }
}

}  // namespace dbsync::daemon
