#include "daemon/api/api.hpp"
#include "daemon/catalog/datasources.hpp"
#include "daemon/catalog/jobs.hpp"
#include "daemon/catalog/syncs.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

void add_all_routes(Router& r, Services& s) {
  add_health_routes(r, s);
  add_openapi_routes(r);
  add_token_routes(r);
  add_datasource_routes(r);
  add_browse_routes(r);
  add_sync_config_routes(r);
  add_job_routes(r, s);
  add_audit_routes(r);
  add_conflict_routes(r, s);
  add_webhook_routes(r, s);
  add_settings_routes(r, s);
}

std::optional<ApiError> check_params(const httplib::Request& req,
                                     std::initializer_list<const char*> known) {
  for (const auto& [k, v] : req.params) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) return bad_field(422, "unknown_parameter", k, "unknown query parameter '" + k + "'");
  }
  return std::nullopt;
}

ApiResult<long long> limit_param(const httplib::Request& req, long long def, long long max) {
  if (!req.has_param("limit")) return def;
  auto v = parse_id(req.get_param_value("limit"));
  if (!v || *v > max)
    return bad_field(422, "invalid_value", "limit",
                     "limit must be a number from 1 to " + std::to_string(max));
  return *v;
}

ApiResult<std::optional<long long>> id_query(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::optional<long long>{};
  auto v = parse_id(req.get_param_value(name));
  if (!v)
    return bad_field(422, "invalid_value", name, std::string(name) + " must be a positive id");
  return std::optional<long long>{*v};
}

std::optional<std::string> opt_string(const json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  return body[field].get<std::string>();
}

namespace {
ApiResult<std::string> name_or_404(catalog::DbResult<std::optional<std::string>> r,
                                   const char* what, const std::string& id_text) {
  if (!r.is_ok()) return error_from_db(r.failure());
  if (!r.value()) return not_found(what, id_text);
  return std::move(*r.value());
}
}  // namespace

ApiResult<std::string> sync_name_of(pg::PgConnection& db, const Request& req, const char* param) {
  return name_or_404(catalog::sync_name(db, req.id(param)), "sync config", req.param(param));
}

ApiResult<std::string> datasource_name_of(pg::PgConnection& db, const Request& req) {
  return name_or_404(catalog::datasource_name(db, req.id("id")), "datasource", req.param("id"));
}

Reply queued_job_reply(pg::PgConnection& db, const Request& req, const std::string& trigger,
                       const std::string& requested_by) {
  const std::string id = req.param("configId");
  TRY(q, from_db(catalog::queue_job(db, req.id("configId"), trigger, requested_by)));
  if (!q) return Reply::error(not_found("sync config", id));
  const long long job_id = (*q)["job_id"].get<long long>();
  const std::string job = std::to_string(job_id);
  TRY(row, from_db(catalog::job_status(db, job_id)));
  if (!row) return Reply::error(not_found("job", job));
  Reply r = Reply::json(202, {{"job", *row}, {"created", (*q)["created"]}});
  r.location = "/api/sync/" + job + "/status";
  return r;
}

}  // namespace dbsync::daemon::api
