// Routes: method + pattern -> handler. A pattern's "{name}" matches one path segment; an id —
// "{id}" or a name ending in "Id" — must be a positive integer, or the router answers 404
// "<noun> <text> does not exist" itself (the noun of each id is given with the route), so a
// handler only ever sees ids it can use. A path that matches no pattern is 404 no_route; one
// that matches with another method is 405 method_not_allowed.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/catalog/db.hpp"
#include "daemon/http/api_error.hpp"
#include "daemon/http/auth.hpp"

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
  static Reply plain(std::string content_type, std::string text) {
    return {200, nullptr, std::move(text), std::move(content_type), {}, {}};
  }
};

// One request as a handler sees it.
class Request {
 public:
  struct PathParam {
    std::string name;
    std::string text;
    long long id = 0;  // ids only
  };
  Request(const httplib::Request& http, catalog::Pool& pool, std::vector<PathParam> params)
      : http(http), pool_(pool), params_(std::move(params)) {}

  const httplib::Request& http;
  std::optional<TokenIdentity> who;  // set on /api routes

  // A path id the router checked ("id", "configId"...).
  long long id(std::string_view name) const;
  // A path parameter's text (ids too).
  const std::string& param(std::string_view name) const;

  // This request's connection to the master (acquired on first use).
  ApiResult<pg::PgConnection*> db();
  // Gives the connection back to the pool now (before a long stream).
  void release_db() { conn_.reset(); }

 private:
  const PathParam& find(std::string_view name) const;
  catalog::Pool& pool_;
  std::vector<PathParam> params_;
  std::optional<catalog::Connection> conn_;
};

using Handler = std::function<Reply(Request&)>;

struct Route {
  std::string method;
  std::string pattern;  // "/api/sync/{configId}/resolve/{conflictId}": also its metrics label
  Handler handler;
  std::vector<std::string> segments;  // the pattern split at '/'
  std::vector<std::string> id_nouns;  // what each id names, in order
  // Its OpenAPI operation object (daemon/api/openapi.cpp builds the document from the routes),
  // and the path's parameters when they are more than its path segments (query, headers).
  nlohmann::json doc;
  nlohmann::json parameters;
};

class Router {
 public:
  // `id_nouns`: one per id of the pattern, in order (e.g. {"sync config", "conflict"}). The
  // route is returned for its documentation (valid until the next add).
  Route& add(std::string method, std::string pattern, std::vector<std::string> id_nouns,
             Handler handler);

  struct Match {
    enum class Kind { kFound, kNoRoute, kWrongMethod } kind = Kind::kNoRoute;
    const Route* route = nullptr;
    std::vector<std::string> values;  // the path parameters' texts, in order
    std::string allow;                // kWrongMethod: the methods the path has ("GET, POST")
  };
  // HEAD matches as GET.
  Match match(std::string_view method, std::string_view path) const;

  // A found route's path parameters, ids parsed; the 404 of the first id that is not one.
  static ApiResult<std::vector<Request::PathParam>> path_params(const Match& m);

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Whether a pattern's parameter is an id: "id" or "...Id".
bool is_id_param(std::string_view name);

}  // namespace dbsync::daemon
