// /api/tokens: list, create (the token is shown once), revoke (never the last active one).
#include "daemon/catalog/tokens.hpp"
#include "daemon/api/api.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

Reply list(Request& req) {
  API_CHECK(check_params(req.http, {}));
  TRY(db, req.db());
  TRY(items, from_db(catalog::list_tokens(*db)));
  return Reply::json(200, {{"items", items}});
}

Reply create(Request& req) {
  TRY(body, parse_body(req.http.body, {{"name", FieldType::kString, true}}));
  TRY(db, req.db());
  const std::string token = generate_token();
  auto made = from_db(
      catalog::create_token(*db, body["name"].get<std::string>(), token_hash_hex(token)), 422);
  if (!made.ok()) {
    ApiError e = made.error();
    if (e.details.value("sqlstate", "") == "23514") e.details["field"] = "name";  // the CHECK
    return Reply::error(e);
  }
  json out = std::move(made.value());
  out["token"] = token;  // the only time it is shown
  Reply r = Reply::json(201, out);
  r.location = "/api/tokens/" + std::to_string(out["id"].get<long long>());
  return r;
}

Reply revoke(Request& req) {
  const long long id = req.id("id");
  TRY(db, req.db());
  TRY(row, from_db(catalog::revoke_token(*db, id)));
  if (!row) return Reply::error(not_found("token", req.param("id")));
  if ((*row)["already"].get<bool>())
    return Reply::error(
        {409, "conflict", "token " + std::to_string(id) + " is already revoked", json::object()});
  if ((*row)["revoked"].get<long long>() == 0)
    return Reply::error({409, "conflict",
                         "the last active token cannot be revoked; create another first",
                         json::object()});
  return Reply::no_content();
}

}  // namespace

void add_token_routes(Router& r) {
  r.add("GET", "/api/tokens", {}, list).doc =
      doc::op("List API tokens (never the tokens themselves)", "200", doc::list("Token"));
  r.add("POST", "/api/tokens", {}, create).doc =
      doc::op("Create an API token (shown once)", "201", doc::ref("Token"), true,
              {{"type", "object"}, {"required", {"name"}}, {"properties", {{"name", doc::str()}}}});
  r.add("DELETE", "/api/tokens/{id}", {"token"}, revoke).doc =
      doc::op("Revoke a token", "204", nullptr);
}

}  // namespace dbsync::daemon::api
