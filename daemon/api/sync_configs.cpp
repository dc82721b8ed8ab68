// /api/sync-configs: list (keyset pages by id), create, read, change, delete, preview. The SQL
// API (dbsync.create_sync, alter_sync...) checks them; "schedule" goes through dbsync.schedule
// in the same transaction.
#include "daemon/api/api.hpp"
#include "daemon/catalog/syncs.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

// The fields of a sync config: the SQL API's arguments, and "schedule".
const std::vector<FieldSpec>& sync_fields() {
  static const std::vector<FieldSpec> kFields = [] {
    std::vector<FieldSpec> out;
    for (const catalog::SyncArg& a : catalog::sync_args()) {
      FieldType t = FieldType::kString;
      switch (a.type) {
        case catalog::SyncArgType::kText:
          t = FieldType::kString;
          break;
        case catalog::SyncArgType::kJsonb:
          t = FieldType::kObject;
          break;
        case catalog::SyncArgType::kTextArray:
          t = FieldType::kStringArray;
          break;
        case catalog::SyncArgType::kInteger:
          t = FieldType::kInteger;
          break;
        case catalog::SyncArgType::kBoolean:
          t = FieldType::kBoolean;
          break;
      }
      if (std::string_view(a.name) == "audit")
        out.push_back({"schedule", FieldType::kString, false, true});
      out.push_back({a.name, t, false, a.nullable});
    }
    return out;
  }();
  return kFields;
}

// The fields that are arguments of create_sync / alter_sync (all but "schedule").
json sync_arguments(json body) {
  body.erase("schedule");
  return body;
}

// "schedule": a cron text sets it (dbsync.schedule checks it), null removes it.
std::optional<ApiError> apply_schedule(pg::PgConnection& db, const json& body,
                                       const std::string& name) {
  if (!body.contains("schedule")) return std::nullopt;
  auto done = from_db(catalog::set_schedule(db, name, opt_string(body, "schedule")), 422);
  if (done.ok()) return std::nullopt;
  ApiError e = done.error();
  if (e.status == 422) e.details["field"] = "schedule";
  return e;
}

Reply current(pg::PgConnection& db, long long id, int status, const std::string& id_text) {
  TRY(row, from_db(catalog::get_sync(db, id)));
  if (!row) return Reply::error(not_found("sync config", id_text));
  return Reply::json(status, std::move(*row));
}

Reply list(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "after"}));
  TRY(limit, limit_param(req.http, 100, 1000));
  TRY(after, id_query(req.http, "after"));
  TRY(db, req.db());
  TRY(items, from_db(catalog::list_syncs(*db, after, limit)));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
  return Reply::json(200, {{"items", items}, {"next_after", next}});
}

Reply create(Request& req) {
  TRY(body, parse_body(req.http.body, sync_fields()));
  for (const char* field : {"name", "source", "source_table", "target", "target_table"})
    if (!body.contains(field))
      return Reply::error(
          bad_field(422, "missing_field", field, std::string("missing field '") + field + "'"));
  TRY(db, req.db());
  catalog::Transaction tx(*db);  // the sync and its schedule together, or neither
  TRY(id, from_db(catalog::create_sync(*db, sync_arguments(body)), 422));
  API_CHECK(apply_schedule(*db, body, body["name"].get<std::string>()));
  API_DO(from_db(tx.commit()));
  Reply r = current(*db, id, 201, std::to_string(id));
  if (r.status == 201) r.location = "/api/sync-configs/" + std::to_string(id);
  return r;
}

Reply get(Request& req) {
  TRY(db, req.db());
  return current(*db, req.id("id"), 200, req.param("id"));
}

Reply change(Request& req) {
  TRY(body, parse_body(req.http.body, sync_fields()));
  if (body.contains("name"))
    return Reply::error(bad_field(422, "read_only_field", "name",
                                  "a sync config cannot be renamed (field 'name')"));
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req));
  catalog::Transaction tx(*db);
  API_DO(from_db(catalog::alter_sync(*db, name, sync_arguments(body)), 422));
  API_CHECK(apply_schedule(*db, body, name));
  API_DO(from_db(tx.commit()));
  return current(*db, req.id("id"), 200, req.param("id"));
}

// The SQL API's own checks apply.
Reply remove(Request& req) {
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req));
  API_DO(from_db(catalog::drop_sync(*db, name)));
  return Reply::no_content();
}

Reply preview(Request& req) {
  TRY(body, parse_body(req.http.body, {{"limit", FieldType::kInteger}}));
  const long long limit = body.value("limit", 10LL);
  if (limit < 1 || limit > 1000)
    return Reply::error(bad_field(422, "invalid_value", "limit", "limit must be from 1 to 1000"));
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req));
  TRY(rows, from_db(catalog::preview(*db, name, limit), 422));
  json out = {{"rows", rows}};
  auto diff = catalog::diff(*db, name, limit);
  if (diff.is_ok()) {
    out["diff"] = std::move(diff.value());
  } else if (diff.failure().sqlstate == "0A000") {  // an end that is not PostgreSQL
    out["diff"] = nullptr;
    out["diff_unavailable"] = diff.failure().message;
  } else {
    return Reply::error(error_from_db(diff.failure(), 422));
  }
  return Reply::json(200, out);
}

}  // namespace

void add_sync_config_routes(Router& r) {
  using doc::op;
  using doc::ref;
  r.add("GET", "/api/sync-configs", {}, list).doc =
      op("List sync configs", "200", doc::list("SyncConfig"));
  r.add("POST", "/api/sync-configs", {}, create).doc =
      op("Create a sync config (validated by the extension)", "201", ref("SyncConfig"), true,
         ref("SyncConfigCreate"));
  r.add("GET", "/api/sync-configs/{id}", {"sync config"}, get).doc =
      op("One sync config", "200", ref("SyncConfig"));
  r.add("PUT", "/api/sync-configs/{id}", {"sync config"}, change).doc =
      op("Change a sync config", "200", ref("SyncConfig"), true, ref("SyncConfigUpdate"));
  r.add("DELETE", "/api/sync-configs/{id}", {"sync config"}, remove).doc =
      op("Drop a sync config with its jobs and baseline", "204", nullptr);
  r.add("POST", "/api/sync-configs/{id}/preview", {"sync config"}, preview).doc =
      op("Mapped rows and the planned diff; nothing written", "200", doc::obj());
}

}  // namespace dbsync::daemon::api
