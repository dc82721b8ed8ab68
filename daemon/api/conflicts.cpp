// Conflicts and decisions: a sync's conflicts (keyset pages by id), one decision, and decisions
// in bulk. The conflicts of a job staged in Redis are listed and decided there
// (RedisConflicts); the others in the catalog (dbsync.resolve decides).
#include <set>

#include "daemon/api/api.hpp"
#include "daemon/catalog/conflicts.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

const std::set<std::string> kConflictStatuses = {"pending", "resolved", "skipped"};

// Who decides (recorded with a decision in Redis): the API token's name.
std::string decided_by(const Request& req) {
  return req.who ? "api token " + req.who->name : "api";
}

// An answer of the Redis stage's conflicts (daemon/runner/redis_conflicts.hpp) as an API error.
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

// The one place a decision on a conflict of the catalog is taken (POST .../resolve/{id} and the
// bulk form with ids): dbsync.resolve decides. A conflict of another sync is "not found" for
// this one.
ApiResult<std::string> resolve_conflict(pg::PgConnection& db, long long sync_id, long long conflict,
                                        const std::string& decision, const catalog::DbParam& row) {
  auto owner = from_db(catalog::conflict_sync(db, conflict));
  if (!owner.ok()) return owner.error();
  if (!owner.value() || *owner.value() != sync_id) {
    ApiError e = not_found("conflict", std::to_string(conflict));
    e.details["sync_config_id"] = std::to_string(sync_id);
    return e;
  }
  auto r = catalog::resolve(db, conflict, decision, row);
  if (r.is_ok()) return std::move(r).value();
  // 42703: the custom row names a column the sync does not write (a field of the body).
  ApiError e = error_from_db(r.failure(), 422);
  if (e.status == 422)
    e.details["field"] = r.failure().message.rfind("unknown decision", 0) == 0 ? "decision" : "row";
  return e;
}

Reply list(Request& req, Services& s) {
  const long long sync_id = req.id("configId");
  API_CHECK(check_params(req.http, {"limit", "after", "status", "job"}));
  TRY(limit, limit_param(req.http, 100, 1000));
  TRY(after, id_query(req.http, "after"));
  TRY(job, id_query(req.http, "job"));
  std::optional<std::string> status;
  if (req.http.has_param("status")) {
    status = req.http.get_param_value("status");
    if (!kConflictStatuses.count(*status))
      return Reply::error(bad_field(422, "invalid_value", "status",
                                    "status must be one of pending, resolved, skipped"));
  }
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req, "configId"));
  TRY(in_redis, from_db(catalog::redis_staged(*db, sync_id)));
  if (in_redis) {
    // The unfinished job's conflicts, in Redis (per-job ids); an older job's are in the
    // catalog (asked for with ?job=).
    auto page = s.redis_conflicts.list(sync_id, status, after.value_or(0), limit);
    if (!page.is_ok()) return Reply::error(from_stage_status(page.status(), "status"));
    json& r = *page;
    if (!job || r["job_id"].get<long long>() == *job)
      return Reply::json(200, {{"items", std::move(r["items"])},
                               {"next_after", std::move(r["next_after"])},
                               {"job_id", r["job_id"]},
                               {"stage", "redis"}});
  }
  TRY(items, from_db(catalog::list_conflicts(*db, {name, status, job, after, limit})));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
  return Reply::json(200, {{"items", items}, {"next_after", next}, {"stage", "catalog"}});
}

Reply resolve_one(Request& req, Services& s) {
  const long long sync_id = req.id("configId"), cid = req.id("conflictId");
  TRY(body, parse_body(req.http.body, {{"decision", FieldType::kString, true},
                                       {"row", FieldType::kObject, false, true}}));
  TRY(db, req.db());
  API_DO(sync_name_of(*db, req, "configId"));
  const bool has_row = body.contains("row") && !body["row"].is_null();
  const std::string decision = body["decision"].get<std::string>();
  TRY(in_redis, from_db(catalog::redis_staged(*db, sync_id)));
  if (in_redis) {
    auto done = s.redis_conflicts.decide(sync_id, cid, decision,
                                         has_row ? std::optional<json>(body["row"]) : std::nullopt,
                                         decided_by(req));
    if (!done.is_ok())
      return Reply::error(from_stage_status(done.status(), has_row ? "row" : "decision"));
    auto page = s.redis_conflicts.list(sync_id, std::nullopt, cid - 1, 1);
    json conflict = nullptr;
    if (page.is_ok() && !(*page)["items"].empty()) conflict = (*page)["items"][0];
    return Reply::json(200, {{"result", (*done)["status"]},
                             {"conflict", conflict},
                             {"pending", (*done)["pending"]},
                             {"job_requeued", (*done)["job_requeued"]}});
  }
  catalog::DbParam row;
  if (has_row) row = body["row"].dump();
  TRY(result, resolve_conflict(*db, sync_id, cid, decision, row));
  TRY(conflict, from_db(catalog::get_conflict(*db, cid)));
  if (!conflict) return Reply::error(not_found("conflict", req.param("conflictId")));
  return Reply::json(200, {{"result", result}, {"conflict", *conflict}});
}

// The listed conflict ids of a bulk decision: 1 to 1000 positive ids, each once.
ApiResult<std::vector<long long>> listed_ids(const json& v) {
  if (!v.is_array() || v.empty() || v.size() > 1000)
    return bad_field(422, "invalid_value", "ids", "ids must be an array of 1 to 1000 conflict ids");
  std::vector<long long> ids;
  std::set<long long> seen;
  for (const json& e : v) {
    if (!e.is_number_integer() || e.get<long long>() < 1)
      return bad_field(422, "invalid_type", "ids", "ids must hold positive integer ids");
    if (!seen.insert(e.get<long long>()).second)
      return bad_field(422, "invalid_value", "ids",
                       "ids holds " + std::to_string(e.get<long long>()) + " twice");
    ids.push_back(e.get<long long>());
  }
  return ids;
}

Reply resolve_many(Request& req, Services& s) {
  const long long sync_id = req.id("configId");
  TRY(body, parse_body(req.http.body, {{"decision", FieldType::kString, true},
                                       {"ids", FieldType::kAny, false, true}}));
  const bool listed = body.contains("ids") && !body["ids"].is_null();
  std::vector<long long> ids;
  if (listed) {
    TRY(checked, listed_ids(body["ids"]));
    ids = std::move(checked);
  }
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req, "configId"));
  const std::string decision = body["decision"];
  TRY(in_redis, from_db(catalog::redis_staged(*db, sync_id)));
  if (in_redis && !listed) {
    auto done = s.redis_conflicts.decide_all(sync_id, decision, decided_by(req));
    if (!done.is_ok()) return Reply::error(from_stage_status(done.status(), "decision"));
    return Reply::json(200, {{"decided", (*done)["decided"]},
                             {"pending", (*done)["pending"]},
                             {"job_requeued", (*done)["job_requeued"]}});
  }
  if (in_redis) {
    // Each decision in Redis is atomic on its own: the listed ones are decided in order, and
    // the first refused one stops the rest (the error names it and what was decided).
    json results = json::array();
    for (long long c : ids) {
      auto done = s.redis_conflicts.decide(sync_id, c, decision, std::nullopt, decided_by(req));
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
    TRY(n, from_db(catalog::resolve_all(*db, name, decision), 422));
    return Reply::json(200, {{"decided", n}});
  }
  // Every listed conflict, or none: one transaction.
  catalog::Transaction tx(*db);
  json results = json::array();
  for (long long c : ids) {
    auto r = resolve_conflict(*db, sync_id, c, decision, std::nullopt);
    if (!r.ok()) {
      ApiError e = r.error();
      e.details["conflict_id"] = c;
      return Reply::error(e);
    }
    results.push_back({{"id", c}, {"result", r.value()}});
  }
  API_DO(from_db(tx.commit()));
  return Reply::json(200, {{"decided", ids.size()}, {"results", results}});
}

}  // namespace

void add_conflict_routes(Router& r, Services& s) {
  using doc::qparam;
  Route& l = r.add("GET", "/api/sync/{configId}/conflicts", {"sync config"},
                   [&s](Request& req) { return list(req, s); });
  l.doc = doc::op(
      "Conflicts of a sync, by id (keyset paging). stage says where they are: catalog, or "
      "redis while the sync's unfinished job is staged in Redis (per-job ids, job_id given); "
      "once that job commits, its conflicts and decisions are in the catalog (new ids)",
      "200", doc::list("Conflict"));
  l.parameters = {
      doc::id_param("configId"), qparam("status", "string", "pending, resolved or skipped"),
      qparam("job", "integer", "only this job's"),
      qparam("limit", "integer", "1..1000, default 100"),
      qparam("after", "integer", "conflict id: the next page starts after it (next_after)")};
  r.add("POST", "/api/sync/{configId}/resolve/{conflictId}", {"sync config", "conflict"},
        [&s](Request& req) { return resolve_one(req, s); })
      .doc = doc::op(
      "Decide one conflict (dbsync.resolve, or the Redis stage's for a job staged there): "
      "source, target, merge, skip, or custom with a row of target columns. A conflict of "
      "another sync is 404; an already decided one 409; Redis down 503",
      "200", doc::obj(), true,
      {{"type", "object"},
       {"additionalProperties", false},
       {"required", {"decision"}},
       {"properties", {{"decision", doc::ref("Decision")}, {"row", doc::obj()}}}});
  r.add("POST", "/api/sync/{configId}/resolve", {"sync config"},
        [&s](Request& req) { return resolve_many(req, s); })
      .doc = doc::op(
      "Decide in bulk: without ids every pending conflict of the sync (dbsync.resolve_all; "
      "not custom); with ids (1..1000 conflicts of this sync) those, all or none (in "
      "Redis: in order, stopping at the first refusal)",
      "200", doc::obj(), true,
      {{"type", "object"},
       {"additionalProperties", false},
       {"required", {"decision"}},
       {"properties",
        {{"decision", doc::ref("Decision")},
         {"ids", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}}});
}

}  // namespace dbsync::daemon::api
