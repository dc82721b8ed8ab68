// /api/settings: the daemon's settings in dbsync.settings (under "daemon."): the Redis that
// stages jobs (redis_url, redis_password). Secrets are never shown: a password in the URL is
// masked, a stored password is "********".
//
// The Redis password is stored sealed with SECRET_KEY (daemon/runner/redis_stage_factory.hpp), as
// datasource conninfos are; a password written in redis_url is moved out of it the same way
// (the stored URL keeps "********" in its place: the sealed password wins when connecting).
// A clear password stored before sealing existed is still read, and sealed by the next PUT.
#include "daemon/catalog/settings.hpp"
#include "adapters/redis/redis_connection.hpp"
#include "daemon/api/api.hpp"
#include "daemon/runner/redis_stage_factory.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

std::string mask_url_password(const std::string& url) {
  // scheme://user:password@host -> scheme://user:********@host
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "********" + url.substr(at);
}

ApiResult<json> read_settings(pg::PgConnection& db) {
  auto r = from_db(catalog::daemon_settings(db));
  if (!r.ok()) return r.error();
  const json& stored = r.value();
  json out = {{"redis_url", nullptr}, {"redis_password", nullptr}};
  if (stored.contains("redis_url") && stored["redis_url"].is_string())
    out["redis_url"] = mask_url_password(stored["redis_url"].get<std::string>());
  if (stored.contains("redis_password") && !stored["redis_password"].is_null())
    out["redis_password"] = "********";
  return out;
}

Reply get(Request& req) {
  API_CHECK(check_params(req.http, {}));
  TRY(db, req.db());
  TRY(s, read_settings(*db));
  return Reply::json(200, s);
}

Reply put(Request& req, Services& s) {
  TRY(body, parse_body(req.http.body, {{"redis_url", FieldType::kString, false, true},
                                       {"redis_password", FieldType::kString, false, true}}));
  if (auto u = opt_string(body, "redis_url")) {
    bool scheme = u->rfind("redis://", 0) == 0 || u->rfind("rediss://", 0) == 0;
    if (!scheme || u->size() > 2048 || u->find_first_of(" \r\n\t") != std::string::npos)
      return Reply::error(bad_field(422, "invalid_value", "redis_url",
                                    "redis_url must look like redis://host:port/db"));
    if (u->find("********") != std::string::npos)
      return Reply::error(bad_field(422, "invalid_value", "redis_url",
                                    "redis_url holds the masked password: send the real one"));
  }
  const secrets::Key* key = s.secret_key;
  TRY(db, req.db());
  // What is stored: the URL, and the password (opened) with whether it is still in clear.
  TRY(stored, from_db(catalog::stored_redis(*db)));
  std::optional<std::string> url = stored.url, password;
  const bool password_given =
      body.contains("redis_password") &&
      !(body["redis_password"].is_string() && body["redis_password"] == "********");
  bool stored_clear = false;
  if (stored.password_type && !password_given) {
    Result<std::string> opened = open_redis_password(*stored.password_type, stored.password, key);
    if (!opened.is_ok())
      return Reply::error({409, "redis_password_unreadable", opened.status().message(),
                           json{{"field", "redis_password"}}});
    password = std::move(opened).value();
    stored_clear = *stored.password_type == "string";
  }
  // The state after this request: what the body leaves out stays.
  const bool url_given = body.contains("redis_url");
  if (url_given) url = opt_string(body, "redis_url");
  if (password_given) password = opt_string(body, "redis_password");
  // A password in the URL: the body's redis_password wins, as when connecting; a URL from
  // the body brings its own; an old stored URL's password goes only where none is stored.
  bool url_password = false;
  if (url) {
    Result<redis::RedisUrl> parsed = redis::parse_redis_url(*url);
    // (A stored URL already says "********": its password is the stored one.)
    if (parsed.is_ok() && parsed->password && *parsed->password != "********") {
      url_password = true;
      const bool body_password = password_given && password;
      if (!body_password && (url_given || !password)) password = parsed->password;
      *url = redis::redis_url_with_masked_password(*url);
    }
  }
  const bool new_password = password && (password_given || (url_given && url_password));
  if (new_password && !key)
    return Reply::error(
        {409, "secret_key_missing",
         "SECRET_KEY is not set: dbsyncd cannot keep a Redis password (it is stored sealed "
         "with SECRET_KEY, like datasource secrets); start dbsyncd with SECRET_KEY, or use a "
         "Redis without a password",
         json{{"field", password_given ? "redis_password" : "redis_url"}}});
  // A Redis that is set must answer PING, with the password that will be stored.
  if (url && (url_given || password_given)) {
    Status st = redis::check_redis(*url, password);
    if (!st.is_ok()) {
      const std::string& m = st.message();
      const bool auth = m.find("AUTH") != std::string::npos ||
                        m.find("WRONGPASS") != std::string::npos ||
                        m.find("NOAUTH") != std::string::npos;
      return Reply::error(bad_field(
          422, st.code() == ErrorCode::kUnavailable ? "redis_unreachable" : "invalid_value",
          auth ? "redis_password" : "redis_url", "Redis check failed: " + m));
    }
  }
  // Without a key an old URL or clear password stays as it was (nothing to seal it with).
  if (url_given || (url_password && key))
    API_DO(from_db(catalog::put_daemon_setting(*db, "redis_url", url), 422));
  if (password && key && (new_password || stored_clear || url_password)) {
    Result<std::string> sealed = seal_redis_password(*key, *password);
    if (!sealed.is_ok())
      return Reply::error({500, "internal", sealed.status().message(), json::object()});
    API_DO(from_db(catalog::put_daemon_setting(*db, "redis_password", *sealed, true), 422));
  } else if (password_given && !password) {
    API_DO(from_db(catalog::put_daemon_setting(*db, "redis_password", std::nullopt), 422));
  }
  if (password) secrets::wipe(*password);
  TRY(out, read_settings(*db));
  return Reply::json(200, out);
}

}  // namespace

void add_settings_routes(Router& r, Services& s) {
  r.add("GET", "/api/settings", {}, get).doc =
      doc::op("The daemon's settings (passwords masked)", "200", doc::ref("Settings"));
  r.add("PUT", "/api/settings", {}, [&s](Request& req) { return put(req, s); }).doc =
      doc::op("Change settings (null removes one)", "200", doc::ref("Settings"), true,
              doc::ref("Settings"));
}

}  // namespace dbsync::daemon::api
