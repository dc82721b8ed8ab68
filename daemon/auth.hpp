// API tokens: random, shown once, stored as SHA-256 in dbsync.api_tokens; a request's bearer
// token is hashed and compared in constant time with the stored hash.
#pragma once

#include <optional>
#include <string>

#include "daemon/db.hpp"
#include "engine/status.hpp"

namespace dbsync::daemon {

// 32 random bytes as "dbs_" + 64 hex digits.
std::string generate_token();
// The raw 32-byte SHA-256 of a token.
std::string sha256(const std::string& data);
std::string to_hex(const std::string& bytes);

struct TokenIdentity {
  long long id = 0;
  std::string name;
};

// The identity behind a bearer token, nullopt for an unknown or revoked one; `err` set (and
// nullopt) when the master could not answer.
std::optional<TokenIdentity> verify_token(DbSession& db, const std::string& token, DbError& err,
                                          bool& db_failed);

// At start: when the catalog has no token at all, stores `admin_token` (or a generated one,
// which is then returned so main prints it once). A configured admin token that is not in the
// catalog yet is added (named "admin"); a revoked one stays revoked.
Result<std::optional<std::string>> bootstrap_tokens(DbSession& db, const std::string& admin_token);

}  // namespace dbsync::daemon
