// API tokens: random, shown once, stored as SHA-256 in dbsync.api_tokens; a request's bearer
// token is hashed and compared in constant time with the stored hash. authenticate() is the
// middleware of every /api route.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include "daemon/catalog/db.hpp"
#include "daemon/http/api_error.hpp"
#include "engine/status.hpp"

namespace dbsync::daemon {

// 32 random bytes as "dbs_" + 64 hex digits.
std::string generate_token();
// The raw 32-byte SHA-256 of a token.
std::string sha256(const std::string& data);
// The hex SHA-256 a token is stored under.
std::string token_hash_hex(const std::string& token);

struct TokenIdentity {
  long long id = 0;
  std::string name;
};

// The identity behind a bearer token, nullopt for an unknown or revoked one.
catalog::DbResult<std::optional<TokenIdentity>> verify_token(pg::PgConnection& db,
                                                             const std::string& token);

// The request's identity from "Authorization: Bearer <token>": a 401 without a valid token
// (the caller adds WWW-Authenticate), the master's failure as error_from_db says.
ApiResult<TokenIdentity> authenticate(catalog::Pool& pool, const httplib::Request& req);

// At start: when the catalog has no token at all, stores `admin_token` (or a generated one,
// which is then returned so main prints it once). A configured admin token that is not in the
// catalog yet is added (named "admin"); a revoked one stays revoked.
Result<std::optional<std::string>> bootstrap_tokens(pg::PgConnection& db,
                                                    const std::string& admin_token);

}  // namespace dbsync::daemon
