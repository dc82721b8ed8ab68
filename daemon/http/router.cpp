#include "daemon/http/router.hpp"

#include <stdexcept>

#include "daemon/http/json_body.hpp"

namespace dbsync::daemon {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::string param_name(const std::string& segment) { return segment.substr(1, segment.size() - 2); }

}  // namespace

bool is_id_param(std::string_view name) {
  return name == "id" || (name.size() > 2 && name.substr(name.size() - 2) == "Id");
}

Route& Router::add(std::string method, std::string pattern, std::vector<std::string> id_nouns,
                   Handler handler) {
  Route r{std::move(method),
          std::move(pattern),
          std::move(handler),
          {},
          std::move(id_nouns),
          nullptr,
          nullptr};
  r.segments = split_path(r.pattern);
  size_t ids = 0;
  for (const std::string& s : r.segments)
    if (is_param(s) && is_id_param(param_name(s))) ++ids;
  if (ids != r.id_nouns.size()) throw std::logic_error("route " + r.pattern + ": one noun per id");
  routes_.push_back(std::move(r));
  return routes_.back();
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  if (method == "HEAD") method = "GET";
  const std::vector<std::string> parts = split_path(path);
  Match out;
  for (const Route& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; ok && i < parts.size(); ++i) {
      if (is_param(r.segments[i])) {
        ok = !parts[i].empty();
        values.push_back(parts[i]);
      } else {
        ok = r.segments[i] == parts[i];
      }
    }
    if (!ok) continue;
    if (r.method == method) return Match{Match::Kind::kFound, &r, std::move(values), {}};
    out.kind = Match::Kind::kWrongMethod;
    if (out.allow.find(r.method) == std::string::npos)
      out.allow += (out.allow.empty() ? "" : ", ") + r.method;
  }
  return out;
}

ApiResult<std::vector<Request::PathParam>> Router::path_params(const Match& m) {
  std::vector<Request::PathParam> out;
  size_t value = 0, id = 0;
  for (const std::string& s : m.route->segments) {
    if (!is_param(s)) continue;
    Request::PathParam p{param_name(s), m.values[value++], 0};
    if (is_id_param(p.name)) {
      auto n = parse_id(p.text);
      if (!n) return not_found(m.route->id_nouns[id], p.text);
      p.id = *n;
      ++id;
    }
    out.push_back(std::move(p));
  }
  return out;
}

const Request::PathParam& Request::find(std::string_view name) const {
  for (const PathParam& p : params_)
    if (p.name == name) return p;
  throw std::logic_error("no path parameter " + std::string(name));
}

long long Request::id(std::string_view name) const { return find(name).id; }
const std::string& Request::param(std::string_view name) const { return find(name).text; }

ApiResult<pg::PgConnection*> Request::db() {
  if (!conn_) {
    auto c = pool_.acquire();
    if (!c.is_ok()) return error_from_db(c.failure());
    conn_.emplace(std::move(c).value());
  }
  return &conn_->pg();
}

}  // namespace dbsync::daemon
