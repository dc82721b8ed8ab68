// The HTTP server of dbsyncd: cpp-httplib with a bounded thread pool, and what every request
// goes through whatever its route: CORS, the bearer-token check of /api routes, the router
// (daemon/http/router.hpp), the request log and metrics, and the error boundary — any
// exception becomes a 500 JSON answer and a log line; no request can crash the process.
#pragma once

#include <httplib.h>

#include <string>
#include <vector>

#include "daemon/catalog/db.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"

namespace dbsync::daemon {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int threads = 8;
  int keep_alive_seconds = 2;
  size_t max_body_bytes = 1 << 20;
  std::vector<std::string> cors_origins;  // "*" for any
};

class HttpServer {
 public:
  // `router`, `pool` and `metrics` outlive the server.
  HttpServer(HttpOptions options, const Router& router, catalog::Pool& pool, HttpMetrics& metrics);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; returns the port, or -1 (then `error` says why).
  int bind(std::string& error);
  // Serves until stop() (from another thread); in-flight requests finish first.
  bool listen();
  void stop();

 private:
  void serve(const httplib::Request& req, httplib::Response& res);
  httplib::Server::HandlerResponse pre_routing(const httplib::Request& req, httplib::Response& res);
  void cors_headers(const httplib::Request& req, httplib::Response& res) const;
  void log_request(const httplib::Request& req, const httplib::Response& res);

  HttpOptions options_;
  const Router& router_;
  catalog::Pool& pool_;
  HttpMetrics& metrics_;
  httplib::Server svr_;
};

}  // namespace dbsync::daemon
