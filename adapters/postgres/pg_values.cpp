#include "adapters/postgres/pg_values.hpp"

#include <charconv>
#include <cmath>

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

void append_copy_escaped(std::string& out, std::string_view text) {
  // Runs of ordinary bytes are appended whole; only the few special ones are escaped.
  auto special = [](char c) {
    return c == '\\' || c == '\t' || c == '\n' || c == '\r' || c == '\b' || c == '\f' || c == '\v';
  };
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!special(c)) continue;
    out.append(text.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\v";
    }
  }
  out.append(text.data() + start, text.size() - start);
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
