#include "daemon/catalog/tokens.hpp"

namespace dbsync::daemon::catalog {

DbResult<nlohmann::json> list_tokens(pg::PgConnection& db) {
  return json_rows(db,
                   "SELECT jsonb_build_object('id', id, 'name', name, 'created_at', created_at, "
                   "'last_used_at', last_used_at, 'revoked_at', revoked_at) "
                   "FROM dbsync.api_tokens ORDER BY id");
}

DbResult<nlohmann::json> create_token(pg::PgConnection& db, const std::string& name,
                                      const std::string& hash_hex) {
  auto r = json_rows(db,
                     "INSERT INTO dbsync.api_tokens (name, token_hash) VALUES ($1, decode($2, "
                     "'hex')) RETURNING jsonb_build_object('id', id, 'name', name, 'created_at', "
                     "created_at)",
                     {name, hash_hex});
  if (!r.is_ok()) return r.failure();
  return std::move(r.value()[0]);
}

DbResult<std::optional<nlohmann::json>> revoke_token(pg::PgConnection& db, long long id) {
  return json_row(db,
                  "WITH t AS (SELECT id, revoked_at FROM dbsync.api_tokens WHERE id = $1), "
                  "others AS (SELECT count(*) AS n FROM dbsync.api_tokens "
                  "            WHERE revoked_at IS NULL AND id <> $1), "
                  "upd AS (UPDATE dbsync.api_tokens a SET revoked_at = now() FROM t, others "
                  "         WHERE a.id = t.id AND t.revoked_at IS NULL AND others.n > 0 "
                  "         RETURNING a.id) "
                  "SELECT jsonb_build_object('revoked', (SELECT count(*) FROM upd), "
                  "  'already', t.revoked_at IS NOT NULL) FROM t",
                  {std::to_string(id)});
}

DbResult<std::optional<StoredToken>> find_active_token(pg::PgConnection& db,
                                                       const std::string& hash_hex) {
  // bytea in hex form both ways.
  auto r = run(db,
               "SELECT id, name, encode(token_hash, 'hex'), "
               "       last_used_at IS NULL OR last_used_at < now() - interval '60 seconds' "
               "  FROM dbsync.api_tokens WHERE token_hash = decode($1, 'hex') "
               "   AND revoked_at IS NULL",
               {hash_hex});
  if (!r.is_ok()) return r.failure();
  const pg::PgResult& rows = r.value();
  if (rows.rows() != 1) return std::optional<StoredToken>{};
  return std::optional<StoredToken>{
      StoredToken{std::stoll(std::string(rows.get(0, 0))), std::string(rows.get(0, 1)),
                  std::string(rows.get(0, 2)), rows.get(0, 3) == "t"}};
}

DbStatus touch_token(pg::PgConnection& db, long long id) {
  return exec(db, "UPDATE dbsync.api_tokens SET last_used_at = now() WHERE id = $1",
              {std::to_string(id)});
}

DbResult<bool> store_first_token(pg::PgConnection& db, const std::string& hash_hex, bool always) {
  Transaction tx(db);
  if (tx.begin_failure()) return *tx.begin_failure();
  if (auto r = exec(db, "SELECT pg_advisory_xact_lock(hashtext('dbsync.api_tokens'))"); !r.is_ok())
    return r.failure();
  auto count = run(db, "SELECT count(*) FROM dbsync.api_tokens");
  if (!count.is_ok()) return count.failure();
  const bool empty = count.value().get(0, 0) == "0";
  if (empty || always) {
    if (auto r = exec(db,
                      "INSERT INTO dbsync.api_tokens (name, token_hash) "
                      "VALUES ('admin', decode($1, 'hex')) ON CONFLICT (token_hash) DO NOTHING",
                      {hash_hex});
        !r.is_ok())
      return r.failure();
  }
  if (auto r = tx.commit(); !r.is_ok()) return r.failure();
  return empty;
}

}  // namespace dbsync::daemon::catalog
