// Hexadecimal digits, once: the value of one digit, bytes as lowercase hex, hex back to bytes,
// and PostgreSQL's bytea hex output form ("\x4142").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dbsync::hex {

// The value of one hexadecimal digit (either case), or -1.
constexpr int digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lowercase hex of the bytes, two digits per byte.
inline std::string encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The bytes of an even number of hex digits; nullopt when the text is not that.
inline std::optional<std::string> decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// PostgreSQL's bytea hex output form: "\x" then the digits.
inline std::string encode_bytea(std::string_view bytes) { return "\\x" + encode(bytes); }
inline std::optional<std::string> decode_bytea(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::nullopt;
  return decode(text.substr(2));
}

}  // namespace dbsync::hex
