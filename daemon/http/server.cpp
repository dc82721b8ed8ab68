#include "daemon/http/server.hpp"

#include <chrono>
#include <cmath>
#include <cstring>

#include "daemon/log.hpp"

namespace dbsync::daemon {

using nlohmann::json;

namespace {

// The request being served by this pool thread (httplib runs pre-routing, the handler and the
// logger of one request on one thread).
struct RequestState {
  std::chrono::steady_clock::time_point start;
  std::string route = "unmatched";
  std::string token_name;
  bool streamed = false;
};
thread_local RequestState t_request;

const ApiError kInternal{500, "internal", "internal error", json::object()};

void write(httplib::Response& res, Reply reply) {
  res.status = reply.status;
  if (!reply.location.empty()) res.set_header("Location", reply.location);
  if (reply.stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // a reverse proxy must not buffer the events
    res.set_chunked_content_provider(reply.content_type, std::move(reply.stream));
  } else if (!reply.content_type.empty()) {
    res.set_content(reply.text, reply.content_type.c_str());
  } else if (reply.status != 204) {
    res.set_content(reply.body.dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json");
  }
}

}  // namespace

HttpServer::HttpServer(HttpOptions options, const Router& router, catalog::Pool& pool,
                       HttpMetrics& metrics)
    : options_(std::move(options)), router_(router), pool_(pool), metrics_(metrics) {
  const size_t threads = static_cast<size_t>(options_.threads);
  svr_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr_.set_keep_alive_timeout(options_.keep_alive_seconds);
  svr_.set_keep_alive_max_count(1000);
  svr_.set_read_timeout(10, 0);
  svr_.set_write_timeout(10, 0);
  svr_.set_payload_max_length(options_.max_body_bytes);
  svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return pre_routing(req, res);
  });
  // Every path goes to the router, which answers 404 / 405 itself.
  auto all = [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); };
  svr_.Get(".*", all);
  svr_.Post(".*", all);
  svr_.Put(".*", all);
  svr_.Delete(".*", all);
  svr_.Patch(".*", all);
  // httplib's own refusals (413, 400 for a bad request line...) get the JSON shape too.
  svr_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req,
             httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "error", "request failed", json::object()};
        if (res.status == 413) {
          e.code = "payload_too_large";
          e.message = "the request body is larger than " + std::to_string(options_.max_body_bytes) +
                      " bytes";
          e.details["max_body_bytes"] = options_.max_body_bytes;
        } else if (res.status == 400) {
          e.code = "bad_request";
        }
        cors_headers(req, res);
        res.set_content(e.body().dump(), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  // The last line of the error boundary (serve() catches what handlers throw).
  svr_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log_event(LogLevel::kError, "internal_error", {{"what", what}});
        res.status = 500;
        res.set_content(kInternal.body().dump(), "application/json");
      });
  svr_.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });
}

int HttpServer::bind(std::string& error) {
  int port = options_.port;
  if (port == 0) {
    port = svr_.bind_to_any_port(options_.host);
  } else if (!svr_.bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port < 0)
    error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
            std::strerror(errno);
  return port;
}

bool HttpServer::listen() { return svr_.listen_after_bind(); }
void HttpServer::stop() { svr_.stop(); }

void HttpServer::cors_headers(const httplib::Request& req, httplib::Response& res) const {
  if (options_.cors_origins.empty() || !req.has_header("Origin")) return;
  std::string origin = req.get_header_value("Origin");
  bool any = false, match = false;
  for (const std::string& o : options_.cors_origins) {
    any = any || o == "*";
    match = match || o == origin;
  }
  if (!any && !match) return;
  if (!res.has_header("Access-Control-Allow-Origin")) {
    res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
    res.set_header("Vary", "Origin");
  }
}

httplib::Server::HandlerResponse HttpServer::pre_routing(const httplib::Request& req,
                                                         httplib::Response& res) {
  t_request = RequestState{std::chrono::steady_clock::now(), "unmatched", "", false};
  cors_headers(req, res);
  if (req.method == "OPTIONS") {  // CORS preflight: no auth (browsers send no credentials)
    t_request.route = "preflight";
    if (res.has_header("Access-Control-Allow-Origin")) {
      res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Max-Age", "600");
    }
    res.status = 204;
    return httplib::Server::HandlerResponse::Handled;
  }
  if (req.path != "/api" && req.path.rfind("/api/", 0) != 0)
    return httplib::Server::HandlerResponse::Unhandled;
  ApiResult<TokenIdentity> who = kInternal;
  try {
    who = authenticate(pool_, req);
  } catch (const std::exception& e) {
    log_event(LogLevel::kError, "internal_error", {{"what", e.what()}});
  }
  if (who.ok()) {
    t_request.token_name = who.value().name;
    return httplib::Server::HandlerResponse::Unhandled;
  }
  res.status = who.error().status;
  if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"dbsync\"");
  res.set_content(who.error().body().dump(), "application/json");
  return httplib::Server::HandlerResponse::Handled;
}

void HttpServer::serve(const httplib::Request& req, httplib::Response& res) {
  Reply reply;
  try {
    Router::Match m = router_.match(req.method, req.path);
    if (m.kind == Router::Match::Kind::kNoRoute) {
      reply = Reply::error(
          {404, "no_route", "no such endpoint: " + req.method + " " + req.path, json::object()});
    } else if (m.kind == Router::Match::Kind::kWrongMethod) {
      ApiError e{405, "method_not_allowed", req.method + " is not a method of " + req.path,
                 json::object()};
      e.details["allow"] = m.allow;
      res.set_header("Allow", m.allow);
      reply = Reply::error(e);
    } else {
      t_request.route = m.route->pattern;
      auto params = Router::path_params(m);
      if (!params.ok()) {
        reply = Reply::error(params.error());
      } else {
        Request request(req, pool_, std::move(params.value()));
        if (!t_request.token_name.empty()) request.who = TokenIdentity{0, t_request.token_name};
        reply = m.route->handler(request);
      }
    }
  } catch (const std::exception& e) {
    log_event(LogLevel::kError, "internal_error", {{"route", t_request.route}, {"what", e.what()}});
    reply = Reply::error(kInternal);
  } catch (...) {
    log_event(LogLevel::kError, "internal_error", {{"route", t_request.route}});
    reply = Reply::error(kInternal);
  }
  t_request.streamed = static_cast<bool>(reply.stream);
  write(res, std::move(reply));
}

void HttpServer::log_request(const httplib::Request& req, const httplib::Response& res) {
  // A request httplib refused before routing (a bad request line) has no start time.
  bool routed = t_request.start != std::chrono::steady_clock::time_point{};
  double secs =
      routed ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request.start)
                   .count()
             : 0.0;
  if (!routed) t_request.route = "unparsed";
  // An event stream lasts as long as its job: counted, not timed.
  bool streamed = res.status == 200 && t_request.streamed;
  metrics_.observe(t_request.route, req.method, res.status, secs, !streamed);
  json f = {{"method", req.method},
            {"path", req.path},
            {"route", t_request.route},
            {"status", res.status},
            {"latency_ms", std::round(secs * 100000) / 100},
            {"remote", req.remote_addr}};
  if (!t_request.token_name.empty()) f["token"] = t_request.token_name;  // its name only
  log_event(res.status >= 500 ? LogLevel::kWarn : LogLevel::kInfo, "request", f);
  t_request = RequestState{};  // the next request on this thread starts afresh
}

}  // namespace dbsync::daemon
