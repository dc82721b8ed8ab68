#include "daemon/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace dbsync::daemon {

std::string to_hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32)
    throw std::runtime_error("SHA-256 failed");
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string generate_token() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("no random bytes for a token");
  return "dbs_" + to_hex(std::string(reinterpret_cast<char*>(buf), sizeof buf));
}

std::optional<TokenIdentity> verify_token(DbSession& db, const std::string& token, DbError& err,
                                          bool& db_failed) {
  db_failed = false;
  std::string hash = sha256(token);
  DbRows rows;
  // bytea in hex form both ways; the stored hash comes back and is compared in constant time.
  if (!db.query("SELECT id, name, encode(token_hash, 'hex'), "
                "       last_used_at IS NULL OR last_used_at < now() - interval '60 seconds' "
                "  FROM dbsync.api_tokens WHERE token_hash = decode($1, 'hex') "
                "   AND revoked_at IS NULL",
                {to_hex(hash)}, rows, err)) {
    db_failed = true;
    return std::nullopt;
  }
  if (rows.rows() != 1) return std::nullopt;
  std::string stored = rows.get(0, 2);
  std::string expected = to_hex(hash);
  if (stored.size() != expected.size() ||
      CRYPTO_memcmp(stored.data(), expected.data(), stored.size()) != 0)
    return std::nullopt;
  TokenIdentity who{std::stoll(rows.get(0, 0)), rows.get(0, 1)};
  if (rows.get(0, 3) == "t") {
    DbRows ignored;
    DbError ignored_err;
    (void)db.query("UPDATE dbsync.api_tokens SET last_used_at = now() WHERE id = $1",
                   {std::to_string(who.id)}, ignored, ignored_err);
  }
  return who;
}

Result<std::optional<std::string>> bootstrap_tokens(DbSession& db, const std::string& admin_token) {
  std::optional<std::string> generated;
  std::string token = admin_token;
  if (token.empty()) {
    generated = generate_token();
    token = *generated;
  }
  DbRows rows;
  DbError err;
  auto fail = [&](const char* what) {
    DbRows r;
    DbError e;
    (void)db.query("ROLLBACK", {}, r, e);
    return error(ErrorCode::kUnavailable, std::string(what) + ": " + err.message);
  };
  // Two daemons starting together: one inserts the first token (an advisory lock serialises).
  if (!db.query("BEGIN", {}, rows, err)) return fail("cannot start a transaction");
  if (!db.query("SELECT pg_advisory_xact_lock(hashtext('dbsync.api_tokens'))", {}, rows, err))
    return fail("cannot lock dbsync.api_tokens");
  if (!db.query("SELECT count(*) FROM dbsync.api_tokens", {}, rows, err))
    return fail("cannot read dbsync.api_tokens");
  bool empty = rows.get(0, 0) == "0";
  std::optional<std::string> to_print;
  if (empty || !admin_token.empty()) {
    if (!db.query("INSERT INTO dbsync.api_tokens (name, token_hash) "
                  "VALUES ('admin', decode($1, 'hex')) ON CONFLICT (token_hash) DO NOTHING",
                  {to_hex(sha256(token))}, rows, err))
      return fail("cannot store the first API token");
    if (empty && generated) to_print = generated;
  }
  if (!db.query("COMMIT", {}, rows, err)) return fail("cannot commit the first API token");
  return to_print;
}

}  // namespace dbsync::daemon
