// Webhook triggers: a secret per sync (made here, shown once, kept sealed with SECRET_KEY), then
// POST /webhooks/{provider}/{configId} with that secret (daemon/webhooks.hpp checks it) queues a
// job, as POST /api/sync/{configId} does. No bearer token: the secret is the credential.
#include <chrono>

#include "daemon/api/api.hpp"
#include "daemon/catalog/syncs.hpp"
#include "daemon/webhooks.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

Reply make_secret(Request& req, Services& s) {
  const long long id = req.id("id");
  API_DO(parse_body(req.http.body, {}));
  if (!s.secret_key)
    return Reply::error({409, "secret_key_missing",
                         "SECRET_KEY is not set: dbsyncd cannot keep a webhook secret",
                         json::object()});
  TRY(db, req.db());
  TRY(name, sync_name_of(*db, req));
  std::string secret = webhooks::new_secret();
  Result<std::string> sealed = secrets::seal(*s.secret_key, secret);
  if (!sealed.is_ok())
    return Reply::error({500, "internal", sealed.status().message(), json::object()});
  TRY(made, from_db(catalog::put_webhook_secret(*db, id, *sealed)));
  if (!made) return Reply::error(not_found("sync config", req.param("id")));
  json endpoints = json::array();
  for (const char* p : {"n8n", "zapier", "activepieces", "generic"})
    endpoints.push_back("/webhooks/" + std::string(p) + "/" + std::to_string(id));
  Reply r = Reply::json(
      201, {{"sync_config_id", id},
            {"sync", name},
            {"secret", secret},
            {"created_at", (*made)["created_at"]},
            {"endpoints", endpoints},
            {"authentication",
             "X-Dbsync-Token: <secret>, or X-Dbsync-Signature: t=<unix seconds>,v1=<hex "
             "HMAC-SHA256(secret, \"<t>.\" + body)> within " +
                 std::to_string(webhooks::kReplayWindowSeconds) + " s"}});
  secrets::wipe(secret);
  return r;
}

Reply drop_secret(Request& req) {
  TRY(db, req.db());
  TRY(gone, from_db(catalog::delete_webhook_secret(*db, req.id("id"))));
  if (!gone) return Reply::error(not_found("webhook secret of sync config", req.param("id")));
  return Reply::no_content();
}

Reply trigger(Request& req, Services& s) {
  const std::string& provider = req.param("provider");
  const long long id = req.id("configId");
  if (!webhooks::known_provider(provider))
    return Reply::error(
        not_found("webhook provider (n8n, zapier, activepieces, generic)", provider));
  if (!s.secret_key)
    return Reply::error({503, "secret_key_missing",
                         "SECRET_KEY is not set: webhook triggers are off", json::object()});
  TRY(db, req.db());
  TRY(sealed, from_db(catalog::webhook_secret(*db, id)));
  auto unauthorized = [](const std::string& why) {
    return Reply::error({401, "unauthorized", why, json::object()});
  };
  // An unknown sync and one without a secret look the same from outside.
  if (!sealed) return unauthorized("no webhook secret for sync config " + req.param("configId"));
  Result<std::string> secret = secrets::open(*s.secret_key, *sealed);
  if (!secret.is_ok())
    return Reply::error({503, "secret_key_mismatch",
                         "the sync's webhook secret was sealed with another SECRET_KEY: "
                         "make a new one",
                         json::object()});
  auto header = [&](const char* name) -> std::optional<std::string> {
    if (!req.http.has_header(name)) return std::nullopt;
    return req.http.get_header_value(name);
  };
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Status ok = webhooks::verify(*secret, header("X-Dbsync-Token"), header("X-Dbsync-Signature"),
                               req.http.body, now);
  secrets::wipe(*secret);
  if (!ok.is_ok()) return unauthorized(ok.message());
  return queued_job_reply(*db, req, "webhook:" + provider, "webhook:" + provider);
}

}  // namespace

void add_webhook_routes(Router& r, Services& s) {
  r.add("POST", "/api/sync-configs/{id}/webhook-secret", {"sync config"},
        [&s](Request& req) { return make_secret(req, s); })
      .doc = doc::op(
      "Make (or replace) the sync's webhook secret; shown once, kept sealed with SECRET_KEY "
      "(409 without it)",
      "201", doc::obj());
  r.add("DELETE", "/api/sync-configs/{id}/webhook-secret", {"sync config"}, drop_secret).doc =
      doc::op("Remove the sync's webhook secret: its triggers stop", "204", nullptr);
  Route& t = r.add("POST", "/webhooks/{provider}/{configId}", {"sync config"},
                   [&s](Request& req) { return trigger(req, s); });
  t.doc = doc::op(
      "Webhook trigger (n8n, Zapier, ActivePieces, anything): runs the sync like POST "
      "/api/sync/{configId}, authenticated by the sync's secret (a token header or a "
      "signature of timestamp + body), not a bearer token; 401 otherwise",
      "202", doc::obj(), false);
  t.parameters = {
      {{"name", "provider"},
       {"in", "path"},
       {"required", true},
       {"schema", {{"type", "string"}, {"enum", {"n8n", "zapier", "activepieces", "generic"}}}}},
      doc::id_param("configId"),
      {{"name", "X-Dbsync-Token"},
       {"in", "header"},
       {"schema", {{"type", "string"}}},
       {"description", "the sync's webhook secret"}},
      {{"name", "X-Dbsync-Signature"},
       {"in", "header"},
       {"schema", {{"type", "string"}}},
       {"description",
        "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>, within 300 s"}}};
}

}  // namespace dbsync::daemon::api
