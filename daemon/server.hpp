// The HTTP face of dbsyncd: cpp-httplib with a bounded thread pool, the routes of the API,
// auth, CORS, the request log and metrics. Every handler runs behind one boundary that turns
// any exception into a 500 (and a log line): no request can crash the process.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "daemon/api_error.hpp"
#include "daemon/auth.hpp"
#include "daemon/config.hpp"
#include "daemon/db.hpp"
#include "daemon/events.hpp"
#include "daemon/metrics.hpp"
#include "daemon/redis_conflicts.hpp"

namespace dbsync::daemon {

// What a handler answers: JSON (the usual), or text with its content type.
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string text;
  std::string content_type;
  std::string location;
  // A streamed answer (server-sent events): httplib calls it on the pool thread until it ends
  // the stream (sink.done()) or returns false; `content_type` is its type.
  std::function<bool(size_t offset, httplib::DataSink& sink)> stream;

  static Reply json(int status, nlohmann::json body) {
    return {status, std::move(body), {}, {}, {}, {}};
  }
  static Reply error(const ApiError& e) { return {e.status, e.body(), {}, {}, {}, {}}; }
  static Reply no_content() { return {204, nullptr, {}, {}, {}, {}}; }
};

// One request's context for a handler.
struct RequestContext {
  RequestContext(const httplib::Request& r, Db& d) : req(r), db(d) {}
  const httplib::Request& req;
  Db& db;
  std::optional<TokenIdentity> who;  // set on /api routes
  // A connection for this request (acquired on first use).
  DbSession* session(ApiError& err);
  // Gives the connection back to the pool now (before a long stream).
  void release_session() { session_.reset(); }

 private:
  std::unique_ptr<DbSession> session_;
};

// Settings of the server that the daemon's flags do not carry (yet): the SSE limits.
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
  ApiServer(const Config& config, Db& db, ServerOptions options = {});

  // Binds the listening socket; returns the port, or -1 (then `error` says why).
  int bind(std::string& error);
  // Serves until stop() (from another thread); in-flight requests finish first.
  bool listen();
  // Ends the event streams, then stops the server (in-flight requests finish).
  void stop();

  // The OpenAPI document of the routes (also served at /openapi.json).
  static nlohmann::json openapi();

 private:
  using Handler = std::function<Reply(RequestContext&)>;
  void add(const char* method, const std::string& pattern, const std::string& route,
           Handler handler);
  void routes();
  void serve(const httplib::Request& req, httplib::Response& res, const std::string& route,
             const Handler& handler);
  httplib::Server::HandlerResponse pre_routing(const httplib::Request& req, httplib::Response& res);
  void cors_headers(const httplib::Request& req, httplib::Response& res) const;

  const Config& config_;
  Db& db_;
  ServerOptions options_;
  HttpMetrics metrics_;
  std::unique_ptr<JobEventHub> hub_;
  std::optional<secrets::Key> secret_key_;           // SECRET_KEY, when set
  std::unique_ptr<RedisConflicts> redis_conflicts_;  // conflicts of jobs staged in Redis
  httplib::Server svr_;
};

}  // namespace dbsync::daemon
