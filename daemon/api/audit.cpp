// The audit trail: dbsync.audit_log (one row per applied change) of a sync or of a job, in
// keyset pages by (audit_id, position); the cursor is "audit_id:position" (next_after of the
// previous page).
#include "daemon/api/api.hpp"
#include "daemon/catalog/jobs.hpp"
#include "daemon/catalog/syncs.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

Reply page(Request& req, pg::PgConnection& db, catalog::AuditPage p) {
  TRY(limit, limit_param(req.http, 100, 1000));
  p.limit = limit;
  if (req.http.has_param("after")) {
    const std::string a = req.http.get_param_value("after");
    const size_t colon = a.find(':');
    std::optional<long long> id, pos;
    if (colon != std::string::npos) {
      id = parse_id(a.substr(0, colon));
      pos = parse_id(a.substr(colon + 1));
    }
    if (!id || !pos)
      return Reply::error(bad_field(422, "invalid_value", "after",
                                    "after must be a cursor audit_id:position (next_after)"));
    p.after_audit = *id;
    p.after_position = *pos;
  }
  TRY(items, from_db(catalog::audit_page(db, p)));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit && limit > 0)
    next = std::to_string(items.back()["audit_id"].get<long long>()) + ":" +
           std::to_string(items.back()["position"].get<long long>());
  return Reply::json(200, {{"items", items}, {"next_after", next}});
}

Reply of_sync(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "after", "job"}));
  TRY(job, id_query(req.http, "job"));
  TRY(db, req.db());
  API_DO(sync_name_of(*db, req));  // 404 for a sync that does not exist
  return page(req, *db, catalog::AuditPage{req.id("id"), job});
}

Reply of_job(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "after"}));
  TRY(db, req.db());
  TRY(found, from_db(catalog::job_exists(*db, req.id("id"))));
  if (!found) return Reply::error(not_found("job", req.param("id")));
  return page(req, *db, catalog::AuditPage{std::nullopt, req.id("id")});
}

}  // namespace

void add_audit_routes(Router& r) {
  json entries = doc::list("AuditEntry");
  entries["properties"]["next_after"] = {
      {"type", "string"},
      {"nullable", true},
      {"description", "the cursor of the next page (audit_id:position); null on the last"}};
  const json limit = doc::qparam("limit", "integer", "1..1000, default 100");
  const json after =
      doc::qparam("after", "string", "cursor audit_id:position: the next page starts after it");
  Route& s = r.add("GET", "/api/sync-configs/{id}/audit", {"sync config"}, of_sync);
  s.doc =
      doc::op("What the sync's jobs applied, one entry per change, oldest first (keyset paging)",
              "200", entries);
  s.parameters = {doc::id_param("id"), doc::qparam("job", "integer", "only this job's"), limit,
                  after};
  Route& j = r.add("GET", "/api/jobs/{id}/audit", {"job"}, of_job);
  j.doc = doc::op("What a job applied, one entry per change (keyset paging)", "200", entries);
  j.parameters = {doc::id_param("id"), limit, after};
}

}  // namespace dbsync::daemon::api
