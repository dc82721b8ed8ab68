#include "common/secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/hex.hpp"

namespace dbsync::secrets {

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Status crypto_error(const char* what) {
  return error(ErrorCode::kInternal, std::string("OpenSSL: ") + what + " failed");
}

}  // namespace

Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<Key> parse_key(std::string_view contents) {
  Key key;
  if (contents.size() == kKeySize) {
    std::memcpy(key.data(), contents.data(), kKeySize);
    return key;
  }
  while (!contents.empty() && is_space(contents.front())) contents.remove_prefix(1);
  while (!contents.empty() && is_space(contents.back())) contents.remove_suffix(1);
  if (contents.size() != 2 * kKeySize)
    return error(ErrorCode::kInvalidArgument,
                 "the key file must hold exactly 32 bytes or 64 hexadecimal digits");
  for (size_t i = 0; i < kKeySize; ++i) {
    int hi = hex::digit(contents[2 * i]), lo = hex::digit(contents[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return error(ErrorCode::kInvalidArgument,
                   "the key file must hold exactly 32 bytes or 64 hexadecimal digits");
    key.data()[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

Result<Key> load_key_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return error(ErrorCode::kUnavailable,
                 std::string("could not open the key file: ") + std::strerror(errno));
  // A key file is tiny: read at most a little more than the longest valid form.
  std::string contents(256, '\0');
  size_t n = std::fread(contents.data(), 1, contents.size(), f);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    wipe(contents);
    return error(ErrorCode::kUnavailable, "could not read the key file");
  }
  contents.resize(n);
  Result<Key> key = parse_key(contents);
  wipe(contents);
  return key;
}

Result<std::string> seal(const Key& key, std::string_view plaintext) {
  std::string out(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = kFormatVersion;
  unsigned char* nonce = p + 1;
  unsigned char* body = nonce + kNonceSize;
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) return crypto_error("RAND_bytes");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx) return crypto_error("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    return crypto_error("encryption setup");
  if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, p, 1) != 1) return crypto_error("encryption");
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), body, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1)
    return crypto_error("encryption");
  if (EVP_EncryptFinal_ex(ctx.get(), body + plaintext.size(), &len) != 1)
    return crypto_error("encryption");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          body + plaintext.size()) != 1)
    return crypto_error("encryption tag");
  return out;
}

Result<std::string> open(const Key& key, std::string_view sealed) {
  if (sealed.size() < 1 + kNonceSize + kTagSize)
    return error(ErrorCode::kInvalidArgument, "the sealed secret is too short (damaged)");
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  if (p[0] != kFormatVersion)
    return error(ErrorCode::kInvalidArgument,
                 "the sealed secret has an unknown format version " + std::to_string(p[0]));
  const unsigned char* nonce = p + 1;
  const unsigned char* body = nonce + kNonceSize;
  size_t body_size = sealed.size() - 1 - kNonceSize - kTagSize;
  std::string plain(body_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  // GCM_SET_TAG takes a non-const pointer; copy the tag out.
  unsigned char tag[kTagSize];
  std::memcpy(tag, body + body_size, kTagSize);

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx) return crypto_error("EVP_CIPHER_CTX_new");
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    return crypto_error("decryption setup");
  if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, p, 1) != 1) return crypto_error("decryption");
  if (body_size > 0 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, body, static_cast<int>(body_size)) != 1) {
    wipe(plain);
    return crypto_error("decryption");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    wipe(plain);
    return crypto_error("decryption tag");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + body_size, &len) != 1) {
    wipe(plain);
    return error(ErrorCode::kInvalidArgument,
                 "the secret does not decrypt with this key (wrong key, or a damaged value)");
  }
  return plain;
}

}  // namespace dbsync::secrets
