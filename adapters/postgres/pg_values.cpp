#include "adapters/postgres/pg_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/decimal.hpp"
#include "engine/hex.hpp"
#include "engine/timeutil.hpp"

namespace dbsync::pg {

namespace {

void append_be32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
                     static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
  out.append(b, 4);  // one append, not four (each checks the capacity and ends the string)
}

std::string float_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back exactly
  return std::string(buf, res.ptr);
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
    case ValueType::kTimestamp:
      // Zoneless columns store the UTC wall clock; zoned ones get an explicit offset.
      return format_timestamp_pg(v.micros(),
                                 !(t.kind == TypeKind::kTimestamp && !t.with_time_zone));
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
            while (n < 2 && i + 1 < raw.size() && hex::digit(raw[i + 1]) >= 0)
              value = value * 16 + hex::digit(raw[++i]), ++n;
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

// ---------------------------------------------------------------- COPY binary format

namespace {

// Between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr int32_t kPgEpochDays = 10957;
constexpr int64_t kPgEpochMicros = int64_t{kPgEpochDays} * 86400 * 1000000;

void put_be16(std::string& out, uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
  out.append(b, 2);
}
void put_be64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  out.append(b, 8);
}
void put_length(std::string& out, size_t n) { append_be32(out, static_cast<uint32_t>(n)); }

// numeric's binary form (numeric_recv): digit count, weight, sign, display scale, then base
// 10000 digits, from a decimal's text ("-12.50", "7"). False for anything else.
bool append_numeric(std::string& out, std::string_view s) {
  if (decimal::is_special(s)) {  // no digits; the sign word says which (numeric.c's NUMERIC_NAN...)
    put_length(out, 8);
    put_be16(out, 0);
    put_be16(out, 0);
    put_be16(out, decimal::is_nan(s) ? 0xC000 : s[0] == '-' ? 0xF000 : 0xD000);
    put_be16(out, 0);
    return true;
  }
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (ip.empty() && fp.empty()) return false;
  for (std::string_view part : {ip, fp})
    for (char c : part)
      if (c < '0' || c > '9') return false;
  if (fp.size() > 16383) return false;  // numeric's largest display scale
  while (ip.size() > 1 && ip[0] == '0') ip.remove_prefix(1);
  std::vector<uint16_t> digits;
  const size_t int_groups = (ip.size() + 3) / 4;
  digits.reserve(int_groups + (fp.size() + 3) / 4);
  for (size_t g = 0; g < int_groups; ++g) {
    // The groups end 4 * (int_groups - 1 - g) digits before the point.
    const size_t end = ip.size() - 4 * (int_groups - 1 - g);
    const size_t begin = end >= 4 ? end - 4 : 0;
    uint16_t d = 0;
    for (size_t i = begin; i < end; ++i) d = static_cast<uint16_t>(d * 10 + (ip[i] - '0'));
    digits.push_back(d);
  }
  int weight = static_cast<int>(int_groups) - 1;
  for (size_t g = 0; g < fp.size(); g += 4) {
    uint16_t d = 0;
    for (size_t i = g; i < g + 4; ++i)
      d = static_cast<uint16_t>(d * 10 + (i < fp.size() ? fp[i] - '0' : 0));
    digits.push_back(d);
  }
  size_t first = 0;
  while (first < digits.size() && digits[first] == 0) {
    ++first;
    --weight;
  }
  size_t last = digits.size();
  while (last > first && digits[last - 1] == 0) --last;
  if (first == last) {  // zero
    weight = 0;
    negative = false;
  }
  const size_t n = last - first;
  if (n > 0x7fff || weight < -0x8000 || weight > 0x7fff) return false;
  put_length(out, 8 + 2 * n);
  put_be16(out, static_cast<uint16_t>(n));
  put_be16(out, static_cast<uint16_t>(static_cast<int16_t>(weight)));
  put_be16(out, negative ? 0x4000 : 0x0000);
  put_be16(out, static_cast<uint16_t>(fp.size()));
  for (size_t i = first; i < last; ++i) put_be16(out, digits[i]);
  return true;
}

bool append_uuid(std::string& out, std::string_view s) {
  unsigned char bytes[16];
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-') continue;
    if (n >= 32) return false;
    const int h = hex::digit(s[i]);
    if (h < 0) return false;
    if (n % 2 == 0)
      bytes[n / 2] = static_cast<unsigned char>(h << 4);
    else
      bytes[n / 2] |= static_cast<unsigned char>(h);
    ++n;
  }
  if (n != 32) return false;
  put_length(out, 16);
  out.append(reinterpret_cast<const char*>(bytes), 16);
  return true;
}

}  // namespace

BinaryKind binary_kind(std::string_view udt, const TypeSpec& t) {
  struct Entry {
    std::string_view udt;
    TypeKind kind;
    BinaryKind binary;
  };
  static constexpr Entry kEntries[] = {
      {"int2", TypeKind::kInt, BinaryKind::kInt2},
      {"int4", TypeKind::kInt, BinaryKind::kInt4},
      {"int8", TypeKind::kInt, BinaryKind::kInt8},
      {"float4", TypeKind::kFloat, BinaryKind::kFloat4},
      {"float8", TypeKind::kFloat, BinaryKind::kFloat8},
      {"bool", TypeKind::kBool, BinaryKind::kBool},
      {"text", TypeKind::kText, BinaryKind::kText},
      {"varchar", TypeKind::kText, BinaryKind::kText},
      {"bpchar", TypeKind::kText, BinaryKind::kText},
      {"bytea", TypeKind::kBytes, BinaryKind::kBytea},
      {"numeric", TypeKind::kDecimal, BinaryKind::kNumeric},
      {"timestamp", TypeKind::kTimestamp, BinaryKind::kTimestamp},
      {"timestamptz", TypeKind::kTimestamp, BinaryKind::kTimestamp},
      {"date", TypeKind::kDate, BinaryKind::kDate},
      {"time", TypeKind::kTime, BinaryKind::kTime},
      {"json", TypeKind::kJson, BinaryKind::kJson},
      {"jsonb", TypeKind::kJson, BinaryKind::kJsonb},
      {"uuid", TypeKind::kText, BinaryKind::kUuid},
  };
  for (const Entry& e : kEntries)
    if (e.udt == udt) return e.kind == t.kind ? e.binary : BinaryKind::kNone;
  return BinaryKind::kNone;
}

void append_copy_binary_header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and its NUL
  out.append(kSignature, sizeof kSignature);
  append_be32(out, 0);  // flags: no OIDs
  append_be32(out, 0);  // no header extension
}

void append_copy_binary_trailer(std::string& out) { put_be16(out, 0xffff); }

bool append_binary_field(std::string& out, const Value& v, BinaryKind kind) {
  if (v.is_null()) {
    append_be32(out, 0xffffffffu);
    return true;
  }
  const size_t mark = out.size();
  auto fail = [&] {
    out.resize(mark);
    return false;
  };
  switch (kind) {
    case BinaryKind::kInt2:
    case BinaryKind::kInt4:
    case BinaryKind::kInt8: {
      if (v.type() != ValueType::kInt) return fail();
      const int64_t i = v.as_int();
      if (kind == BinaryKind::kInt2) {
        if (i < INT16_MIN || i > INT16_MAX) return fail();
        put_length(out, 2);
        put_be16(out, static_cast<uint16_t>(static_cast<int16_t>(i)));
      } else if (kind == BinaryKind::kInt4) {
        if (i < INT32_MIN || i > INT32_MAX) return fail();
        put_length(out, 4);
        append_be32(out, static_cast<uint32_t>(static_cast<int32_t>(i)));
      } else {
        put_length(out, 8);
        put_be64(out, static_cast<uint64_t>(i));
      }
      return true;
    }
    case BinaryKind::kFloat4: {
      if (v.type() != ValueType::kFloat) return fail();
      const float f = static_cast<float>(v.as_float());
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_length(out, 4);
      append_be32(out, bits);
      return true;
    }
    case BinaryKind::kFloat8: {
      if (v.type() != ValueType::kFloat) return fail();
      const double d = v.as_float();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      put_length(out, 8);
      put_be64(out, bits);
      return true;
    }
    case BinaryKind::kBool:
      if (v.type() != ValueType::kBool) return fail();
      put_length(out, 1);
      out.push_back(v.as_bool() ? 1 : 0);
      return true;
    case BinaryKind::kText:
      if (v.type() != ValueType::kText) return fail();
      put_length(out, v.str().size());
      out += v.str();
      return true;
    case BinaryKind::kBytea:
      if (v.type() != ValueType::kBytes) return fail();
      put_length(out, v.str().size());
      out += v.str();
      return true;
    case BinaryKind::kNumeric:
      if (v.type() == ValueType::kDecimal) return append_numeric(out, v.str()) || fail();
      if (v.type() == ValueType::kInt)
        return append_numeric(out, std::to_string(v.as_int())) || fail();
      return fail();
    case BinaryKind::kTimestamp: {
      if (v.type() != ValueType::kTimestamp) return fail();
      const int64_t micros = v.micros();
      // The infinities are the same extremes in PostgreSQL's count (DT_NOBEGIN, DT_NOEND).
      if (timestamp_is_finite(micros) && micros < INT64_MIN + kPgEpochMicros) return fail();
      const int64_t pg = timestamp_is_finite(micros) ? micros - kPgEpochMicros : micros;
      put_length(out, 8);
      put_be64(out, static_cast<uint64_t>(pg));
      return true;
    }
    case BinaryKind::kDate: {
      if (v.type() != ValueType::kDate) return fail();
      // The infinities are the same extremes in PostgreSQL's count (DATEVAL_NOBEGIN, _NOEND).
      const int64_t days = date_is_finite(v.days()) ? v.as_int() - kPgEpochDays : v.as_int();
      if (days < INT32_MIN || days > INT32_MAX) return fail();
      put_length(out, 4);
      append_be32(out, static_cast<uint32_t>(static_cast<int32_t>(days)));
      return true;
    }
    case BinaryKind::kTime:
      if (v.type() != ValueType::kTime) return fail();
      put_length(out, 8);
      put_be64(out, static_cast<uint64_t>(v.micros()));
      return true;
    case BinaryKind::kJson:
    case BinaryKind::kJsonb:
      if (v.type() != ValueType::kJson) return fail();
      put_length(out, v.str().size() + (kind == BinaryKind::kJsonb ? 1 : 0));
      if (kind == BinaryKind::kJsonb) out.push_back(1);  // jsonb's binary format version
      out += v.str();
      return true;
    case BinaryKind::kUuid:
      if (v.type() != ValueType::kText) return fail();
      return append_uuid(out, v.str()) || fail();
    case BinaryKind::kNone:
      break;
  }
  return fail();
}

}  // namespace dbsync::pg
