// dbsync.api_tokens: the API's bearer tokens, kept as SHA-256 hashes (hex here).
#pragma once

#include <optional>
#include <string>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

struct StoredToken {
  long long id = 0;
  std::string name;
  std::string hash_hex;    // as stored, for the caller's constant-time comparison
  bool stale_use = false;  // last_used_at is unset or older than a minute: worth updating
};

DbResult<nlohmann::json> list_tokens(pg::PgConnection& db);
// The new token's row (id, name, created_at).
DbResult<nlohmann::json> create_token(pg::PgConnection& db, const std::string& name,
                                      const std::string& hash_hex);
// {"revoked": 0|1, "already": bool}; nullopt: no such token. Never revokes the last active one
// (the API would lock itself out): then "revoked" is 0.
DbResult<std::optional<nlohmann::json>> revoke_token(pg::PgConnection& db, long long id);
// The active token with this hash.
DbResult<std::optional<StoredToken>> find_active_token(pg::PgConnection& db,
                                                       const std::string& hash_hex);
DbStatus touch_token(pg::PgConnection& db, long long id);
// At start, in one transaction serialised by an advisory lock (two daemons starting together):
// stores the token with this hash as "admin" when the catalog has none, or always when
// `always`; answers whether the catalog had none.
DbResult<bool> store_first_token(pg::PgConnection& db, const std::string& hash_hex, bool always);

}  // namespace dbsync::daemon::catalog
