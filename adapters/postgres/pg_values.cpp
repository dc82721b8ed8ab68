#include "adapters/postgres/pg_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/timeutil.hpp"

namespace dbsync::pg {

namespace {

void append_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string float_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back exactly
  return std::string(buf, res.ptr);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string value_to_text(const Value& v, const TypeSpec& t) {
  switch (v.type()) {
    case ValueType::kNull:
      return {};
    case ValueType::kBool:
      return v.as_bool() ? "t" : "f";
    case ValueType::kInt:
      return std::to_string(v.as_int());
    case ValueType::kFloat:
      return float_text(v.as_float());
    case ValueType::kDecimal:
    case ValueType::kText:
    case ValueType::kJson:
      return v.str();
    case ValueType::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "\\x";
      out.reserve(2 + v.str().size() * 2);
      for (unsigned char c : v.str()) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      return out;
    }
    case ValueType::kTimestamp: {
      std::string s = format_timestamp_local(v.micros(), *TimeZone::utc());
      // Zoneless columns store the UTC wall clock; zoned ones get an explicit offset.
      if (!(t.kind == TypeKind::kTimestamp && !t.with_time_zone)) s += "+00";
      return s;
    }
    case ValueType::kDate:
      return format_date(v.days());
    case ValueType::kTime:
      return format_time_of_day(v.micros());
  }
  return v.to_string();
}

namespace {

// The special bytes of COPY text: \b \t \n \v \f \r (8 to 13) and the backslash.
constexpr bool copy_special(unsigned char c) { return (c >= 8 && c <= 13) || c == '\\'; }

// Whether any of the 8 bytes of `w` is special (bit tricks of "hasless"/"haszero": a byte's high
// bit set in the result marks a match; bytes >= 0x80, UTF-8, never match).
inline bool any_copy_special(uint64_t w) {
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const uint64_t low7 = w & ~highs;
  // 7 < byte < 14, for bytes below 0x80: (low7 + (128 - 14)) has its high bit clear and
  // (low7 + (127 - 7)) has it set; a byte >= 0x80 is excluded by ~w.
  const uint64_t in_range = ((ones * (127 + 14) - low7) & ~w & (low7 + ones * (127 - 7))) & highs;
  const uint64_t x = w ^ (ones * '\\');
  const uint64_t backslash = (x - ones) & ~x & highs;
  return (in_range | backslash) != 0;
}

}  // namespace

void append_copy_escaped(std::string& out, std::string_view text) {
  // Runs of ordinary bytes are appended whole, eight bytes tested at a time; only the few
  // special ones are escaped.
  const char* p = text.data();
  const size_t n = text.size();
  size_t start = 0, i = 0;
  for (;;) {
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (any_copy_special(w)) break;
      i += 8;
    }
    const size_t stop = std::min(n, i + 8);
    while (i < stop && !copy_special(static_cast<unsigned char>(p[i]))) ++i;
    if (i == n) break;
    if (i == stop) continue;  // a false alarm of the word test cannot happen, but be safe
    out.append(p + start, i - start);
    const char c = p[i];
    start = ++i;
    out.push_back('\\');
    switch (c) {
      case '\\':
        out.push_back('\\');
        break;
      case '\t':
        out.push_back('t');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\b':
        out.push_back('b');
        break;
      case '\f':
        out.push_back('f');
        break;
      default:
        out.push_back('v');
    }
  }
  out.append(p + start, n - start);
}

void append_copy_field(std::string& out, const Value& v, const TypeSpec& t) {
  if (v.is_null()) {
    out += "\\N";
    return;
  }
  switch (v.type()) {
    case ValueType::kText:
    case ValueType::kJson:
      append_copy_escaped(out, v.str());
      return;
    case ValueType::kDecimal:
      out += v.str();
      return;
    case ValueType::kInt: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, res.ptr);
      return;
    }
    default:
      append_copy_escaped(out, value_to_text(v, t));
      return;
  }
}

Status parse_copy_line(std::string_view line, size_t expected_fields, CopyLine& out) {
  out.text.resize(expected_fields);
  out.is_null.assign(expected_fields, false);
  size_t field = 0;
  size_t pos = 0;
  for (;;) {
    if (field >= expected_fields)
      return error(ErrorCode::kInternal,
                   "COPY line has more than " + std::to_string(expected_fields) + " fields");
    std::string& f = out.text[field];
    f.clear();
    size_t end = line.find('\t', pos);
    std::string_view raw =
        line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (raw == "\\N") {
      out.is_null[field] = true;
    } else {
      for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\' || i + 1 == raw.size()) {
          f.push_back(c);
          continue;
        }
        char e = raw[++i];
        switch (e) {
          case 'b':
            f.push_back('\b');
            break;
          case 'f':
            f.push_back('\f');
            break;
          case 'n':
            f.push_back('\n');
            break;
          case 'r':
            f.push_back('\r');
            break;
          case 't':
            f.push_back('\t');
            break;
          case 'v':
            f.push_back('\v');
            break;
          case 'x': {
            int value = 0, n = 0;
            while (n < 2 && i + 1 < raw.size() && hex_digit(raw[i + 1]) >= 0)
              value = value * 16 + hex_digit(raw[++i]), ++n;
            if (n == 0)
              f.push_back('x');
            else
              f.push_back(static_cast<char>(value));
            break;
          }
          default:
            if (e >= '0' && e <= '7') {
              int value = e - '0', n = 1;
              while (n < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7')
                value = value * 8 + (raw[++i] - '0'), ++n;
              f.push_back(static_cast<char>(value & 0xff));
            } else {
              f.push_back(e);
            }
        }
      }
    }
    ++field;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  if (field != expected_fields)
    return error(ErrorCode::kInternal, "COPY line has " + std::to_string(field) +
                                           " fields, expected " + std::to_string(expected_fields));
  return Status::ok();
}

std::string encode_bytea_array(const std::vector<std::string>& items) {
  constexpr uint32_t kByteaOid = 17;
  std::string out;
  size_t total = 20;
  for (const std::string& s : items) total += 4 + s.size();
  out.reserve(total);
  append_be32(out, 1);  // dimensions
  append_be32(out, 0);  // no nulls
  append_be32(out, kByteaOid);
  append_be32(out, static_cast<uint32_t>(items.size()));
  append_be32(out, 1);  // lower bound
  for (const std::string& s : items) {
    append_be32(out, static_cast<uint32_t>(s.size()));
    out += s;
  }
  return out;
}

}  // namespace dbsync::pg
