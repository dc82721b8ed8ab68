#include "daemon/server.hpp"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>

#include "adapters/redis/redis_connection.hpp"
#include "daemon/json_body.hpp"
#include "daemon/log.hpp"
#include "daemon/redis_stage_factory.hpp"
#include "daemon/webhooks.hpp"

namespace dbsync::daemon {

using nlohmann::json;

namespace {

// The request being served by this pool thread (httplib runs pre-routing, the handler and the
// logger of one request on one thread).
struct RequestState {
  std::chrono::steady_clock::time_point start;
  std::string route = "unmatched";
  std::string token_name;
};
thread_local RequestState t_request;

const std::set<std::string> kJobStatuses = {
    "queued", "running", "awaiting_resolution", "committing", "succeeded", "failed", "cancelled"};

// Rows of one jsonb column, parsed.
ApiResult<json> rows_json(DbSession& db, const std::string& sql, const std::vector<DbParam>& params,
                          int missing_status = 404) {
  DbRows rows;
  DbError err;
  if (!db.query(sql, params, rows, err)) return error_from_db(err, missing_status);
  json out = json::array();
  for (int i = 0; i < rows.rows(); ++i)
    out.push_back(rows.is_null(i, 0) ? json(nullptr) : json::parse(rows.get(i, 0)));
  return out;
}

// The one row of a jsonb column, or the given not-found error.
ApiResult<json> row_json(DbSession& db, const std::string& sql, const std::vector<DbParam>& params,
                         const ApiError& missing) {
  auto r = rows_json(db, sql, params);
  if (!r.ok()) return r.error();
  if (r.value().empty()) return missing;
  return r.value()[0];
}

std::optional<std::string> opt_string(const json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  return body[field].get<std::string>();
}

// Query parameters: only the known ones.
std::optional<ApiError> check_params(const httplib::Request& req,
                                     std::initializer_list<const char*> known) {
  for (const auto& [k, v] : req.params) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) {
      ApiError e = bad_field(422, "unknown_parameter", k, "unknown query parameter '" + k + "'");
      return e;
    }
  }
  return std::nullopt;
}

// ?limit=: 1..max, default `def`.
ApiResult<long long> limit_param(const httplib::Request& req, long long def, long long max) {
  if (!req.has_param("limit")) return def;
  auto v = parse_id(req.get_param_value("limit"));
  if (!v || *v > max)
    return bad_field(422, "invalid_value", "limit",
                     "limit must be a number from 1 to " + std::to_string(max));
  return *v;
}

ApiResult<std::optional<long long>> id_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::optional<long long>{};
  auto v = parse_id(req.get_param_value(name));
  if (!v)
    return bad_field(422, "invalid_value", name, std::string(name) + " must be a positive id");
  return std::optional<long long>{*v};
}

// Name of the datasource / sync with this id (the SQL API takes names).
ApiResult<std::string> name_of(DbSession& db, const char* table, const char* what,
                               const std::string& id_text) {
  auto id = parse_id(id_text);
  if (!id) return not_found(what, id_text);
  DbRows rows;
  DbError err;
  std::string sql = std::string("SELECT name FROM dbsync.") + table + " WHERE id = $1";
  if (!db.query(sql, {std::to_string(*id)}, rows, err)) return error_from_db(err);
  if (rows.rows() == 0) return not_found(what, id_text);
  return rows.get(0, 0);
}

const char* kDatasourceJson =
    "jsonb_build_object('id', d.id, 'name', d.name, 'kind', d.kind, 'endpoint', d.endpoint, "
    "'options', d.options, 'created_at', d.created_at, 'updated_at', d.updated_at)";
const char* kJobJson =
    "to_jsonb(l) - 'duration' || jsonb_build_object('duration_ms', "
    "round(extract(epoch FROM l.duration) * 1000))";

std::string mask_url_password(const std::string& url) {
  // scheme://user:password@host -> scheme://user:********@host
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "********" + url.substr(at);
}

// BEGIN now; ROLLBACK when it goes out of scope uncommitted (any early return).
class Transaction {
 public:
  explicit Transaction(DbSession& db) : db_(db) { began_ = run("BEGIN"); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (began_ && !done_) (void)run("ROLLBACK");
  }
  std::optional<ApiError> commit() {
    if (!began_) return error_from_db(err_);
    done_ = true;
    if (!run("COMMIT")) return error_from_db(err_);
    return std::nullopt;
  }

 private:
  bool run(const char* sql) {
    DbRows rows;
    return db_.query(sql, {}, rows, err_);
  }
  DbSession& db_;
  DbError err_;
  bool began_ = false;
  bool done_ = false;
};

// Who decides (recorded with a decision in Redis): the API token's name.
std::string decided_by(const RequestContext& ctx) {
  return ctx.who ? "api token " + ctx.who->name : "api";
}

// An answer of the Redis stage's conflicts (daemon/redis_conflicts.hpp) as an API error.
ApiError from_stage_status(const Status& st, const char* invalid_field) {
  ApiError e;
  e.message = st.message();
  switch (st.code()) {
    case ErrorCode::kNotFound:
      e.status = 404;
      e.code = "not_found";
      break;
    case ErrorCode::kConflict:
      e.status = 409;
      e.code = "conflict";
      break;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParseError:
      e.status = 422;
      e.code = "invalid";
      e.details["field"] = invalid_field;
      break;
    case ErrorCode::kUnavailable:
      e.status = 503;
      e.code = "stage_unavailable";
      break;
    default:
      e.status = 500;
      e.code = "internal";
  }
  return e;
}

// Whether the sync's unfinished job keeps its change set and conflicts in Redis (then its
// conflicts are listed and decided there, not in dbsync.conflicts).
ApiResult<bool> redis_staged(DbSession& db, const std::string& sync_id) {
  DbRows rows;
  DbError err;
  if (!db.query("SELECT EXISTS (SELECT 1 FROM dbsync.jobs WHERE sync_id = $1::bigint "
                "AND stage = 'redis' AND status IN ('queued', 'running', "
                "'awaiting_resolution', 'committing'))",
                {sync_id}, rows, err))
    return error_from_db(err);
  return rows.get(0, 0) == "t";
}

// The one place a decision on a conflict is dispatched (POST .../resolve/{id} and the bulk form
// with ids) of the in-database stage: dbsync.resolve decides. A job staged in Redis is decided
// through RedisConflicts by the handlers (see redis_staged).
// A conflict of another sync is "not found" for this one.
ApiResult<std::string> resolve_conflict(DbSession& db, const std::string& sync_id,
                                        long long conflict, const std::string& decision,
                                        const DbParam& row) {
  const std::string cid = std::to_string(conflict);
  DbRows rows;
  DbError err;
  if (!db.query("SELECT sync_id FROM dbsync.conflicts WHERE id = $1", {cid}, rows, err))
    return error_from_db(err);
  if (rows.rows() == 0 || rows.get(0, 0) != sync_id) {
    ApiError e = not_found("conflict", cid);
    e.details["sync_config_id"] = sync_id;
    return e;
  }
  if (!db.query("SELECT dbsync.resolve($1::bigint, $2, $3::jsonb)", {cid, decision, row}, rows,
                err)) {
    // 42703: the custom row names a column the sync does not write (a field of the body).
    ApiError e = error_from_db(err, 422);
    if (e.status == 422) {
      bool about_decision = err.message.rfind("unknown decision", 0) == 0;
      e.details["field"] = about_decision ? "decision" : "row";
    }
    return e;
  }
  return rows.get(0, 0);
}

// Rows from a browse function (dbsync.tables/columns/rows): a datasource the extension cannot
// reach is that datasource's problem (502 datasource_unavailable), not the master's.
ApiResult<json> browse_json(DbSession& db, const std::string& sql,
                            const std::vector<DbParam>& params) {
  auto r = rows_json(db, sql, params, 404);
  if (r.ok()) return r;
  ApiError e = r.error();
  if (e.details.value("sqlstate", "") == "08001" && e.message.rfind("datasource", 0) == 0) {
    e.status = 502;
    e.code = "datasource_unavailable";
  }
  return e;
}

// "schedule": a cron text sets it (dbsync.schedule validates it), null removes it.
std::optional<ApiError> apply_schedule(DbSession& db, const json& body, const std::string& name) {
  if (!body.contains("schedule")) return std::nullopt;
  DbRows rows;
  DbError err;
  bool ok = body["schedule"].is_null()
                ? db.query("SELECT dbsync.unschedule($1)", {name}, rows, err)
                : db.query("SELECT dbsync.schedule($1, $2)",
                           {name, body["schedule"].get<std::string>()}, rows, err);
  if (ok) return std::nullopt;
  ApiError e = error_from_db(err, 422);
  if (e.status == 422) e.details["field"] = "schedule";
  return e;
}

}  // namespace

DbSession* RequestContext::session(ApiError& err) {
  if (!session_) {
    DbError e;
    session_ = db.acquire(e);
    if (!session_) {
      err = error_from_db(e);
      return nullptr;
    }
  }
  return session_.get();
}

ApiServer::ApiServer(const Config& config, Db& db, ServerOptions options)
    : config_(config), db_(db), options_(options) {
  if (!config_.secret_key_hex.empty())
    if (Result<secrets::Key> k = secrets::parse_key(config_.secret_key_hex); k.is_ok())
      secret_key_ = *k;
  redis_conflicts_ =
      std::make_unique<RedisConflicts>(config_.database_url, secret_key_ ? &*secret_key_ : nullptr);
  // Each open event stream holds a pool thread. Derived limit: a share of --workers, the rest
  // left to ordinary requests; an explicit limit gets threads of its own on top of --workers.
  int workers = config_.workers;
  int sse_max = options_.sse_max_subscribers;
  if (sse_max < 0) {
    sse_max = workers - std::max(2, workers / 4);
  } else {
    workers += sse_max;
  }
  options_.sse_max_subscribers = sse_max;
  hub_ = std::make_unique<JobEventHub>(db_, sse_max, options_.sse_tick);
  hub_->start();
  svr_.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  svr_.set_keep_alive_timeout(config_.keep_alive_seconds);
  svr_.set_keep_alive_max_count(1000);
  svr_.set_read_timeout(10, 0);
  svr_.set_write_timeout(10, 0);
  svr_.set_payload_max_length(config_.max_body_bytes);
  svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return pre_routing(req, res);
  });
  // httplib's own errors (404 no route, 413, 400 bad request line...) get the JSON shape too.
  svr_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req,
             httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "error", "request failed", json::object()};
        if (res.status == 404) {
          e.code = "no_route";
          e.message = "no such endpoint: " + req.method + " " + req.path;
        } else if (res.status == 413) {
          e.code = "payload_too_large";
          e.message = "the request body is larger than " + std::to_string(config_.max_body_bytes) +
                      " bytes";
          e.details["max_body_bytes"] = config_.max_body_bytes;
        } else if (res.status == 400) {
          e.code = "bad_request";
        } else if (res.status == 405) {
          e.code = "method_not_allowed";
        }
        cors_headers(req, res);
        res.set_content(e.body().dump(), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
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
        ApiError e{500, "internal", "internal error", json::object()};
        res.status = 500;
        res.set_content(e.body().dump(), "application/json");
      });
  svr_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    // A request httplib refused before routing (a bad request line) has no start time.
    bool routed = t_request.start != std::chrono::steady_clock::time_point{};
    double secs =
        routed ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request.start)
                     .count()
               : 0.0;
    if (!routed) t_request.route = "unparsed";
    // An event stream lasts as long as its job: counted, not timed.
    bool streamed = res.status == 200 && t_request.route == "/api/jobs/{id}/events";
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
  });
  routes();
}

int ApiServer::bind(std::string& error) {
  int port = config_.listen_port;
  if (port == 0) {
    port = svr_.bind_to_any_port(config_.listen_host);
  } else if (!svr_.bind_to_port(config_.listen_host, port)) {
    port = -1;
  }
  if (port < 0)
    error = "cannot listen on " + config_.listen_host + ":" + std::to_string(config_.listen_port) +
            ": " + std::strerror(errno);
  return port;
}

bool ApiServer::listen() { return svr_.listen_after_bind(); }
void ApiServer::stop() {
  hub_->stop();  // event streams end first: each holds a pool thread that stop() waits for
  svr_.stop();
}

void ApiServer::cors_headers(const httplib::Request& req, httplib::Response& res) const {
  if (config_.cors_origins.empty() || !req.has_header("Origin")) return;
  std::string origin = req.get_header_value("Origin");
  bool any = false, match = false;
  for (const std::string& o : config_.cors_origins) {
    any = any || o == "*";
    match = match || o == origin;
  }
  if (!any && !match) return;
  if (!res.has_header("Access-Control-Allow-Origin")) {
    res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
    res.set_header("Vary", "Origin");
  }
}

httplib::Server::HandlerResponse ApiServer::pre_routing(const httplib::Request& req,
                                                        httplib::Response& res) {
  t_request = RequestState{std::chrono::steady_clock::now(), "unmatched", ""};
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

  auto reject = [&](const ApiError& e) {
    res.status = e.status;
    if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"dbsync\"");
    res.set_content(e.body().dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  };
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  // The scheme is case-insensitive (RFC 7235).
  if (auth.size() <= prefix.size() || strncasecmp(auth.c_str(), prefix.c_str(), prefix.size()) != 0)
    return reject({401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)",
                   json::object()});
  std::string token = auth.substr(prefix.size());
  DbError err;
  auto session = db_.acquire(err);
  if (!session) return reject(error_from_db(err));
  bool db_failed = false;
  std::optional<TokenIdentity> who;
  try {
    who = verify_token(*session, token, err, db_failed);
  } catch (const std::exception& e) {
    log_event(LogLevel::kError, "internal_error", {{"what", e.what()}});
    return reject({500, "internal", "internal error", json::object()});
  }
  if (db_failed) return reject(error_from_db(err));
  if (!who) return reject({401, "unauthorized", "invalid or revoked token", json::object()});
  t_request.token_name = who->name;
  return httplib::Server::HandlerResponse::Unhandled;
}

void ApiServer::serve(const httplib::Request& req, httplib::Response& res, const std::string& route,
                      const Handler& handler) {
  t_request.route = route;
  Reply reply;
  try {
    RequestContext ctx(req, db_);
    if (!t_request.token_name.empty()) ctx.who = TokenIdentity{0, t_request.token_name};
    reply = handler(ctx);
  } catch (const std::exception& e) {
    log_event(LogLevel::kError, "internal_error", {{"route", route}, {"what", e.what()}});
    reply = Reply::error({500, "internal", "internal error", json::object()});
  } catch (...) {
    log_event(LogLevel::kError, "internal_error", {{"route", route}});
    reply = Reply::error({500, "internal", "internal error", json::object()});
  }
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

void ApiServer::add(const char* method, const std::string& pattern, const std::string& route,
                    Handler handler) {
  auto h = [this, route, handler = std::move(handler)](const httplib::Request& req,
                                                       httplib::Response& res) {
    serve(req, res, route, handler);
  };
  std::string m = method;
  if (m == "GET")
    svr_.Get(pattern, h);
  else if (m == "POST")
    svr_.Post(pattern, h);
  else if (m == "PUT")
    svr_.Put(pattern, h);
  else if (m == "DELETE")
    svr_.Delete(pattern, h);
}

// ---------------------------------------------------------------------------------------
#define DB_OR_RETURN(ctx, var)               \
  ApiError var##_err;                        \
  DbSession* var = (ctx).session(var##_err); \
  if (!var) return Reply::error(var##_err)
#define BODY_OR_RETURN(var, ...)                               \
  auto var##_res = parse_body(ctx.req.body, {__VA_ARGS__});    \
  if (!var##_res.ok()) return Reply::error(var##_res.error()); \
  json var = std::move(var##_res.value())
#define TRY(var, expr)                                         \
  auto var##_res = (expr);                                     \
  if (!var##_res.ok()) return Reply::error(var##_res.error()); \
  auto var = std::move(var##_res.value())

namespace {

// Queues a job for sync `id` (or finds its unfinished one) and answers 202 with the job and
// where to follow it: POST /api/sync/{configId} and the webhook triggers.
Reply queued_job_reply(DbSession& db, const std::string& id, const std::string& trigger,
                       const std::string& requested_by) {
  TRY(q, row_json(db,
                  "SELECT jsonb_build_object('job_id', job_id, 'created', created) "
                  "FROM dbsync.queue_job($1::bigint, $2, $3)",
                  {id, trigger, requested_by}, not_found("sync config", id)));
  std::string job = std::to_string(q["job_id"].get<long long>());
  TRY(row, row_json(db, std::string("SELECT ") + kJobJson + " FROM dbsync.job_status($1::bigint) l",
                    {job}, not_found("job", job)));
  Reply r = Reply::json(202, {{"job", row}, {"created", q["created"]}});
  r.location = "/api/sync/" + job + "/status";
  return r;
}

}  // namespace

namespace {
// DELETE of a catalog object by id: the SQL API drops it by name (its own checks apply, e.g. a
// datasource still used by syncs is refused).
Reply drop_by_name(RequestContext& ctx, const char* table, const char* what,
                   const std::string& drop_sql) {
  std::string id = ctx.req.matches[1];
  if (!parse_id(id)) return Reply::error(not_found(what, id));
  DB_OR_RETURN(ctx, db);
  TRY(name, name_of(*db, table, what, id));
  DbRows rows;
  DbError err;
  if (!db->query(drop_sql, {name}, rows, err)) return Reply::error(error_from_db(err));
  return Reply::no_content();
}
}  // namespace

void ApiServer::routes() {
  using F = FieldType;

  // ---- no auth: health, metrics, docs
  add("GET", "/healthz", "/healthz", [](RequestContext& ctx) {
    ApiError e;
    DbSession* db = ctx.session(e);
    if (!db)
      return Reply::error(
          {503, "unavailable", "the master is unreachable: " + e.message, json::object()});
    DbRows rows;
    DbError err;
    if (!db->query("SELECT extversion FROM pg_extension WHERE extname = 'dbsync'", {}, rows, err))
      return Reply::error(
          {503, "unavailable", "the master does not answer: " + err.message, json::object()});
    if (rows.rows() == 0)
      return Reply::error({503, "unavailable",
                           "the dbsync extension is not installed in the master", json::object()});
    return Reply::json(200, {{"status", "ok"}, {"master", "ok"}, {"extension", rows.get(0, 0)}});
  });

  add("GET", "/metrics", "/metrics", [this](RequestContext& ctx) {
    std::string out;
    ApiError e;
    DbSession* db = ctx.session(e);
    DbRows rows;
    DbError err;
    bool up = db && db->query(
                        "SELECT s.status, count(j.id) FROM unnest(ARRAY['queued','running',"
                        "'awaiting_resolution','committing','succeeded','failed','cancelled']) "
                        "s(status) LEFT JOIN dbsync.jobs j ON j.status = s.status "
                        "GROUP BY s.status ORDER BY s.status",
                        {}, rows, err);
    out += "# HELP dbsync_master_up Whether the master answered this scrape.\n";
    out += "# TYPE dbsync_master_up gauge\n";
    out += std::string("dbsync_master_up ") + (up ? "1" : "0") + "\n";
    if (up) {
      out += "# HELP dbsync_jobs Jobs in the catalog, by status.\n# TYPE dbsync_jobs gauge\n";
      for (int i = 0; i < rows.rows(); ++i)
        out +=
            "dbsync_jobs{status=\"" + prom_label(rows.get(i, 0)) + "\"} " + rows.get(i, 1) + "\n";
      DbRows c;
      if (db->query("SELECT count(*) FROM dbsync.conflicts WHERE status = 'pending'", {}, c, err)) {
        out += "# HELP dbsync_conflicts_pending Conflicts waiting for a decision.\n";
        out += "# TYPE dbsync_conflicts_pending gauge\n";
        out += "dbsync_conflicts_pending " + c.get(0, 0) + "\n";
      }
      DbRows a;
      if (db->query("SELECT COALESCE(sum(inserted), 0), COALESCE(sum(updated), 0), "
                    "COALESCE(sum(deleted), 0), COALESCE(sum(source_inserted), 0), "
                    "COALESCE(sum(source_updated), 0), COALESCE(sum(source_deleted), 0) "
                    "FROM dbsync.jobs",
                    {}, a, err)) {
        // Sums over the jobs the catalog keeps (deleting old jobs lowers them).
        out +=
            "# HELP dbsync_rows_applied Rows written by the jobs in the catalog, by operation "
            "and side (target; source for two-way syncs).\n";
        out += "# TYPE dbsync_rows_applied gauge\n";
        const char* ops[] = {"insert", "update", "delete"};
        for (int i = 0; i < 6; ++i)
          out += std::string("dbsync_rows_applied{operation=\"") + ops[i % 3] + "\",side=\"" +
                 (i < 3 ? "target" : "source") + "\"} " + a.get(0, i) + "\n";
      }
    }
    out += "# HELP dbsync_sse_subscribers Open /api/jobs/{id}/events streams.\n";
    out += "# TYPE dbsync_sse_subscribers gauge\n";
    out += "dbsync_sse_subscribers " + std::to_string(hub_->subscribers()) + "\n";
    out += "# HELP dbsync_sse_max_subscribers The most event streams open at once (beyond: 503).\n";
    out += "# TYPE dbsync_sse_max_subscribers gauge\n";
    out += "dbsync_sse_max_subscribers " + std::to_string(hub_->max_subscribers()) + "\n";
    out +=
        "# HELP dbsync_sse_polls_total Catalog polls of the event hub (one per tick for all "
        "streams).\n";
    out += "# TYPE dbsync_sse_polls_total counter\n";
    out += "dbsync_sse_polls_total " + std::to_string(hub_->polls()) + "\n";
    out += metrics_.render();
    Reply r;
    r.text = out;
    r.content_type = "text/plain; version=0.0.4";
    return r;
  });

  add("GET", "/openapi.json", "/openapi.json",
      [](RequestContext&) { return Reply::json(200, openapi()); });
  add("GET", "/docs", "/docs", [](RequestContext&) {
    Reply r;
    r.content_type = "text/html; charset=utf-8";
    std::string rows;
    json doc = openapi();
    auto esc = [](const std::string& s) {
      std::string o;
      for (char c : s) {
        if (c == '<')
          o += "&lt;";
        else if (c == '>')
          o += "&gt;";
        else if (c == '&')
          o += "&amp;";
        else
          o.push_back(c);
      }
      return o;
    };
    for (auto& [path, ops] : doc["paths"].items())
      for (auto& [method, op] : ops.items()) {
        if (method == "parameters") continue;
        std::string m = method;
        for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        rows += "<tr><td><code>" + m + "</code></td><td><code>" + esc(path) + "</code></td><td>" +
                esc(op.value("summary", "")) + "</td></tr>\n";
      }
    r.text =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>dbsyncd API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em .8em;border-bottom:1px "
        "solid #ddd}</style></head><body><h1>dbsyncd API</h1><p>The OpenAPI 3 document: <a "
        "href=\"/openapi.json\">/openapi.json</a>. Every <code>/api</code> call needs "
        "<code>Authorization: Bearer &lt;token&gt;</code>; errors are <code>{\"error\": "
        "{\"code\", \"message\", \"details\"}}</code>.</p><table>\n" +
        rows + "</table></body></html>\n";
    return r;
  });

  // ---- tokens
  add("GET", "/api/tokens", "/api/tokens", [](RequestContext& ctx) {
    if (auto e = check_params(ctx.req, {})) return Reply::error(*e);
    DB_OR_RETURN(ctx, db);
    TRY(items,
        rows_json(*db,
                  "SELECT jsonb_build_object('id', id, 'name', name, 'created_at', created_at, "
                  "'last_used_at', last_used_at, 'revoked_at', revoked_at) "
                  "FROM dbsync.api_tokens ORDER BY id",
                  {}));
    return Reply::json(200, {{"items", items}});
  });
  add("POST", "/api/tokens", "/api/tokens", [](RequestContext& ctx) {
    BODY_OR_RETURN(body, FieldSpec{"name", F::kString, true});
    DB_OR_RETURN(ctx, db);
    std::string token = generate_token();
    auto row_res =
        rows_json(*db,
                  "INSERT INTO dbsync.api_tokens (name, token_hash) VALUES ($1, decode($2, 'hex')) "
                  "RETURNING jsonb_build_object('id', id, 'name', name, 'created_at', created_at)",
                  {body["name"].get<std::string>(), to_hex(sha256(token))}, 422);
    if (!row_res.ok()) {
      ApiError e = row_res.error();
      if (e.details.value("sqlstate", "") == "23514") e.details["field"] = "name";  // the CHECK
      return Reply::error(e);
    }
    json row = row_res.value();
    json out = row[0];
    out["token"] = token;  // the only time it is shown
    Reply r = Reply::json(201, out);
    r.location = "/api/tokens/" + std::to_string(out["id"].get<long long>());
    return r;
  });
  add("DELETE", R"(/api/tokens/([^/]+))", "/api/tokens/{id}", [](RequestContext& ctx) {
    auto id = parse_id(ctx.req.matches[1]);
    if (!id) return Reply::error(not_found("token", ctx.req.matches[1]));
    DB_OR_RETURN(ctx, db);
    // Never the last active token: the API would lock itself out.
    TRY(rows, rows_json(*db,
                        "WITH t AS (SELECT id, revoked_at FROM dbsync.api_tokens WHERE id = $1), "
                        "others AS (SELECT count(*) AS n FROM dbsync.api_tokens "
                        "            WHERE revoked_at IS NULL AND id <> $1), "
                        "upd AS (UPDATE dbsync.api_tokens a SET revoked_at = now() FROM t, others "
                        "         WHERE a.id = t.id AND t.revoked_at IS NULL AND others.n > 0 "
                        "         RETURNING a.id) "
                        "SELECT jsonb_build_object('revoked', (SELECT count(*) FROM upd), "
                        "  'already', t.revoked_at IS NOT NULL) FROM t",
                        {std::to_string(*id)}));
    if (rows.empty()) return Reply::error(not_found("token", ctx.req.matches[1]));
    if (rows[0]["already"].get<bool>())
      return Reply::error({409, "conflict", "token " + std::to_string(*id) + " is already revoked",
                           json::object()});
    if (rows[0]["revoked"].get<long long>() == 0)
      return Reply::error({409, "conflict",
                           "the last active token cannot be revoked; create another first",
                           json::object()});
    return Reply::no_content();
  });

  // ---- datasources
  add("GET", "/api/datasources", "/api/datasources", [](RequestContext& ctx) {
    if (auto e = check_params(ctx.req, {"limit", "after"})) return Reply::error(*e);
    TRY(limit, limit_param(ctx.req, 100, 1000));
    TRY(after, id_param(ctx.req, "after"));
    DB_OR_RETURN(ctx, db);
    TRY(items,
        rows_json(*db,
                  std::string("SELECT ") + kDatasourceJson +
                      " FROM dbsync.datasources d WHERE ($1::bigint IS NULL OR d.id > $1) "
                      "ORDER BY d.id LIMIT $2",
                  {after ? DbParam(std::to_string(*after)) : std::nullopt, std::to_string(limit)}));
    json next = nullptr;
    if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
    return Reply::json(200, {{"items", items}, {"next_after", next}});
  });
  add("POST", "/api/datasources", "/api/datasources", [](RequestContext& ctx) {
    BODY_OR_RETURN(body, FieldSpec{"name", F::kString, true}, FieldSpec{"kind", F::kString, true},
                   FieldSpec{"conninfo", F::kString, false, true},
                   FieldSpec{"options", F::kObject, false, true});
    DB_OR_RETURN(ctx, db);
    DbParam options;
    if (body.contains("options") && !body["options"].is_null()) options = body["options"].dump();
    TRY(ids,
        rows_json(*db,
                  "SELECT to_jsonb(dbsync.add_datasource($1, $2, $3, COALESCE($4::jsonb, '{}')))",
                  {body["name"].get<std::string>(), body["kind"].get<std::string>(),
                   opt_string(body, "conninfo"), options},
                  422));
    std::string id = std::to_string(ids[0].get<long long>());
    TRY(row, row_json(*db,
                      std::string("SELECT ") + kDatasourceJson +
                          " FROM dbsync.datasources d WHERE d.id = $1",
                      {id}, not_found("datasource", id)));
    Reply r = Reply::json(201, row);
    r.location = "/api/datasources/" + id;
    return r;
  });
  add("GET", R"(/api/datasources/([^/]+))", "/api/datasources/{id}", [](RequestContext& ctx) {
    std::string id = ctx.req.matches[1];
    if (!parse_id(id)) return Reply::error(not_found("datasource", id));
    DB_OR_RETURN(ctx, db);
    TRY(row, row_json(*db,
                      std::string("SELECT ") + kDatasourceJson +
                          " FROM dbsync.datasources d WHERE d.id = $1",
                      {id}, not_found("datasource", id)));
    return Reply::json(200, row);
  });
  add("PUT", R"(/api/datasources/([^/]+))", "/api/datasources/{id}", [](RequestContext& ctx) {
    std::string id = ctx.req.matches[1];
    if (!parse_id(id)) return Reply::error(not_found("datasource", id));
    BODY_OR_RETURN(body, FieldSpec{"name", F::kString}, FieldSpec{"conninfo", F::kString},
                   FieldSpec{"options", F::kObject});
    DB_OR_RETURN(ctx, db);
    TRY(name, name_of(*db, "datasources", "datasource", id));
    DbParam options;
    if (body.contains("options")) options = body["options"].dump();
    DbRows rows;
    DbError err;
    if (!db->query("SELECT dbsync.alter_datasource($1, $2, $3::jsonb, $4)",
                   {name, opt_string(body, "conninfo"), options, opt_string(body, "name")}, rows,
                   err))
      return Reply::error(error_from_db(err, 422));
    TRY(row, row_json(*db,
                      std::string("SELECT ") + kDatasourceJson +
                          " FROM dbsync.datasources d WHERE d.id = $1",
                      {id}, not_found("datasource", id)));
    return Reply::json(200, row);
  });
  add("DELETE", R"(/api/datasources/([^/]+))", "/api/datasources/{id}", [](RequestContext& ctx) {
    return drop_by_name(ctx, "datasources", "datasource", "SELECT dbsync.drop_datasource($1)");
  });
  add("POST", R"(/api/datasources/([^/]+)/test)", "/api/datasources/{id}/test",
      [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("datasource", id));
        BODY_OR_RETURN(body);
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "datasources", "datasource", id));
        TRY(row, row_json(*db, "SELECT to_jsonb(t) FROM dbsync.test_datasource($1) t", {name},
                          not_found("datasource", id)));
        return Reply::json(200, row);
      });

  // ---- sync configs
  static const std::initializer_list<FieldSpec> kSyncFields = {
      {"name", F::kString},
      {"source", F::kString},
      {"source_table", F::kString},
      {"target", F::kString},
      {"target_table", F::kString},
      {"mapping", F::kObject},
      {"key", F::kStringArray},
      {"source_key", F::kStringArray},
      {"direction", F::kString},
      {"strategy", F::kString},
      {"strategy_options", F::kObject},
      {"delete_policy", F::kString},
      {"batch_size", F::kInteger},
      {"filter", F::kString, false, true},
      {"schedule", F::kString, false, true},
      {"audit", F::kBoolean}};
  // Named arguments for the fields present (names are ours, values bound).
  auto sync_args = [](const json& body, std::vector<DbParam>& params, bool skip_name) {
    std::string args;
    for (const FieldSpec& f : kSyncFields) {
      std::string n = f.name;
      if (!body.contains(n) || (skip_name && n == "name") || n == "schedule") continue;
      const json& v = body[n];
      std::string ph = "$" + std::to_string(params.size() + 1);
      std::string expr;
      switch (f.type) {
        case F::kObject:
          expr = ph + "::jsonb";
          params.push_back(v.dump());
          break;
        case F::kStringArray:
          expr = "ARRAY(SELECT jsonb_array_elements_text(" + ph + "::jsonb))::text[]";
          params.push_back(v.dump());
          break;
        case F::kInteger:
          expr = ph + "::integer";
          params.push_back(v.dump());
          break;
        case F::kBoolean:
          expr = ph + "::boolean";
          params.push_back(v.get<bool>() ? "true" : "false");
          break;
        default:
          expr = ph + "::text";
          // filter: null clears it (the SQL API's '' means "no filter").
          params.push_back(v.is_null() ? std::string() : v.get<std::string>());
      }
      args += (args.empty() ? "" : ", ") + std::string("\"") + n + "\" => " + expr;
    }
    return args;
  };
  const std::string sync_json = "to_jsonb(l)";

  add("GET", "/api/sync-configs", "/api/sync-configs", [sync_json](RequestContext& ctx) {
    if (auto e = check_params(ctx.req, {"limit", "after"})) return Reply::error(*e);
    TRY(limit, limit_param(ctx.req, 100, 1000));
    TRY(after, id_param(ctx.req, "after"));
    DB_OR_RETURN(ctx, db);
    TRY(items,
        rows_json(*db,
                  "SELECT " + sync_json +
                      " FROM dbsync.sync_list l WHERE ($1::bigint IS NULL OR l.id > $1) "
                      "ORDER BY l.id LIMIT $2",
                  {after ? DbParam(std::to_string(*after)) : std::nullopt, std::to_string(limit)}));
    json next = nullptr;
    if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
    return Reply::json(200, {{"items", items}, {"next_after", next}});
  });
  add("POST", "/api/sync-configs", "/api/sync-configs",
      [sync_args, sync_json](RequestContext& ctx) {
        auto parsed = parse_body(ctx.req.body, kSyncFields);
        if (!parsed.ok()) return Reply::error(parsed.error());
        json body = parsed.value();
        for (const char* req : {"name", "source", "source_table", "target", "target_table"})
          if (!body.contains(req))
            return Reply::error(
                bad_field(422, "missing_field", req, std::string("missing field '") + req + "'"));
        DB_OR_RETURN(ctx, db);
        std::vector<DbParam> params;
        std::string args = sync_args(body, params, false);
        Transaction tx(*db);  // the sync and its schedule together, or neither
        TRY(ids, rows_json(*db, "SELECT to_jsonb(dbsync.create_sync(" + args + "))", params, 422));
        std::string id = std::to_string(ids[0].get<long long>());
        if (auto e = apply_schedule(*db, body, body["name"].get<std::string>()))
          return Reply::error(*e);
        if (auto e = tx.commit()) return Reply::error(*e);
        TRY(row, row_json(*db, "SELECT " + sync_json + " FROM dbsync.sync_list l WHERE l.id = $1",
                          {id}, not_found("sync config", id)));
        Reply r = Reply::json(201, row);
        r.location = "/api/sync-configs/" + id;
        return r;
      });
  add("GET", R"(/api/sync-configs/([^/]+))", "/api/sync-configs/{id}",
      [sync_json](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        DB_OR_RETURN(ctx, db);
        TRY(row, row_json(*db, "SELECT " + sync_json + " FROM dbsync.sync_list l WHERE l.id = $1",
                          {id}, not_found("sync config", id)));
        return Reply::json(200, row);
      });
  add("PUT", R"(/api/sync-configs/([^/]+))", "/api/sync-configs/{id}",
      [sync_args, sync_json](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        auto parsed = parse_body(ctx.req.body, kSyncFields);
        if (!parsed.ok()) return Reply::error(parsed.error());
        json body = parsed.value();
        if (body.contains("name"))
          return Reply::error(bad_field(422, "read_only_field", "name",
                                        "a sync config cannot be renamed (field 'name')"));
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        std::vector<DbParam> params{name};
        std::string args = sync_args(body, params, true);
        DbRows rows;
        DbError err;
        Transaction tx(*db);
        if (!args.empty() &&
            !db->query("SELECT dbsync.alter_sync(\"name\" => $1, " + args + ")", params, rows, err))
          return Reply::error(error_from_db(err, 422));
        if (auto e = apply_schedule(*db, body, name)) return Reply::error(*e);
        if (auto e = tx.commit()) return Reply::error(*e);
        TRY(row, row_json(*db, "SELECT " + sync_json + " FROM dbsync.sync_list l WHERE l.id = $1",
                          {id}, not_found("sync config", id)));
        return Reply::json(200, row);
      });
  add("DELETE", R"(/api/sync-configs/([^/]+))", "/api/sync-configs/{id}", [](RequestContext& ctx) {
    return drop_by_name(ctx, "syncs", "sync config", "SELECT dbsync.drop_sync($1)");
  });
  add("POST", R"(/api/sync-configs/([^/]+)/preview)", "/api/sync-configs/{id}/preview",
      [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        BODY_OR_RETURN(body, FieldSpec{"limit", F::kInteger});
        long long limit = body.value("limit", 10LL);
        if (limit < 1 || limit > 1000)
          return Reply::error(
              bad_field(422, "invalid_value", "limit", "limit must be from 1 to 1000"));
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        TRY(rows,
            rows_json(*db,
                      "SELECT COALESCE(jsonb_agg(p), '[]') FROM dbsync.preview($1, $2::integer) p",
                      {name, std::to_string(limit)}, 422));
        json out = {{"rows", rows[0]}};
        DbRows diff;
        DbError err;
        if (db->query(
                "SELECT COALESCE(jsonb_agg(to_jsonb(d)), '[]') FROM dbsync.diff($1, $2::integer) d",
                {name, std::to_string(limit)}, diff, err)) {
          out["diff"] = json::parse(diff.get(0, 0));
        } else if (err.sqlstate == "0A000") {  // diff needs both ends local for now
          out["diff"] = nullptr;
          out["diff_unavailable"] = err.message;
        } else {
          return Reply::error(error_from_db(err, 422));
        }
        return Reply::json(200, out);
      });

  // ---- jobs
  add("POST", R"(/api/sync/([^/]+))", "/api/sync/{configId}", [](RequestContext& ctx) {
    std::string id = ctx.req.matches[1];
    if (!parse_id(id)) return Reply::error(not_found("sync config", id));
    BODY_OR_RETURN(body);
    DB_OR_RETURN(ctx, db);
    return queued_job_reply(*db, id, "api", "api:" + (ctx.who ? ctx.who->name : std::string("?")));
  });
  // ---- webhook triggers: a secret per sync (made here, shown once), then
  // POST /webhooks/{provider}/{configId} with that secret (daemon/webhooks.hpp).
  add("POST", R"(/api/sync-configs/([^/]+)/webhook-secret)",
      "/api/sync-configs/{id}/webhook-secret", [this](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        BODY_OR_RETURN(body);
        if (!secret_key_)
          return Reply::error({409, "secret_key_missing",
                               "SECRET_KEY is not set: dbsyncd cannot keep a webhook secret",
                               json::object()});
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        std::string secret = webhooks::new_secret();
        Result<std::string> sealed = secrets::seal(*secret_key_, secret);
        if (!sealed.is_ok())
          return Reply::error({500, "internal", sealed.status().message(), json::object()});
        TRY(made, row_json(*db,
                           "INSERT INTO dbsync.webhook_secrets AS w (sync_id, secret) "
                           "VALUES ($1::bigint, decode($2, 'hex')) ON CONFLICT (sync_id) DO "
                           "UPDATE SET secret = EXCLUDED.secret, created_at = now() "
                           "RETURNING jsonb_build_object('created_at', w.created_at)",
                           {id, to_hex(*sealed)}, not_found("sync config", id)));
        json endpoints = json::array();
        for (const char* p : {"n8n", "zapier", "activepieces", "generic"})
          endpoints.push_back("/webhooks/" + std::string(p) + "/" + id);
        Reply r = Reply::json(
            201, {{"sync_config_id", std::stoll(id)},
                  {"sync", name},
                  {"secret", secret},
                  {"created_at", made["created_at"]},
                  {"endpoints", endpoints},
                  {"authentication",
                   "X-Dbsync-Token: <secret>, or X-Dbsync-Signature: t=<unix seconds>,v1=<hex "
                   "HMAC-SHA256(secret, \"<t>.\" + body)> within " +
                       std::to_string(webhooks::kReplayWindowSeconds) + " s"}});
        secrets::wipe(secret);
        return r;
      });
  add("DELETE", R"(/api/sync-configs/([^/]+)/webhook-secret)",
      "/api/sync-configs/{id}/webhook-secret", [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        DB_OR_RETURN(ctx, db);
        TRY(gone, rows_json(*db,
                            "DELETE FROM dbsync.webhook_secrets WHERE sync_id = $1::bigint "
                            "RETURNING to_jsonb(sync_id)",
                            {id}));
        if (gone.empty()) return Reply::error(not_found("webhook secret of sync config", id));
        return Reply::no_content();
      });
  add("POST", R"(/webhooks/([^/]+)/([^/]+))", "/webhooks/{provider}/{configId}",
      [this](RequestContext& ctx) {
        const std::string provider = ctx.req.matches[1];
        const std::string id = ctx.req.matches[2];
        if (!webhooks::known_provider(provider))
          return Reply::error(
              not_found("webhook provider (n8n, zapier, activepieces, generic)", provider));
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        if (!secret_key_)
          return Reply::error({503, "secret_key_missing",
                               "SECRET_KEY is not set: webhook triggers are off", json::object()});
        DB_OR_RETURN(ctx, db);
        DbRows rows;
        DbError err;
        if (!db->query("SELECT encode(secret, 'hex') FROM dbsync.webhook_secrets "
                       "WHERE sync_id = $1::bigint",
                       {id}, rows, err))
          return Reply::error(error_from_db(err));
        auto unauthorized = [](const std::string& why) {
          return Reply::error({401, "unauthorized", why, json::object()});
        };
        // An unknown sync and one without a secret look the same from outside.
        if (rows.rows() == 0) return unauthorized("no webhook secret for sync config " + id);
        std::string sealed;
        const std::string hex = rows.get(0, 0);
        for (size_t i = 0; i + 1 < hex.size(); i += 2)
          sealed.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        Result<std::string> secret = secrets::open(*secret_key_, sealed);
        if (!secret.is_ok())
          return Reply::error({503, "secret_key_mismatch",
                               "the sync's webhook secret was sealed with another SECRET_KEY: "
                               "make a new one",
                               json::object()});
        auto header = [&](const char* name) -> std::optional<std::string> {
          if (!ctx.req.has_header(name)) return std::nullopt;
          return ctx.req.get_header_value(name);
        };
        const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        Status ok = webhooks::verify(*secret, header("X-Dbsync-Token"),
                                     header("X-Dbsync-Signature"), ctx.req.body, now);
        secrets::wipe(*secret);
        if (!ok.is_ok()) return unauthorized(ok.message());
        return queued_job_reply(*db, id, "webhook:" + provider, "webhook:" + provider);
      });
  add("GET", R"(/api/sync/([^/]+)/status)", "/api/sync/{jobId}/status", [](RequestContext& ctx) {
    std::string id = ctx.req.matches[1];
    if (!parse_id(id)) return Reply::error(not_found("job", id));
    DB_OR_RETURN(ctx, db);
    TRY(row,
        row_json(*db, std::string("SELECT ") + kJobJson + " FROM dbsync.job_status($1::bigint) l",
                 {id}, not_found("job", id)));
    return Reply::json(200, row);
  });
  add("GET", "/api/jobs", "/api/jobs", [](RequestContext& ctx) {
    if (auto e = check_params(ctx.req, {"limit", "before", "status", "sync"}))
      return Reply::error(*e);
    TRY(limit, limit_param(ctx.req, 50, 500));
    TRY(before, id_param(ctx.req, "before"));
    DbParam status, sync_name, sync_id;
    if (ctx.req.has_param("status")) {
      status = ctx.req.get_param_value("status");
      if (!kJobStatuses.count(*status))
        return Reply::error(bad_field(422, "invalid_value", "status",
                                      "status must be one of queued, running, awaiting_resolution, "
                                      "committing, succeeded, failed, cancelled"));
    }
    if (ctx.req.has_param("sync")) {
      std::string s = ctx.req.get_param_value("sync");
      // Sync names start with a letter or _: digits are an id.
      if (auto n = parse_id(s))
        sync_id = std::to_string(*n);
      else
        sync_name = s;
    }
    DB_OR_RETURN(ctx, db);
    TRY(items, rows_json(*db,
                         std::string("SELECT ") + kJobJson +
                             " FROM dbsync.job_list l JOIN dbsync.jobs j ON j.id = l.id"
                             " WHERE ($1::text IS NULL OR j.status = $1)"
                             "   AND ($2::text IS NULL OR l.sync = $2)"
                             "   AND ($3::bigint IS NULL OR j.sync_id = $3)"
                             "   AND ($4::bigint IS NULL OR j.id < $4)"
                             " ORDER BY j.id DESC LIMIT $5",
                         {status, sync_name, sync_id,
                          before ? DbParam(std::to_string(*before)) : std::nullopt,
                          std::to_string(limit)}));
    json next = nullptr;
    if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
    return Reply::json(200, {{"items", items}, {"next_before", next}});
  });

  // ---- the audit trail: dbsync.audit_log (one row per applied change), keyset pages by
  // (audit_id, position); the cursor is "audit_id:position" (next_after of the previous page).
  // At most limit + 1 audit rows (batches) are expanded per page: each holds one change at least.
  auto audit_page = [](RequestContext& ctx, const DbParam& sync_id, const DbParam& job_id) {
    TRY(limit, limit_param(ctx.req, 100, 1000));
    long long after_audit = 0, after_pos = 0;
    if (ctx.req.has_param("after")) {
      const std::string a = ctx.req.get_param_value("after");
      const size_t colon = a.find(':');
      std::optional<long long> id, pos;
      if (colon != std::string::npos) {
        id = parse_id(a.substr(0, colon));
        pos = parse_id(a.substr(colon + 1));
      }
      if (!id || !pos)
        return Reply::error(bad_field(422, "invalid_value", "after",
                                      "after must be a cursor audit_id:position (next_after)"));
      after_audit = *id;
      after_pos = *pos;
    }
    DB_OR_RETURN(ctx, db);
    TRY(items, rows_json(*db,
                         "SELECT jsonb_build_object('job_id', l.job_id, 'sync_id', l.sync_id, "
                         "'side', l.side, 'at', l.at, 'key', l.key, 'operation', l.operation, "
                         "'fields', to_jsonb(l.fields), 'audit_id', l.audit_id, 'position', "
                         "l.position) FROM dbsync.audit_log l"
                         " WHERE l.audit_id = ANY (ARRAY("
                         "   SELECT a.id FROM dbsync.audit a JOIN dbsync.jobs j ON j.id = a.job_id"
                         "    WHERE ($1::bigint IS NULL OR j.sync_id = $1)"
                         "      AND ($2::bigint IS NULL OR a.job_id = $2) AND a.id >= $3::bigint"
                         "    ORDER BY a.id LIMIT $5::bigint + 1))"
                         "   AND (l.audit_id, l.position) > ($3::bigint, $4::bigint)"
                         " ORDER BY l.audit_id, l.position LIMIT $5::bigint",
                         {sync_id, job_id, std::to_string(after_audit), std::to_string(after_pos),
                          std::to_string(limit)}));
    json next = nullptr;
    if (static_cast<long long>(items.size()) == limit && limit > 0)
      next = std::to_string(items.back()["audit_id"].get<long long>()) + ":" +
             std::to_string(items.back()["position"].get<long long>());
    return Reply::json(200, {{"items", items}, {"next_after", next}});
  };
  add("GET", R"(/api/sync-configs/([^/]+)/audit)", "/api/sync-configs/{id}/audit",
      [audit_page](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        if (auto e = check_params(ctx.req, {"limit", "after", "job"})) return Reply::error(*e);
        TRY(job, id_param(ctx.req, "job"));
        {
          DB_OR_RETURN(ctx, db);
          TRY(name, name_of(*db, "syncs", "sync config", id));
          (void)name;
        }
        return audit_page(ctx, id, job ? DbParam(std::to_string(*job)) : std::nullopt);
      });
  add("GET", R"(/api/jobs/([^/]+)/audit)", "/api/jobs/{id}/audit",
      [audit_page](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("job", id));
        if (auto e = check_params(ctx.req, {"limit", "after"})) return Reply::error(*e);
        {
          DB_OR_RETURN(ctx, db);
          TRY(found,
              rows_json(*db, "SELECT to_jsonb(id) FROM dbsync.jobs WHERE id = $1::bigint", {id}));
          if (found.empty()) return Reply::error(not_found("job", id));
        }
        return audit_page(ctx, std::nullopt, id);
      });

  // ---- live progress: server-sent events (one hub polls the catalog for every stream)
  add("GET", R"(/api/jobs/([^/]+)/events)", "/api/jobs/{id}/events", [this](RequestContext& ctx) {
    std::string id = ctx.req.matches[1];
    if (auto e = check_params(ctx.req, {})) return Reply::error(*e);
    if (!parse_id(id)) return Reply::error(not_found("job", id));
    json first;
    {
      DB_OR_RETURN(ctx, db);
      TRY(row, row_json(*db,
                        "SELECT jsonb_build_object('status', l.status, 'job', to_jsonb(l) - "
                        "'duration') FROM dbsync.job_status($1::bigint) l",
                        {id}, not_found("job", id)));
      first = std::move(row);
    }
    ctx.release_session();  // a stream holds no connection: the hub reads for everyone
    auto sub = hub_->subscribe(*parse_id(id), first["job"].dump(),
                               JobEventHub::is_final_status(first["status"].get<std::string>()));
    if (!sub) {
      ApiError e{503, "too_many_subscribers",
                 "too many event streams are open (at most " +
                     std::to_string(hub_->max_subscribers()) + "); retry later",
                 json::object()};
      e.details["max_subscribers"] = hub_->max_subscribers();
      return Reply::error(e);
    }
    struct Stream {
      std::shared_ptr<JobSubscription> sub;
      uint64_t seen = 0;
      bool opened = false;
    };
    auto st = std::make_shared<Stream>();
    st->sub = std::move(sub);
    auto heartbeat = options_.sse_heartbeat;
    Reply r;
    r.content_type = "text/event-stream";
    r.stream = [st, heartbeat](size_t, httplib::DataSink& sink) -> bool {
      auto send = [&sink](const std::string& text) { return sink.write(text.data(), text.size()); };
      if (!st->opened) {
        st->opened = true;
        return send("retry: 2000\n\n");
      }
      JobSnapshot snap;
      switch (st->sub->wait(st->seen, heartbeat, snap)) {
        case JobSubscription::Wake::kStopping:
          if (!send("event: shutdown\ndata: {\"reason\": \"the server is stopping\"}\n\n"))
            return false;
          sink.done();
          return true;
        case JobSubscription::Wake::kTimeout:
          return send(": heartbeat\n\n");
        case JobSubscription::Wake::kChanged:
          break;
      }
      st->seen = snap.version;
      if (!send("id: " + std::to_string(snap.version) +
                "\nevent: " + (snap.final ? "end" : "progress") + "\ndata: " + snap.json + "\n\n"))
        return false;
      if (snap.final) sink.done();
      return true;
    };
    return r;
  });

  // ---- conflicts and decisions
  static const std::set<std::string> kConflictStatuses = {"pending", "resolved", "skipped"};
  add("GET", R"(/api/sync/([^/]+)/conflicts)", "/api/sync/{configId}/conflicts",
      [this](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        if (auto e = check_params(ctx.req, {"limit", "after", "status", "job"}))
          return Reply::error(*e);
        TRY(limit, limit_param(ctx.req, 100, 1000));
        TRY(after, id_param(ctx.req, "after"));
        TRY(job, id_param(ctx.req, "job"));
        DbParam status;
        if (ctx.req.has_param("status")) {
          status = ctx.req.get_param_value("status");
          if (!kConflictStatuses.count(*status))
            return Reply::error(bad_field(422, "invalid_value", "status",
                                          "status must be one of pending, resolved, skipped"));
        }
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        TRY(in_redis, redis_staged(*db, id));
        if (in_redis) {
          // The unfinished job's conflicts, in Redis (per-job ids); an older job's are in the
          // catalog (asked for with ?job=).
          auto page = redis_conflicts_->list(
              *parse_id(id), status ? std::optional<std::string>(*status) : std::nullopt,
              after.value_or(0), limit);
          if (!page.is_ok()) return Reply::error(from_stage_status(page.status(), "status"));
          json& r = *page;
          if (!job || r["job_id"].get<long long>() == *job)
            return Reply::json(200, {{"items", std::move(r["items"])},
                                     {"next_after", std::move(r["next_after"])},
                                     {"job_id", r["job_id"]},
                                     {"stage", "redis"}});
        }
        TRY(items, rows_json(*db,
                             "SELECT to_jsonb(l) FROM dbsync.conflict_list l WHERE l.sync = $1"
                             "   AND ($2::text IS NULL OR l.status = $2)"
                             "   AND ($3::bigint IS NULL OR l.job_id = $3)"
                             "   AND ($4::bigint IS NULL OR l.id > $4)"
                             " ORDER BY l.id LIMIT $5",
                             {name, status, job ? DbParam(std::to_string(*job)) : std::nullopt,
                              after ? DbParam(std::to_string(*after)) : std::nullopt,
                              std::to_string(limit)}));
        json next = nullptr;
        if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
        return Reply::json(200, {{"items", items}, {"next_after", next}, {"stage", "catalog"}});
      });
  add("POST", R"(/api/sync/([^/]+)/resolve/([^/]+))", "/api/sync/{configId}/resolve/{conflictId}",
      [this](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        std::string cid = ctx.req.matches[2];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        if (!parse_id(cid)) return Reply::error(not_found("conflict", cid));
        BODY_OR_RETURN(body, FieldSpec{"decision", F::kString, true},
                       FieldSpec{"row", F::kObject, false, true});
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        const bool has_row = body.contains("row") && !body["row"].is_null();
        TRY(in_redis, redis_staged(*db, id));
        if (in_redis) {
          const long long c = *parse_id(cid);
          auto done = redis_conflicts_->decide(
              *parse_id(id), c, body["decision"].get<std::string>(),
              has_row ? std::optional<json>(body["row"]) : std::nullopt, decided_by(ctx));
          if (!done.is_ok())
            return Reply::error(from_stage_status(done.status(), has_row ? "row" : "decision"));
          auto page = redis_conflicts_->list(*parse_id(id), std::nullopt, c - 1, 1);
          json conflict = nullptr;
          if (page.is_ok() && !(*page)["items"].empty()) conflict = (*page)["items"][0];
          return Reply::json(200, {{"result", (*done)["status"]},
                                   {"conflict", conflict},
                                   {"pending", (*done)["pending"]},
                                   {"job_requeued", (*done)["job_requeued"]}});
        }
        DbParam row;
        if (has_row) row = body["row"].dump();
        TRY(result,
            resolve_conflict(*db, id, *parse_id(cid), body["decision"].get<std::string>(), row));
        TRY(conflict,
            row_json(*db, "SELECT to_jsonb(l) FROM dbsync.conflict_list l WHERE l.id = $1", {cid},
                     not_found("conflict", cid)));
        return Reply::json(200, {{"result", result}, {"conflict", conflict}});
      });
  add("POST", R"(/api/sync/([^/]+)/resolve)", "/api/sync/{configId}/resolve",
      [this](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("sync config", id));
        BODY_OR_RETURN(body, FieldSpec{"decision", F::kString, true},
                       FieldSpec{"ids", F::kAny, false, true});
        std::vector<long long> ids;
        bool listed = body.contains("ids") && !body["ids"].is_null();
        if (listed) {
          const json& v = body["ids"];
          if (!v.is_array() || v.empty() || v.size() > 1000)
            return Reply::error(bad_field(422, "invalid_value", "ids",
                                          "ids must be an array of 1 to 1000 conflict ids"));
          std::set<long long> seen;
          for (const json& e : v) {
            if (!e.is_number_integer() || e.get<long long>() < 1)
              return Reply::error(
                  bad_field(422, "invalid_type", "ids", "ids must hold positive integer ids"));
            if (!seen.insert(e.get<long long>()).second)
              return Reply::error(
                  bad_field(422, "invalid_value", "ids",
                            "ids holds " + std::to_string(e.get<long long>()) + " twice"));
            ids.push_back(e.get<long long>());
          }
        }
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "syncs", "sync config", id));
        const std::string decision = body["decision"];
        TRY(in_redis, redis_staged(*db, id));
        if (in_redis && !listed) {
          auto done = redis_conflicts_->decide_all(*parse_id(id), decision, decided_by(ctx));
          if (!done.is_ok()) return Reply::error(from_stage_status(done.status(), "decision"));
          return Reply::json(200, {{"decided", (*done)["decided"]},
                                   {"pending", (*done)["pending"]},
                                   {"job_requeued", (*done)["job_requeued"]}});
        }
        if (in_redis) {
          // Each decision in Redis is atomic on its own: the listed ones are decided in order,
          // and the first refused one stops the rest (the error names it and what was decided).
          json results = json::array();
          for (long long c : ids) {
            auto done =
                redis_conflicts_->decide(*parse_id(id), c, decision, std::nullopt, decided_by(ctx));
            if (!done.is_ok()) {
              ApiError e = from_stage_status(done.status(), "decision");
              e.details["conflict_id"] = c;
              e.details["decided"] = results;
              return Reply::error(e);
            }
            results.push_back({{"id", c}, {"result", (*done)["status"]}});
          }
          return Reply::json(200, {{"decided", ids.size()}, {"results", results}});
        }
        if (!listed) {
          TRY(n,
              rows_json(*db, "SELECT to_jsonb(dbsync.resolve_all($1, $2))", {name, decision}, 422));
          return Reply::json(200, {{"decided", n[0]}});
        }
        // Every listed conflict, or none: one transaction.
        Transaction tx(*db);
        json results = json::array();
        for (long long c : ids) {
          auto r = resolve_conflict(*db, id, c, decision, std::nullopt);
          if (!r.ok()) {
            ApiError e = r.error();
            e.details["conflict_id"] = c;
            return Reply::error(e);
          }
          results.push_back({{"id", c}, {"result", r.value()}});
        }
        if (auto e = tx.commit()) return Reply::error(*e);
        return Reply::json(200, {{"decided", ids.size()}, {"results", results}});
      });

  // ---- browse a datasource (dbsync.tables / columns / rows)
  add("GET", R"(/api/datasources/([^/]+)/tables)", "/api/datasources/{id}/tables",
      [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        if (!parse_id(id)) return Reply::error(not_found("datasource", id));
        if (auto e = check_params(ctx.req, {"limit", "after_schema", "after_name"}))
          return Reply::error(*e);
        TRY(limit, limit_param(ctx.req, 100, 1000));
        DbParam after_schema, after_name;
        if (ctx.req.has_param("after_schema") != ctx.req.has_param("after_name"))
          return Reply::error(
              bad_field(422, "invalid_value",
                        ctx.req.has_param("after_schema") ? "after_name" : "after_schema",
                        "after_schema and after_name go together"));
        if (ctx.req.has_param("after_schema")) {
          after_schema = ctx.req.get_param_value("after_schema");
          after_name = ctx.req.get_param_value("after_name");
        }
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "datasources", "datasource", id));
        TRY(items,
            browse_json(*db, "SELECT to_jsonb(t) FROM dbsync.tables($1, $2, $3, $4::integer) t",
                        {name, after_schema, after_name, std::to_string(limit)}));
        json next = nullptr;
        if (static_cast<long long>(items.size()) == limit)
          next = {{"after_schema", items.back()["schema"]}, {"after_name", items.back()["name"]}};
        return Reply::json(200, {{"items", items}, {"next", next}});
      });
  add("GET", R"(/api/datasources/([^/]+)/tables/([^/]+)/schema)",
      "/api/datasources/{id}/tables/{table}/schema", [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        std::string table = ctx.req.matches[2];
        if (!parse_id(id)) return Reply::error(not_found("datasource", id));
        if (auto e = check_params(ctx.req, {})) return Reply::error(*e);
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "datasources", "datasource", id));
        TRY(cols,
            browse_json(*db, "SELECT to_jsonb(c) FROM dbsync.columns($1, $2) c", {name, table}));
        json key = json::array();
        std::vector<std::pair<long long, std::string>> keyed;
        for (const json& c : cols)
          if (!c["key_position"].is_null())
            keyed.emplace_back(c["key_position"].get<long long>(), c["name"].get<std::string>());
        std::sort(keyed.begin(), keyed.end());
        for (auto& [pos, n] : keyed) key.push_back(n);
        return Reply::json(200, {{"table", table}, {"columns", cols}, {"primary_key", key}});
      });
  add("GET", R"(/api/datasources/([^/]+)/tables/([^/]+)/rows)",
      "/api/datasources/{id}/tables/{table}/rows", [](RequestContext& ctx) {
        std::string id = ctx.req.matches[1];
        std::string table = ctx.req.matches[2];
        if (!parse_id(id)) return Reply::error(not_found("datasource", id));
        if (auto e = check_params(ctx.req, {"limit", "after"})) return Reply::error(*e);
        TRY(limit, limit_param(ctx.req, 100, 1000));
        DbParam after;
        if (ctx.req.has_param("after")) {
          json a = json::parse(ctx.req.get_param_value("after"), nullptr, false);
          if (!a.is_object())
            return Reply::error(bad_field(
                422, "invalid_value", "after",
                "after must be a JSON object of the primary key columns, e.g. {\"id\": 42}"));
          after = a.dump();
        }
        DB_OR_RETURN(ctx, db);
        TRY(name, name_of(*db, "datasources", "datasource", id));
        auto items_res =
            browse_json(*db, "SELECT r FROM dbsync.rows($1, $2, $3::jsonb, $4::integer) r",
                        {name, table, after, std::to_string(limit)});
        if (!items_res.ok()) {
          ApiError e = items_res.error();
          std::string msg = e.message;
          if (e.status == 422 && msg.rfind("after ", 0) == 0) e.details["field"] = "after";
          return Reply::error(e);
        }
        json items = std::move(items_res.value());
        json next = nullptr;
        if (static_cast<long long>(items.size()) == limit) {
          TRY(key, browse_json(*db,
                               "SELECT to_jsonb(c.name) FROM dbsync.columns($1, $2) c "
                               "WHERE c.key_position IS NOT NULL ORDER BY c.key_position",
                               {name, table}));
          next = json::object();
          for (const json& k : key) next[k.get<std::string>()] = items.back()[k.get<std::string>()];
        }
        return Reply::json(200, {{"items", items}, {"next_after", next}});
      });

  // ---- settings (the daemon's, in dbsync.settings under "daemon.")
  auto read_settings = [](DbSession& db) -> ApiResult<json> {
    auto r = rows_json(db,
                       "SELECT COALESCE(jsonb_object_agg(substr(key, 8), value), '{}') "
                       "FROM dbsync.settings WHERE key LIKE 'daemon.%'",
                       {});
    if (!r.ok()) return r.error();
    json stored = r.value()[0];
    json out = {{"redis_url", nullptr}, {"redis_password", nullptr}};
    if (stored.contains("redis_url") && stored["redis_url"].is_string())
      out["redis_url"] = mask_url_password(stored["redis_url"].get<std::string>());
    if (stored.contains("redis_password") && !stored["redis_password"].is_null())
      out["redis_password"] = "********";
    return out;
  };
  add("GET", "/api/settings", "/api/settings", [read_settings](RequestContext& ctx) {
    if (auto e = check_params(ctx.req, {})) return Reply::error(*e);
    DB_OR_RETURN(ctx, db);
    TRY(s, read_settings(*db));
    return Reply::json(200, s);
  });
  // The Redis password is stored sealed with SECRET_KEY (daemon/redis_stage_factory.hpp), as
  // datasource conninfos are; a password written in redis_url is moved out of it the same way
  // (the stored URL keeps "********" in its place: the sealed password wins when connecting).
  // A clear password stored before sealing existed is still read, and sealed by the next PUT.
  add("PUT", "/api/settings", "/api/settings", [this, read_settings](RequestContext& ctx) {
    BODY_OR_RETURN(body, FieldSpec{"redis_url", F::kString, false, true},
                   FieldSpec{"redis_password", F::kString, false, true});
    if (auto u = opt_string(body, "redis_url")) {
      bool scheme = u->rfind("redis://", 0) == 0 || u->rfind("rediss://", 0) == 0;
      if (!scheme || u->size() > 2048 || u->find_first_of(" \r\n\t") != std::string::npos)
        return Reply::error(bad_field(422, "invalid_value", "redis_url",
                                      "redis_url must look like redis://host:port/db"));
      if (u->find("********") != std::string::npos)
        return Reply::error(bad_field(422, "invalid_value", "redis_url",
                                      "redis_url holds the masked password: send the real one"));
    }
    const secrets::Key* key = secret_key_ ? &*secret_key_ : nullptr;
    DB_OR_RETURN(ctx, db);
    // What is stored: the URL, and the password (opened) with whether it is still in clear.
    DbRows rows;
    DbError err;
    if (!db->query("SELECT (SELECT value #>> '{}' FROM dbsync.settings WHERE key = "
                   "'daemon.redis_url' AND jsonb_typeof(value) = 'string'), p.t, "
                   "CASE p.t WHEN 'object' THEN p.v ->> 'sealed' ELSE p.v #>> '{}' END "
                   "FROM (SELECT 1) one LEFT JOIN (SELECT jsonb_typeof(value) AS t, value AS v "
                   "FROM dbsync.settings WHERE key = 'daemon.redis_password' "
                   "AND jsonb_typeof(value) IN ('string', 'object')) p ON true",
                   {}, rows, err))
      return Reply::error(error_from_db(err));
    std::optional<std::string> url, password;
    if (!rows.is_null(0, 0)) url = rows.get(0, 0);
    const bool password_given =
        body.contains("redis_password") &&
        !(body["redis_password"].is_string() && body["redis_password"] == "********");
    bool stored_clear = false;
    if (!rows.is_null(0, 1) && !password_given) {
      Result<std::string> opened = open_redis_password(
          rows.get(0, 1), rows.is_null(0, 2) ? std::string() : rows.get(0, 2), key);
      if (!opened.is_ok())
        return Reply::error({409, "redis_password_unreadable", opened.status().message(),
                             json{{"field", "redis_password"}}});
      password = std::move(opened).value();
      stored_clear = rows.get(0, 1) == "string";
    }
    // The state after this request: what the body leaves out stays.
    const bool url_given = body.contains("redis_url");
    if (url_given)
      url = body["redis_url"].is_null()
                ? std::nullopt
                : std::optional<std::string>(body["redis_url"].get<std::string>());
    if (password_given)
      password = body["redis_password"].is_null()
                     ? std::nullopt
                     : std::optional<std::string>(body["redis_password"].get<std::string>());
    // A password in the URL: the body's redis_password wins, as when connecting; a URL from
    // the body brings its own; an old stored URL's password goes only where none is stored.
    bool url_password = false;
    if (url) {
      Result<redis::RedisUrl> parsed = redis::parse_redis_url(*url);
      // (A stored URL already says "********": its password is the stored one.)
      if (parsed.is_ok() && parsed->password && *parsed->password != "********") {
        url_password = true;
        const bool body_password = password_given && password;
        if (!body_password && (url_given || !password)) password = parsed->password;
        *url = redis::redis_url_with_masked_password(*url);
      }
    }
    const bool new_password = password && (password_given || (url_given && url_password));
    if (new_password && !key)
      return Reply::error(
          {409, "secret_key_missing",
           "SECRET_KEY is not set: dbsyncd cannot keep a Redis password (it is stored sealed "
           "with SECRET_KEY, like datasource secrets); start dbsyncd with SECRET_KEY, or use a "
           "Redis without a password",
           json{{"field", password_given ? "redis_password" : "redis_url"}}});
    // A Redis that is set must answer PING, with the password that will be stored.
    if (url && (url_given || password_given)) {
      Status st = redis::check_redis(*url, password);
      if (!st.is_ok()) {
        const std::string& m = st.message();
        const bool auth = m.find("AUTH") != std::string::npos ||
                          m.find("WRONGPASS") != std::string::npos ||
                          m.find("NOAUTH") != std::string::npos;
        return Reply::error(bad_field(
            422, st.code() == ErrorCode::kUnavailable ? "redis_unreachable" : "invalid_value",
            auth ? "redis_password" : "redis_url", "Redis check failed: " + m));
      }
    }
    auto put = [&](const char* name, const std::optional<std::string>& value,
                   const char* as_jsonb) -> std::optional<ApiError> {
      DbRows out;
      DbError e;
      bool ok = !value ? db->query("DELETE FROM dbsync.settings WHERE key = $1",
                                   {std::string("daemon.") + name}, out, e)
                       : db->query(std::string("INSERT INTO dbsync.settings (key, value) VALUES "
                                               "($1, ") +
                                       as_jsonb +
                                       ") ON CONFLICT (key) DO UPDATE SET value = "
                                       "EXCLUDED.value, updated_at = now()",
                                   {std::string("daemon.") + name, *value}, out, e);
      if (!ok) return error_from_db(e, 422);
      return std::nullopt;
    };
    // Without a key an old URL or clear password stays as it was (nothing to seal it with).
    if (url_given || (url_password && key))
      if (auto e = put("redis_url", url, "to_jsonb($2::text)")) return Reply::error(*e);
    if (password && key && (new_password || stored_clear || url_password)) {
      Result<std::string> sealed = seal_redis_password(*key, *password);
      if (!sealed.is_ok())
        return Reply::error({500, "internal", sealed.status().message(), json::object()});
      if (auto e = put("redis_password", *sealed, "jsonb_build_object('sealed', $2::text)"))
        return Reply::error(*e);
    } else if (password_given && !password) {
      if (auto e = put("redis_password", std::nullopt, "")) return Reply::error(*e);
    }
    if (password) secrets::wipe(*password);
    TRY(s, read_settings(*db));
    return Reply::json(200, s);
  });
}

}  // namespace dbsync::daemon
