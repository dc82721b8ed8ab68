// The OpenAPI 3 document of the routes (GET /openapi.json), and a page listing them (GET /docs).
// Tests check that it lists every route of the router and nothing else.
#include "daemon/api/api.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {
json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json op(const std::string& summary, const std::string& ok_status, const json& ok_schema,
        bool auth = true, const json& body = nullptr) {
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
json list(const std::string& item) {
  return {{"type", "object"},
          {"properties", {{"items", {{"type", "array"}, {"items", ref(item)}}}}}};
}
}  // namespace

json openapi_document() {
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
  s["Datasource"] = {
      {"type", "object"},
      {"properties",
       {{"id", {{"type", "integer"}}},
        {"name", str},
        {"kind",
         {{"type", "string"},
          {"enum", {"local", "postgres", "supabase", "neon", "mysql", "wordpress"}}}},
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

  json p = json::object();
  p["/healthz"]["get"] =
      op("Liveness: the master answers and has the extension", "200", obj, false);
  p["/metrics"]["get"] = op("Prometheus metrics (text)", "200", nullptr, false);
  p["/openapi.json"]["get"] = op("This document", "200", obj, false);
  p["/docs"]["get"] = op("A page listing the API", "200", nullptr, false);
  p["/api/tokens"]["get"] =
      op("List API tokens (never the tokens themselves)", "200", list("Token"));
  p["/api/tokens"]["post"] =
      op("Create an API token (shown once)", "201", ref("Token"), true,
         {{"type", "object"}, {"required", {"name"}}, {"properties", {{"name", str}}}});
  p["/api/tokens/{id}"]["delete"] = op("Revoke a token", "204", nullptr);
  p["/api/tokens/{id}"]["parameters"] = {id_param("id")};
  p["/api/datasources"]["get"] =
      op("List datasources (secrets never returned)", "200", list("Datasource"));
  p["/api/datasources"]["post"] =
      op("Register a datasource", "201", ref("Datasource"), true, ref("DatasourceCreate"));
  p["/api/datasources/{id}"]["parameters"] = {id_param("id")};
  p["/api/datasources/{id}"]["get"] = op("One datasource", "200", ref("Datasource"));
  p["/api/datasources/{id}"]["put"] =
      op("Change a datasource", "200", ref("Datasource"), true, ref("DatasourceUpdate"));
  p["/api/datasources/{id}"]["delete"] =
      op("Remove a datasource (refused while syncs use it)", "204", nullptr);
  p["/api/datasources/{id}/test"]["parameters"] = {id_param("id")};
  p["/api/datasources/{id}/test"]["post"] =
      op("Test the connection (ok, version, latency)", "200", obj);
  p["/api/sync-configs"]["get"] = op("List sync configs", "200", list("SyncConfig"));
  p["/api/sync-configs"]["post"] = op("Create a sync config (validated by the extension)", "201",
                                      ref("SyncConfig"), true, ref("SyncConfigCreate"));
  p["/api/sync-configs/{id}"]["parameters"] = {id_param("id")};
  p["/api/sync-configs/{id}"]["get"] = op("One sync config", "200", ref("SyncConfig"));
  p["/api/sync-configs/{id}"]["put"] =
      op("Change a sync config", "200", ref("SyncConfig"), true, ref("SyncConfigUpdate"));
  p["/api/sync-configs/{id}"]["delete"] =
      op("Drop a sync config with its jobs and baseline", "204", nullptr);
  p["/api/sync-configs/{id}/preview"]["parameters"] = {id_param("id")};
  p["/api/sync-configs/{id}/preview"]["post"] =
      op("Mapped rows and the planned diff; nothing written", "200", obj);
  p["/api/sync/{configId}"]["parameters"] = {id_param("configId")};
  p["/api/sync/{configId}"]["post"] =
      op("Run a sync: queues a job (or returns its unfinished one)", "202", obj);
  p["/api/sync-configs/{id}/webhook-secret"]["parameters"] = {id_param("id")};
  p["/api/sync-configs/{id}/webhook-secret"]["post"] =
      op("Make (or replace) the sync's webhook secret; shown once, kept sealed with SECRET_KEY "
         "(409 without it)",
         "201", obj);
  p["/api/sync-configs/{id}/webhook-secret"]["delete"] =
      op("Remove the sync's webhook secret: its triggers stop", "204", nullptr);
  p["/webhooks/{provider}/{configId}"]["parameters"] = {
      {{"name", "provider"},
       {"in", "path"},
       {"required", true},
       {"schema", {{"type", "string"}, {"enum", {"n8n", "zapier", "activepieces", "generic"}}}}},
      id_param("configId"),
      {{"name", "X-Dbsync-Token"},
       {"in", "header"},
       {"schema", {{"type", "string"}}},
       {"description", "the sync's webhook secret"}},
      {{"name", "X-Dbsync-Signature"},
       {"in", "header"},
       {"schema", {{"type", "string"}}},
       {"description",
        "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>, within 300 s"}}};
  p["/webhooks/{provider}/{configId}"]["post"] =
      op("Webhook trigger (n8n, Zapier, ActivePieces, anything): runs the sync like POST "
         "/api/sync/{configId}, authenticated by the sync's secret (a token header or a "
         "signature of timestamp + body), not a bearer token; 401 otherwise",
         "202", obj, false);
  p["/api/sync/{jobId}/status"]["parameters"] = {id_param("jobId")};
  p["/api/sync/{jobId}/status"]["get"] = op("A job's status and progress", "200", ref("Job"));
  p["/api/jobs"]["get"] =
      op("Jobs, newest first (?status=, ?sync=id|name, ?limit=, ?before=)", "200", list("Job"));
  auto qparam = [](const char* name, const char* type, const char* description) {
    return json{{"name", name},
                {"in", "query"},
                {"required", false},
                {"description", description},
                {"schema", {{"type", type}}}};
  };
  auto text_param = [](const char* name) {
    return json{
        {"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  };
  p["/api/jobs/{id}/events"]["parameters"] = {id_param("id")};
  json events = op(
      "Live progress as server-sent events: 'progress' (data: the job) at each change, 'end' when "
      "it is finished (then the stream closes), 'shutdown' when the server stops, a ': heartbeat' "
      "comment every 5 s. 503 too_many_subscribers beyond the limit (workers - max(2, "
      "workers/4) by default)",
      "200", nullptr);
  events["responses"]["200"]["content"] = {{"text/event-stream", {{"schema", str}}}};
  p["/api/jobs/{id}/events"]["get"] = events;
  s["Conflict"] = {{"type", "object"}, {"description", "a row of dbsync.conflict_list"}};
  s["Decision"] = {{"type", "string"}, {"enum", {"source", "target", "merge", "custom", "skip"}}};
  p["/api/sync/{configId}/conflicts"]["parameters"] = {
      id_param("configId"), qparam("status", "string", "pending, resolved or skipped"),
      qparam("job", "integer", "only this job's"),
      qparam("limit", "integer", "1..1000, default 100"),
      qparam("after", "integer", "conflict id: the next page starts after it (next_after)")};
  p["/api/sync/{configId}/conflicts"]["get"] =
      op("Conflicts of a sync, by id (keyset paging). stage says where they are: catalog, or "
         "redis while the sync's unfinished job is staged in Redis (per-job ids, job_id given); "
         "once that job commits, its conflicts and decisions are in the catalog (new ids)",
         "200", list("Conflict"));
  p["/api/sync/{configId}/resolve/{conflictId}"]["parameters"] = {id_param("configId"),
                                                                  id_param("conflictId")};
  p["/api/sync/{configId}/resolve/{conflictId}"]["post"] =
      op("Decide one conflict (dbsync.resolve, or the Redis stage's for a job staged there): "
         "source, target, merge, skip, or custom with a row of target columns. A conflict of "
         "another sync is 404; an already decided one 409; Redis down 503",
         "200", obj, true,
         {{"type", "object"},
          {"additionalProperties", false},
          {"required", {"decision"}},
          {"properties", {{"decision", ref("Decision")}, {"row", obj}}}});
  p["/api/sync/{configId}/resolve"]["parameters"] = {id_param("configId")};
  p["/api/sync/{configId}/resolve"]["post"] =
      op("Decide in bulk: without ids every pending conflict of the sync (dbsync.resolve_all; "
         "not custom); with ids (1..1000 conflicts of this sync) those, all or none (in "
         "Redis: in order, stopping at the first refusal)",
         "200", obj, true,
         {{"type", "object"},
          {"additionalProperties", false},
          {"required", {"decision"}},
          {"properties",
           {{"decision", ref("Decision")},
            {"ids", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}}});
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
  json audit_list = list("AuditEntry");
  audit_list["properties"]["next_after"] = {
      {"type", "string"},
      {"nullable", true},
      {"description", "the cursor of the next page (audit_id:position); null on the last"}};
  json audit_limit = qparam("limit", "integer", "1..1000, default 100");
  json audit_after =
      qparam("after", "string", "cursor audit_id:position: the next page starts after it");
  p["/api/sync-configs/{id}/audit"]["parameters"] = {
      id_param("id"), qparam("job", "integer", "only this job's"), audit_limit, audit_after};
  p["/api/sync-configs/{id}/audit"]["get"] =
      op("What the sync's jobs applied, one entry per change, oldest first (keyset paging)", "200",
         audit_list);
  p["/api/jobs/{id}/audit"]["parameters"] = {id_param("id"), audit_limit, audit_after};
  p["/api/jobs/{id}/audit"]["get"] =
      op("What a job applied, one entry per change (keyset paging)", "200", audit_list);
  p["/api/datasources/{id}/tables"]["parameters"] = {
      id_param("id"), qparam("limit", "integer", "1..1000, default 100"),
      qparam("after_schema", "string", "with after_name: the next page (next)"),
      qparam("after_name", "string", "with after_schema")};
  p["/api/datasources/{id}/tables"]["get"] =
      op("Tables and views of a datasource (dbsync.tables), by schema and name", "200", obj);
  p["/api/datasources/{id}/tables/{table}/schema"]["parameters"] = {id_param("id"),
                                                                    text_param("table")};
  p["/api/datasources/{id}/tables/{table}/schema"]["get"] = op(
      "Columns (type, nullable, default) and primary key of a table (dbsync.columns)", "200", obj);
  p["/api/datasources/{id}/tables/{table}/rows"]["parameters"] = {
      id_param("id"), text_param("table"), qparam("limit", "integer", "1..1000, default 100"),
      qparam("after", "string",
             "JSON object of the primary key columns (next_after of the previous page)")};
  p["/api/datasources/{id}/tables/{table}/rows"]["get"] =
      op("Rows of a table by primary key, keyset pages (dbsync.rows)", "200", obj);
  p["/api/settings"]["get"] =
      op("The daemon's settings (passwords masked)", "200", ref("Settings"));
  p["/api/settings"]["put"] =
      op("Change settings (null removes one)", "200", ref("Settings"), true, ref("Settings"));

  return {{"openapi", "3.0.3"},
          {"info", {{"title", "dbsyncd"}, {"version", "0.1.0"}}},
          {"paths", p},
          {"components",
           {{"schemas", s},
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

Reply docs_page() {
  std::string rows;
  const json doc = openapi_document();
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
  r.add("GET", "/openapi.json", {}, [](Request&) { return Reply::json(200, openapi_document()); });
  r.add("GET", "/docs", {}, [](Request&) { return docs_page(); });
}

}  // namespace dbsync::daemon::api
