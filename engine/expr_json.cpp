#include "engine/expr_json.hpp"
#include "engine/utf8.hpp"

#include <charconv>

#include "engine/decimal.hpp"
#include "engine/hex.hpp"

namespace dbsync::expr {

namespace {

constexpr size_t kBad = std::string_view::npos;

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// End of the string literal starting at s[i] == '"', or kBad.
size_t skip_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kBad;
}

// End of the element starting at s[i] (no leading whitespace), or kBad. Iterative: nesting is
// tracked with a counter, not recursion.
size_t skip_value(std::string_view s, size_t i) {
  if (i >= s.size()) return kBad;
  char c = s[i];
  if (c == '"') return skip_string(s, i);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (i < s.size()) {
      char d = s[i];
      if (d == '"') {
        i = skip_string(s, i);
        if (i == kBad) return kBad;
        continue;
      }
      if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return kBad;
  }
  size_t j = i;
  while (j < s.size() && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' &&
         s[j] != '\n' && s[j] != '\r' && s[j] != ':') {
    ++j;
  }
  return j == i ? kBad : j;
}

bool read_hex4(std::string_view s, size_t i, uint32_t& out) {
  if (i + 4 > s.size()) return false;
  out = 0;
  for (size_t k = 0; k < 4; ++k) {
    int h = hex::digit(s[i + k]);
    if (h < 0) return false;
    out = out * 16 + static_cast<uint32_t>(h);
  }
  return true;
}

}  // namespace

bool json_decode_string(std::string_view lit, std::string& out) {
  out.clear();
  if (lit.size() < 2 || lit.front() != '"' || lit.back() != '"') return false;
  for (size_t i = 1; i + 1 < lit.size(); ++i) {
    char c = lit[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i + 1 > lit.size() - 1) return false;
    switch (lit[i]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!read_hex4(lit, i + 1, cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo = 0;
          if (i + 2 < lit.size() && lit[i + 1] == '\\' && lit[i + 2] == 'u' &&
              read_hex4(lit, i + 3, lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

void json_quote(std::string_view s, std::string& out) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

char json_kind(std::string_view e) {
  if (e.empty()) return '?';
  switch (e[0]) {
    case '{':
      return 'o';
    case '[':
      return 'a';
    case '"':
      return 's';
    case 't':
    case 'f':
      return 'b';
    case 'n':
      return 'z';
    default:
      return (e[0] == '-' || (e[0] >= '0' && e[0] <= '9')) ? 'n' : '?';
  }
}

bool json_for_each(std::string_view s,
                   const std::function<bool(std::string_view, std::string_view)>& visit) {
  size_t i = skip_ws(s, 0);
  if (i >= s.size() || (s[i] != '{' && s[i] != '[')) return false;
  const bool object = s[i] == '{';
  const char close = object ? '}' : ']';
  i = skip_ws(s, i + 1);
  if (i < s.size() && s[i] == close) return true;
  std::string key;
  while (i < s.size()) {
    if (object) {
      if (s[i] != '"') return false;
      size_t kend = skip_string(s, i);
      if (kend == kBad || !json_decode_string(s.substr(i, kend - i), key)) return false;
      i = skip_ws(s, kend);
      if (i >= s.size() || s[i] != ':') return false;
      i = skip_ws(s, i + 1);
    }
    size_t vend = skip_value(s, i);
    if (vend == kBad) return false;
    if (!visit(object ? std::string_view(key) : std::string_view(), s.substr(i, vend - i))) {
      return true;
    }
    i = skip_ws(s, vend);
    if (i >= s.size()) return false;
    if (s[i] == close) return true;
    if (s[i] != ',') return false;
    i = skip_ws(s, i + 1);
  }
  return false;
}

Result<Value> json_element_value(std::string_view e) {
  switch (json_kind(e)) {
    case 'o':
    case 'a':
      return Value::json_unchecked(std::string(e));
    case 's': {
      std::string out;
      if (!json_decode_string(e, out)) break;
      return Value::text(std::move(out));
    }
    case 'b':
      if (e == "true") return Value::boolean(true);
      if (e == "false") return Value::boolean(false);
      break;
    case 'z':
      if (e == "null") return Value::null();
      break;
    case 'n': {
      int64_t i = 0;
      auto r = std::from_chars(e.data(), e.data() + e.size(), i);
      if (r.ec == std::errc() && r.ptr == e.data() + e.size()) return Value::integer(i);
      Result<std::string> d = decimal::parse(e);
      if (d) return Value::decimal_unchecked(std::move(d).value());
      return error(ErrorCode::kEvaluation, "JSON number out of range");
    }
    default:
      break;
  }
  return error(ErrorCode::kEvaluation, "malformed JSON value");
}

}  // namespace dbsync::expr
