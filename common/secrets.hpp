// Datasource secrets at rest: AES-256-GCM (OpenSSL EVP). Pure C++: no PostgreSQL headers, so
// it can be unit-tested on its own.
//
// A sealed value is  version (1 byte, 0x01) || nonce (12 bytes, random per value) ||
// ciphertext || tag (16 bytes). The version byte is also authenticated (additional data), so a
// value cannot be replayed under another format. Opening with the wrong key fails the tag check:
// an error, never garbage.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "engine/status.hpp"

namespace dbsync::secrets {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;
inline constexpr unsigned char kFormatVersion = 0x01;

// A 256-bit key; its bytes are wiped when it goes away.
class Key {
 public:
  Key() = default;
  Key(const Key& other) = default;
  Key& operator=(const Key& other) = default;
  ~Key();
  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }

 private:
  std::array<unsigned char, kKeySize> bytes_{};
};

// A key file holds exactly 32 raw bytes, or 64 hex digits (surrounding whitespace allowed).
Result<Key> parse_key(std::string_view contents);
// Reads and parses the key file at `path` (plain C I/O; messages do not repeat the path).
Result<Key> load_key_file(const std::string& path);

// Encrypts `plaintext` with a fresh random nonce; the result is the sealed byte string.
Result<std::string> seal(const Key& key, std::string_view plaintext);
// Decrypts a sealed byte string; kInvalidArgument for a wrong key or a damaged value.
Result<std::string> open(const Key& key, std::string_view sealed);

// Overwrites a string's bytes (plaintext secrets once used).
void wipe(std::string& s);

}  // namespace dbsync::secrets
