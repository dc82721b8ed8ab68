#include "daemon/webhooks.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>

#include "engine/hex.hpp"

namespace dbsync::daemon::webhooks {
namespace {

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool known_provider(std::string_view provider) {
  return provider == "n8n" || provider == "zapier" || provider == "activepieces" ||
         provider == "generic";
}

std::string new_secret() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1)
    throw std::runtime_error("no random bytes for a webhook secret");
  return hex::encode(std::string_view(reinterpret_cast<const char*>(buf), sizeof buf));
}

std::string signature(const std::string& secret, int64_t timestamp, std::string_view body) {
  std::string message = std::to_string(timestamp) + ".";
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return hex::encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Status verify(const std::string& secret, const std::optional<std::string>& token_header,
              const std::optional<std::string>& signature_header, std::string_view body,
              int64_t now) {
  if (token_header) {
    if (same(trim(*token_header), secret)) return Status::ok();
    return error(ErrorCode::kInvalidArgument, "X-Dbsync-Token does not match the sync's secret");
  }
  if (!signature_header)
    return error(ErrorCode::kInvalidArgument,
                 "no credentials: send X-Dbsync-Token, or X-Dbsync-Signature: t=<unix seconds>,"
                 "v1=<hex HMAC-SHA256 of \"<t>.\" + body>");
  std::optional<int64_t> t;
  std::optional<std::string> v1;
  std::string_view rest = *signature_header;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (part.rfind("t=", 0) == 0) {
      std::string digits(part.substr(2));
      char* end = nullptr;
      long long value = std::strtoll(digits.c_str(), &end, 10);
      if (digits.empty() || digits.size() > 12 || *end != '\0' || value < 0)
        return error(ErrorCode::kInvalidArgument, "X-Dbsync-Signature: t is not a unix time");
      t = value;
    } else if (part.rfind("v1=", 0) == 0) {
      v1 = std::string(part.substr(3));
      for (char& c : *v1)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (!t || !v1)
    return error(ErrorCode::kInvalidArgument,
                 "X-Dbsync-Signature must hold t=<unix seconds> and v1=<hex signature>");
  if (*t < now - kReplayWindowSeconds || *t > now + kReplayWindowSeconds)
    return error(ErrorCode::kInvalidArgument, "X-Dbsync-Signature: t is more than " +
                                                  std::to_string(kReplayWindowSeconds) +
                                                  " s away from now (a replayed or late request)");
  if (!same(*v1, signature(secret, *t, body)))
    return error(ErrorCode::kInvalidArgument, "X-Dbsync-Signature does not match the body");
  return Status::ok();
}

}  // namespace dbsync::daemon::webhooks
