// /api/datasources: list (keyset pages by id), create, read, change, delete, test. The SQL API
// (dbsync.add_datasource...) checks and stores them.
#include "daemon/catalog/datasources.hpp"
#include "daemon/api/api.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;
using F = FieldType;

namespace {

Reply list(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "after"}));
  TRY(limit, limit_param(req.http, 100, 1000));
  TRY(after, id_query(req.http, "after"));
  TRY(db, req.db());
  TRY(items, from_db(catalog::list_datasources(*db, after, limit)));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
  return Reply::json(200, {{"items", items}, {"next_after", next}});
}

// The datasource's row as it is now.
Reply current(pg::PgConnection& db, long long id, int status, const std::string& id_text) {
  TRY(row, from_db(catalog::get_datasource(db, id)));
  if (!row) return Reply::error(not_found("datasource", id_text));
  return Reply::json(status, std::move(*row));
}

Reply create(Request& req) {
  TRY(body, parse_body(req.http.body, {{"name", F::kString, true},
                                       {"kind", F::kString, true},
                                       {"conninfo", F::kString, false, true},
                                       {"options", F::kObject, false, true}}));
  TRY(db, req.db());
  catalog::DbParam options;
  if (body.contains("options") && !body["options"].is_null()) options = body["options"].dump();
  TRY(id, from_db(catalog::add_datasource(*db, body["name"].get<std::string>(),
                                          body["kind"].get<std::string>(),
                                          opt_string(body, "conninfo"), options),
                  422));
  Reply r = current(*db, id, 201, std::to_string(id));
  if (r.status == 201) r.location = "/api/datasources/" + std::to_string(id);
  return r;
}

Reply get(Request& req) {
  TRY(db, req.db());
  return current(*db, req.id("id"), 200, req.param("id"));
}

Reply change(Request& req) {
  TRY(body, parse_body(req.http.body,
                       {{"name", F::kString}, {"conninfo", F::kString}, {"options", F::kObject}}));
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  catalog::DbParam options;
  if (body.contains("options")) options = body["options"].dump();
  API_DO(from_db(catalog::alter_datasource(*db, name, opt_string(body, "conninfo"), options,
                                           opt_string(body, "name")),
                 422));
  return current(*db, req.id("id"), 200, req.param("id"));
}

// The SQL API's own checks apply (a datasource still used by syncs is refused).
Reply remove(Request& req) {
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  API_DO(from_db(catalog::drop_datasource(*db, name)));
  return Reply::no_content();
}

Reply test(Request& req) {
  API_DO(parse_body(req.http.body, {}));
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  TRY(row, from_db(catalog::test_datasource(*db, name)));
  if (!row) return Reply::error(not_found("datasource", req.param("id")));
  return Reply::json(200, std::move(*row));
}

}  // namespace

void add_datasource_routes(Router& r) {
  using doc::op;
  using doc::ref;
  r.add("GET", "/api/datasources", {}, list).doc =
      op("List datasources (secrets never returned)", "200", doc::list("Datasource"));
  r.add("POST", "/api/datasources", {}, create).doc =
      op("Register a datasource", "201", ref("Datasource"), true, ref("DatasourceCreate"));
  r.add("GET", "/api/datasources/{id}", {"datasource"}, get).doc =
      op("One datasource", "200", ref("Datasource"));
  r.add("PUT", "/api/datasources/{id}", {"datasource"}, change).doc =
      op("Change a datasource", "200", ref("Datasource"), true, ref("DatasourceUpdate"));
  r.add("DELETE", "/api/datasources/{id}", {"datasource"}, remove).doc =
      op("Remove a datasource (refused while syncs use it)", "204", nullptr);
  r.add("POST", "/api/datasources/{id}/test", {"datasource"}, test).doc =
      op("Test the connection (ok, version, latency)", "200", doc::obj());
}

}  // namespace dbsync::daemon::api
