// The HTTP face of dbsyncd: cpp-httplib with a bounded thread pool, the routes of the API,
// auth, CORS, the request log and metrics. Every handler runs behind one boundary that turns
// any exception into a 500 (and a log line): no request can crash the process.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/api_error.hpp"
#include "daemon/auth.hpp"
#include "daemon/config.hpp"
#include "daemon/db.hpp"
#include "daemon/metrics.hpp"

namespace dbsync::daemon {

// What a handler answers: JSON (the usual), or text with its content type.
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string text;
  std::string content_type;
  std::string location;

  static Reply json(int status, nlohmann::json body) {
    return {status, std::move(body), {}, {}, {}};
  }
  static Reply error(const ApiError& e) { return {e.status, e.body(), {}, {}, {}}; }
  static Reply no_content() { return {204, nullptr, {}, {}, {}}; }
};

// One request's context for a handler.
struct RequestContext {
  RequestContext(const httplib::Request& r, Db& d) : req(r), db(d) {}
  const httplib::Request& req;
  Db& db;
  std::optional<TokenIdentity> who;  // set on /api routes
  // A connection for this request (acquired on first use).
  DbSession* session(ApiError& err);

 private:
  std::unique_ptr<DbSession> session_;
};

class ApiServer {
 public:
  ApiServer(const Config& config, Db& db);

  // Binds the listening socket; returns the port, or -1 (then `error` says why).
  int bind(std::string& error);
  // Serves until stop() (from another thread); in-flight requests finish first.
  bool listen();
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
  HttpMetrics metrics_;
  httplib::Server svr_;
};

}  // namespace dbsync::daemon
