// The API's resources, one file each (daemon/api/*.cpp), each adding its routes to the router.
// Handlers parse and check the request and shape the answer; the SQL is the catalog layer's
// (daemon/catalog/). Shared here: what the handlers use (the services, query parameters, the
// early-return macros).
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>

#include "common/secrets.hpp"
#include "daemon/config.hpp"
#include "daemon/events.hpp"
#include "daemon/http/json_body.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"
#include "daemon/runner/redis_conflicts.hpp"

namespace dbsync::daemon::api {

// What the handlers reach besides their request.
struct Services {
  const Config& config;
  HttpMetrics& metrics;
  JobEventHub& hub;
  RedisConflicts& redis_conflicts;
  const secrets::Key* secret_key;  // SECRET_KEY, nullptr when unset
  std::chrono::milliseconds sse_heartbeat;
};

void add_health_routes(Router& r, Services& s);    // /healthz, /metrics
void add_openapi_routes(Router& r);                // /openapi.json, /docs (of `r`'s routes)
void add_token_routes(Router& r);                  // /api/tokens
void add_datasource_routes(Router& r);             // /api/datasources
void add_browse_routes(Router& r);                 // /api/datasources/{id}/tables...
void add_sync_config_routes(Router& r);            // /api/sync-configs
void add_job_routes(Router& r, Services& s);       // /api/sync/{id}, /api/jobs, audit, events
void add_audit_routes(Router& r);                  // /api/sync-configs/{id}/audit, jobs' audit
void add_conflict_routes(Router& r, Services& s);  // /api/sync/{id}/conflicts, resolve
void add_webhook_routes(Router& r, Services& s);   // webhook secrets, /webhooks/...
void add_settings_routes(Router& r, Services& s);  // /api/settings

// Every route of the API.
void add_all_routes(Router& r, Services& s);

// The OpenAPI 3 document of the router's routes (served at /openapi.json): each route's
// operation, its path's parameters, and the schemas they name.
nlohmann::json openapi_document(const Router& router);

// Pieces of OpenAPI for the routes' documentation.
namespace doc {
nlohmann::json ref(const std::string& schema);  // {"$ref": "#/components/schemas/<schema>"}
nlohmann::json str();                           // {"type": "string"}
nlohmann::json obj();                           // {"type": "object"}
nlohmann::json list(const std::string& item);   // {"items": [item...]}
// An operation: its summary, its success status and schema (null: none), whether it needs the
// bearer token, and its JSON body's schema (null: none). Errors are the Error schema.
nlohmann::json op(const std::string& summary, const std::string& ok_status,
                  const nlohmann::json& ok_schema, bool auth = true,
                  const nlohmann::json& body = nullptr);
nlohmann::json id_param(const std::string& name);    // a path id
nlohmann::json text_param(const std::string& name);  // a path segment
nlohmann::json qparam(const char* name, const char* type, const char* description);
}  // namespace doc

// ---- for handlers

// Query parameters: only the known ones (422 unknown_parameter).
std::optional<ApiError> check_params(const httplib::Request& req,
                                     std::initializer_list<const char*> known);
// ?limit=: 1..max, default `def`.
ApiResult<long long> limit_param(const httplib::Request& req, long long def, long long max);
// A positive id in the query (?after=, ?job=...).
ApiResult<std::optional<long long>> id_query(const httplib::Request& req, const char* name);
// A string field of a checked body, nullopt when absent or null.
std::optional<std::string> opt_string(const nlohmann::json& body, const char* field);

// The name of the sync config / datasource of the path's id (the SQL API takes names); 404
// when there is none.
ApiResult<std::string> sync_name_of(pg::PgConnection& db, const Request& req,
                                    const char* param = "id");
ApiResult<std::string> datasource_name_of(pg::PgConnection& db, const Request& req);

// Queues a job for the sync (or finds its unfinished one) and answers 202 with the job and
// where to follow it: POST /api/sync/{configId} and the webhook triggers.
Reply queued_job_reply(pg::PgConnection& db, const Request& req, const std::string& trigger,
                       const std::string& requested_by);

}  // namespace dbsync::daemon::api

// Early returns of handlers: `var` gets the value of an ApiResult, or the handler answers its
// error.
#define API_CONCAT_INNER(a, b) a##b
#define API_CONCAT(a, b) API_CONCAT_INNER(a, b)
#define TRY(var, expr) TRY_IMPL(API_CONCAT(try_, __LINE__), var, expr)
#define TRY_IMPL(tmp, var, expr)                   \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return Reply::error(tmp.error()); \
  auto var = std::move(tmp.value())
// An ApiResult whose value is not needed: its error is answered.
#define API_DO(expr)                                     \
  do {                                                   \
    auto api_r = (expr);                                 \
    if (!api_r.ok()) return Reply::error(api_r.error()); \
  } while (0)
// An optional<ApiError>: answered when set.
#define API_CHECK(expr)                                   \
  do {                                                    \
    if (auto api_e = (expr)) return Reply::error(*api_e); \
  } while (0)
