// dbsyncd's API server: the HTTP server (daemon/http/) with every resource's routes
// (daemon/api/*.cpp) and what they share: the event hub of the job streams, the conflicts
// staged in Redis, SECRET_KEY, the metrics.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/secrets.hpp"
#include "daemon/api/api.hpp"
#include "daemon/catalog/db.hpp"
#include "daemon/config.hpp"
#include "daemon/events.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/server.hpp"
#include "daemon/runner/redis_conflicts.hpp"

namespace dbsync::daemon {

// The event streams' settings: the limit (--sse-max-subscribers) and the timings, which only
// tests change.
struct ServerOptions {
  // Open /api/jobs/{id}/events streams at most; beyond, 503. -1: derived from --workers,
  // workers - max(2, workers / 4), so that a quarter of the pool (at least two threads) is
  // always left to ordinary requests.
  int sse_max_subscribers = -1;
  std::chrono::milliseconds sse_tick{250};        // the hub's catalog poll
  std::chrono::milliseconds sse_heartbeat{5000};  // a comment line when nothing changed
};

class ApiServer {
 public:
  ApiServer(const Config& config, catalog::Pool& pool, ServerOptions options = {});
  ~ApiServer();

  // Binds the listening socket; returns the port, or -1 (then `error` says why).
  int bind(std::string& error);
  // Serves until stop() (from another thread); in-flight requests finish first.
  bool listen();
  // Ends the event streams, then stops the server (in-flight requests finish).
  void stop();

  const Router& router() const { return router_; }

 private:
  std::optional<secrets::Key> secret_key_;  // SECRET_KEY, when set
  HttpMetrics metrics_;
  std::unique_ptr<JobEventHub> hub_;
  std::unique_ptr<RedisConflicts> redis_conflicts_;  // conflicts of jobs staged in Redis
  std::unique_ptr<api::Services> services_;
  Router router_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace dbsync::daemon
