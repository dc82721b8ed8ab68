// Browsing a datasource: its tables, a table's columns and key, a table's rows (keyset pages by
// the primary key), through dbsync.tables / columns / rows.
#include <algorithm>

#include "daemon/api/api.hpp"
#include "daemon/catalog/datasources.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

// A datasource the extension cannot reach is that datasource's problem (502
// datasource_unavailable), not the master's.
template <typename T>
ApiResult<T> browsed(catalog::DbResult<T> r) {
  auto out = from_db(std::move(r));
  if (out.ok()) return out;
  ApiError e = out.error();
  if (e.details.value("sqlstate", "") == "08001" && e.message.rfind("datasource", 0) == 0) {
    e.status = 502;
    e.code = "datasource_unavailable";
  }
  return e;
}

Reply tables(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "after_schema", "after_name"}));
  TRY(limit, limit_param(req.http, 100, 1000));
  catalog::DbParam after_schema, after_name;
  const bool has_schema = req.http.has_param("after_schema");
  if (has_schema != req.http.has_param("after_name"))
    return Reply::error(bad_field(422, "invalid_value", has_schema ? "after_name" : "after_schema",
                                  "after_schema and after_name go together"));
  if (has_schema) {
    after_schema = req.http.get_param_value("after_schema");
    after_name = req.http.get_param_value("after_name");
  }
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  TRY(items, browsed(catalog::browse_tables(*db, name, after_schema, after_name, limit)));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit)
    next = {{"after_schema", items.back()["schema"]}, {"after_name", items.back()["name"]}};
  return Reply::json(200, {{"items", items}, {"next", next}});
}

Reply schema(Request& req) {
  const std::string& table = req.param("table");
  API_CHECK(check_params(req.http, {}));
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  TRY(cols, browsed(catalog::browse_columns(*db, name, table)));
  json key = json::array();
  std::vector<std::pair<long long, std::string>> keyed;
  for (const json& c : cols)
    if (!c["key_position"].is_null())
      keyed.emplace_back(c["key_position"].get<long long>(), c["name"].get<std::string>());
  std::sort(keyed.begin(), keyed.end());
  for (auto& [pos, n] : keyed) key.push_back(n);
  return Reply::json(200, {{"table", table}, {"columns", cols}, {"primary_key", key}});
}

Reply rows(Request& req) {
  const std::string& table = req.param("table");
  API_CHECK(check_params(req.http, {"limit", "after"}));
  TRY(limit, limit_param(req.http, 100, 1000));
  catalog::DbParam after;
  if (req.http.has_param("after")) {
    json a = json::parse(req.http.get_param_value("after"), nullptr, false);
    if (!a.is_object())
      return Reply::error(
          bad_field(422, "invalid_value", "after",
                    "after must be a JSON object of the primary key columns, e.g. {\"id\": 42}"));
    after = a.dump();
  }
  TRY(db, req.db());
  TRY(name, datasource_name_of(*db, req));
  auto items_res = browsed(catalog::browse_rows(*db, name, table, after, limit));
  if (!items_res.ok()) {
    ApiError e = items_res.error();
    if (e.status == 422 && e.message.rfind("after ", 0) == 0) e.details["field"] = "after";
    return Reply::error(e);
  }
  json items = std::move(items_res.value());
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit) {
    TRY(key, browsed(catalog::browse_key(*db, name, table)));
    next = json::object();
    for (const json& k : key) next[k.get<std::string>()] = items.back()[k.get<std::string>()];
  }
  return Reply::json(200, {{"items", items}, {"next_after", next}});
}

}  // namespace

void add_browse_routes(Router& r) {
  using doc::qparam;
  Route& t = r.add("GET", "/api/datasources/{id}/tables", {"datasource"}, tables);
  t.doc = doc::op("Tables and views of a datasource (dbsync.tables), by schema and name", "200",
                  doc::obj());
  t.parameters = {doc::id_param("id"), qparam("limit", "integer", "1..1000, default 100"),
                  qparam("after_schema", "string", "with after_name: the next page (next)"),
                  qparam("after_name", "string", "with after_schema")};
  r.add("GET", "/api/datasources/{id}/tables/{table}/schema", {"datasource"}, schema).doc =
      doc::op("Columns (type, nullable, default) and primary key of a table (dbsync.columns)",
              "200", doc::obj());
  Route& rw = r.add("GET", "/api/datasources/{id}/tables/{table}/rows", {"datasource"}, rows);
  rw.doc = doc::op("Rows of a table by primary key, keyset pages (dbsync.rows)", "200", doc::obj());
  rw.parameters = {
      doc::id_param("id"), doc::text_param("table"),
      qparam("limit", "integer", "1..1000, default 100"),
      qparam("after", "string",
             "JSON object of the primary key columns (next_after of the previous page)")};
}

}  // namespace dbsync::daemon::api
