// The OpenAPI 3 document (GET /openapi.json) built from the router's routes: each route file
// documents its own routes (daemon/api/*.cpp); the schemas they name are here. GET /docs lists
// them on a page.
#include "daemon/api/api.hpp"
#include "engine/datasource_kinds.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace doc {

json ref(const std::string& schema) { return {{"$ref", "#/components/schemas/" + schema}}; }
json str() { return {{"type", "string"}}; }
json obj() { return {{"type", "object"}}; }

json op(const std::string& summary, const std::string& ok_status, const json& ok_schema, bool auth,
        const json& body) {
  json o = {{"summary", summary}, {"responses", json::object()}};
  json ok = {{"description", "success"}};
  if (!ok_schema.is_null()) ok["content"] = {{"application/json", {{"schema", ok_schema}}}};
  o["responses"][ok_status] = ok;
  json err = {{"description", "error"},
              {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
  o["responses"]["default"] = err;
  if (!auth) o["security"] = json::array();
  if (!body.is_null())
    o["requestBody"] = {{"required", true},
                        {"content", {{"application/json", {{"schema", body}}}}}};
  return o;
}

json id_param(const std::string& name) {
  return {{"name", name},
          {"in", "path"},
          {"required", true},
          {"schema", {{"type", "integer"}, {"minimum", 1}}}};
}

json text_param(const std::string& name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

json qparam(const char* name, const char* type, const char* description) {
  return {{"name", name},
          {"in", "query"},
          {"required", false},
          {"description", description},
          {"schema", {{"type", type}}}};
}

json list(const std::string& item) {
  return {{"type", "object"},
          {"properties", {{"items", {{"type", "array"}, {"items", ref(item)}}}}}};
}

}  // namespace doc

namespace {

using doc::ref;

json schemas() {
  json s = json::object();
  json str = {{"type", "string"}};
  json obj = {{"type", "object"}};
  json strs = {{"type", "array"}, {"items", str}};
  s["Error"] = {{"type", "object"},
                {"required", {"error"}},
                {"properties",
                 {{"error",
                   {{"type", "object"},
                    {"required", {"code", "message", "details"}},
                    {"properties", {{"code", str}, {"message", str}, {"details", obj}}}}}}}};
  nlohmann::json kind_names = nlohmann::json::array();  // engine/datasource_kinds: one table
  for (const DatasourceKind& k : datasource_kinds()) kind_names.push_back(std::string(k.name));
  s["Datasource"] = {{"type", "object"},
                     {"properties",
                      {{"id", {{"type", "integer"}}},
                       {"name", str},
                       {"kind", {{"type", "string"}, {"enum", kind_names}}},
                       {"endpoint", {{"type", "string"}, {"nullable", true}}},
                       {"options", obj},
                       {"created_at", str},
                       {"updated_at", str}}}};
  s["DatasourceCreate"] = {{"type", "object"},
                           {"additionalProperties", false},
                           {"required", {"name", "kind"}},
                           {"properties",
                            {{"name", str},
                             {"kind", str},
                             {"conninfo",
                              {{"type", "string"},
                               {"nullable", true},
                               {"description", "stored encrypted, never returned"}}},
                             {"options", obj}}}};
  s["DatasourceUpdate"] = {{"type", "object"},
                           {"additionalProperties", false},
                           {"properties", {{"name", str}, {"conninfo", str}, {"options", obj}}}};
  json sync_props = {
      {"name", str},
      {"source", str},
      {"source_table", str},
      {"target", str},
      {"target_table", str},
      {"mapping", obj},
      {"key", strs},
      {"source_key", strs},
      {"direction", str},
      {"strategy", str},
      {"strategy_options", obj},
      {"delete_policy", str},
      {"batch_size", {{"type", "integer"}}},
      {"filter", {{"type", "string"}, {"nullable", true}}},
      {"schedule",
       {{"type", "string"},
        {"nullable", true},
        {"description", "cron (5 fields, @daily, TZ=Zone prefix); null: on demand"}}},
      {"audit",
       {{"type", "boolean"},
        {"description",
         "whether the sync's jobs record what they apply (dbsync.audit); default true"}}}};
  s["SyncConfigCreate"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"name", "source", "source_table", "target", "target_table"}},
      {"properties", sync_props}};
  json upd = sync_props;
  upd.erase("name");
  s["SyncConfigUpdate"] = {
      {"type", "object"}, {"additionalProperties", false}, {"properties", upd}};
  s["SyncConfig"] = {{"type", "object"}, {"description", "a row of dbsync.sync_list"}};
  s["Job"] = {{"type", "object"}, {"description", "a row of dbsync.job_list, duration in ms"}};
  s["Token"] = {{"type", "object"},
                {"properties",
                 {{"id", {{"type", "integer"}}},
                  {"name", str},
                  {"created_at", str},
                  {"last_used_at", str},
                  {"revoked_at", str},
                  {"token", {{"type", "string"}, {"description", "only when created"}}}}}};
  s["Settings"] = {{"type", "object"},
                   {"additionalProperties", false},
                   {"properties",
                    {{"redis_url",
                      {{"type", "string"},
                       {"nullable", true},
                       {"description",
                        "redis://[user:password@]host[:port][/db], checked with PING when saved; "
                        "a password in it is stored sealed like redis_password and shown as "
                        "********"}}},
                     {"redis_password",
                      {{"type", "string"},
                       {"nullable", true},
                       {"description",
                        "stored sealed with SECRET_KEY (AES-256-GCM, as datasource secrets), "
                        "never returned: ******** when set (sending ******** back keeps it); "
                        "409 secret_key_missing without SECRET_KEY, 409 "
                        "redis_password_unreadable when the stored one was sealed with another "
                        "key"}}}}}};

  s["Conflict"] = {{"type", "object"}, {"description", "a row of dbsync.conflict_list"}};
  s["Decision"] = {{"type", "string"}, {"enum", {"source", "target", "merge", "custom", "skip"}}};
  s["AuditEntry"] = {
      {"type", "object"},
      {"description", "a row of dbsync.audit_log: one applied change"},
      {"properties",
       {{"job_id", {{"type", "integer"}}},
        {"sync_id", {{"type", "integer"}}},
        {"side", {{"type", "string"}, {"enum", {"target", "source"}}}},
        {"at", str},
        {"key", obj},
        {"operation",
         {{"type", "string"}, {"enum", {"insert", "update", "delete", "soft_delete"}}}},
        {"fields", strs},
        {"audit_id", {{"type", "integer"}}},
        {"position", {{"type", "integer"}}}}}};
  return s;
}

// A path's parameters: its segments ({id}: an id, others text).
json path_parameters(const Route& r) {
  json out = json::array();
  for (const std::string& seg : r.segments) {
    if (seg.size() < 3 || seg.front() != '{') continue;
    const std::string name = seg.substr(1, seg.size() - 2);
    out.push_back(is_id_param(name) ? doc::id_param(name) : doc::text_param(name));
  }
  return out;
}

}  // namespace

json openapi_document(const Router& router) {
  json p = json::object();
  for (const Route& r : router.routes()) {
    if (r.doc.is_null()) continue;  // undocumented (a test refuses that)
    std::string method = r.method;
    for (char& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    json& path = p[r.pattern];
    path[method] = r.doc;
    if (!r.parameters.is_null()) {
      path["parameters"] = r.parameters;
    } else if (!path.contains("parameters") && r.pattern.find('{') != std::string::npos) {
      path["parameters"] = path_parameters(r);
    }
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "dbsyncd"}, {"version", "0.1.0"}}},
          {"paths", p},
          {"components",
           {{"schemas", schemas()},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"security", json::array({{{"bearer", json::array()}}})}};
}

namespace {

std::string html_escape(const std::string& s) {
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
}

Reply docs_page(const Router& router) {
  std::string rows;
  const json doc = openapi_document(router);
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      if (method == "parameters") continue;
      std::string m = method;
      for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      rows += "<tr><td><code>" + m + "</code></td><td><code>" + html_escape(path) +
              "</code></td><td>" + html_escape(op.value("summary", "")) + "</td></tr>\n";
    }
  return Reply::plain(
      "text/html; charset=utf-8",
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>dbsyncd API</title>"
      "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em .8em;border-bottom:1px "
      "solid #ddd}</style></head><body><h1>dbsyncd API</h1><p>The OpenAPI 3 document: <a "
      "href=\"/openapi.json\">/openapi.json</a>. Every <code>/api</code> call needs "
      "<code>Authorization: Bearer &lt;token&gt;</code>; errors are <code>{\"error\": "
      "{\"code\", \"message\", \"details\"}}</code>.</p><table>\n" +
          rows + "</table></body></html>\n");
}

}  // namespace

void add_openapi_routes(Router& r) {
  r.add("GET", "/openapi.json", {}, [&r](Request&) {
     return Reply::json(200, openapi_document(r));
   }).doc = doc::op("This document", "200", doc::obj(), false);
  r.add("GET", "/docs", {}, [&r](Request&) { return docs_page(r); }).doc =
      doc::op("A page listing the API", "200", nullptr, false);
}

}  // namespace dbsync::daemon::api
