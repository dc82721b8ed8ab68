#include "daemon/http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>

#include <stdexcept>

#include "daemon/catalog/tokens.hpp"
#include "engine/hex.hpp"

namespace dbsync::daemon {

std::string sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32)
    throw std::runtime_error("SHA-256 failed");
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string token_hash_hex(const std::string& token) { return hex::encode(sha256(token)); }

std::string generate_token() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("no random bytes for a token");
  return "dbs_" + hex::encode(std::string_view(reinterpret_cast<char*>(buf), sizeof buf));
}

catalog::DbResult<std::optional<TokenIdentity>> verify_token(pg::PgConnection& db,
                                                             const std::string& token) {
  const std::string expected = token_hash_hex(token);
  auto found = catalog::find_active_token(db, expected);
  if (!found.is_ok()) return found.failure();
  const std::optional<catalog::StoredToken>& t = found.value();
  // The stored hash came back: compared in constant time.
  if (!t || t->hash_hex.size() != expected.size() ||
      CRYPTO_memcmp(t->hash_hex.data(), expected.data(), expected.size()) != 0)
    return std::optional<TokenIdentity>{};
  if (t->stale_use) (void)catalog::touch_token(db, t->id);  // best effort
  return std::optional<TokenIdentity>{TokenIdentity{t->id, t->name}};
}

ApiResult<TokenIdentity> authenticate(catalog::Pool& pool, const httplib::Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  // The scheme is case-insensitive (RFC 7235).
  if (auth.size() <= prefix.size() || strncasecmp(auth.c_str(), prefix.c_str(), prefix.size()) != 0)
    return ApiError{401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)",
                    nlohmann::json::object()};
  auto conn = pool.acquire();
  if (!conn.is_ok()) return error_from_db(conn.failure());
  auto who = verify_token(conn.value().pg(), auth.substr(prefix.size()));
  if (!who.is_ok()) return error_from_db(who.failure());
  if (!who.value())
    return ApiError{401, "unauthorized", "invalid or revoked token", nlohmann::json::object()};
  return *who.value();
}

Result<std::optional<std::string>> bootstrap_tokens(pg::PgConnection& db,
                                                    const std::string& admin_token) {
  std::optional<std::string> generated;
  std::string token = admin_token;
  if (token.empty()) {
    generated = generate_token();
    token = *generated;
  }
  auto empty = catalog::store_first_token(db, token_hash_hex(token), !admin_token.empty());
  if (!empty.is_ok())
    return error(ErrorCode::kUnavailable,
                 "cannot store the first API token: " + empty.failure().message);
  if (empty.value() && generated) return generated;
  return std::optional<std::string>{};
}

}  // namespace dbsync::daemon
