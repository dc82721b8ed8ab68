// Filters and functions of the expression language (`x | f(args)` is `f(x, args)`).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "engine/decimal.hpp"
#include "engine/expr_ast.hpp"
#include "engine/expr_json.hpp"
#include "engine/timeutil.hpp"
#include "engine/utf8.hpp"

namespace dbsync::expr {

namespace {

const std::vector<FuncInfo>& function_table() {
  static const std::vector<FuncInfo> table = {
      {"upper", Func::kUpper, 1, 1, {"value"}},
      {"lower", Func::kLower, 1, 1, {"value"}},
      {"trim", Func::kTrim, 1, 2, {"value", "chars"}},
      {"capitalize", Func::kCapitalize, 1, 1, {"value"}},
      {"title", Func::kTitle, 1, 1, {"value"}},
      {"default", Func::kDefault, 1, 3, {"value", "default_value", "boolean"}},
      {"d", Func::kDefault, 1, 3, {"value", "default_value", "boolean"}},
      {"round", Func::kRound, 1, 2, {"value", "precision"}},
      {"int", Func::kInt, 1, 2, {"value", "default"}},
      {"float", Func::kFloat, 1, 2, {"value", "default"}},
      {"string", Func::kString, 1, 1, {"value"}},
      {"bool", Func::kBool, 1, 1, {"value"}},
      {"replace", Func::kReplace, 3, 4, {"value", "old", "new", "count"}},
      {"truncate", Func::kTruncate, 1, 3, {"value", "length", "end"}},
      {"slugify", Func::kSlugify, 1, 1, {"value"}},
      {"length", Func::kLength, 1, 1, {"value"}},
      {"count", Func::kLength, 1, 1, {"value"}},
      {"split", Func::kSplit, 1, 2, {"value", "sep"}},
      {"join", Func::kJoin, 1, 2, {"value", "sep"}},
      {"json", Func::kJson, 1, 1, {"value"}},
      {"tojson", Func::kJson, 1, 1, {"value"}},
      {"date", Func::kDate, 1, 2, {"value", "format"}},
      {"now", Func::kNow, 0, 0, {}},
      {"coalesce", Func::kCoalesce, 1, -1, {"value"}},
      {"abs", Func::kAbs, 1, 1, {"value"}},
      {"min", Func::kMin, 1, -1, {"value"}},
      {"max", Func::kMax, 1, -1, {"value"}},
      {"first", Func::kFirst, 1, 1, {"value"}},
      {"last", Func::kLast, 1, 1, {"value"}},
  };
  return table;
}

// ---- UTF-8 ----

constexpr uint32_t kRawByte = 0xFFFFFFFF;

// Decodes one code point at s[i]; invalid sequences come back as kRawByte with length 1 and are
// copied through unchanged by the text functions.
uint32_t decode(std::string_view s, size_t i, size_t& len) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  len = 1;
  if (c < 0x80) return c;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return kRawByte;
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return kRawByte;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return kRawByte;
  }
  len = n;
  return cp;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    decode(s, i, len);
    i += len;
    ++n;
  }
  return n;
}

// Byte offset of character index `chars` (or s.size()).
size_t utf8_offset(std::string_view s, size_t chars) {
  size_t i = 0;
  while (i < s.size() && chars > 0) {
    size_t len = 1;
    decode(s, i, len);
    i += len;
    --chars;
  }
  return i;
}

// Case mapping for ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic: what mapping
// data in Western and Eastern European databases holds, without a Unicode library.
bool ext_a_upper_is_even(uint32_t cp) {
  return (cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
         (cp >= 0x14A && cp <= 0x177);
}
bool ext_a_upper_is_odd(uint32_t cp) {
  return (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
}

uint32_t to_upper(uint32_t cp) {
  if (cp >= 'a' && cp <= 'z') return cp - 32;
  if (cp < 0x80 || cp == kRawByte) return cp;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
  if (cp == 0xFF) return 0x178;
  if (ext_a_upper_is_even(cp)) return cp & ~1u;
  if (ext_a_upper_is_odd(cp)) return (cp % 2 == 0) ? cp - 1 : cp;
  if (cp == 0x17F) return 'S';
  if (cp == 0x3C2) return 0x3A3;
  if (cp >= 0x3B1 && cp <= 0x3C9) return cp - 32;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  return cp;
}

uint32_t to_lower(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp < 0x80 || cp == kRawByte) return cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp == 0x178) return 0xFF;
  if (ext_a_upper_is_even(cp)) return cp | 1u;
  if (ext_a_upper_is_odd(cp)) return (cp % 2 == 1) ? cp + 1 : cp;
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

void append_cp(std::string_view s, size_t i, size_t len, uint32_t cp, std::string& out) {
  if (cp == kRawByte) {
    out.append(s.substr(i, len));
  } else {
    append_utf8(out, cp);
  }
}

void append_upper(std::string_view s, size_t i, size_t len, uint32_t cp, std::string& out) {
  if (cp == 0xDF) {
    out += "SS";  // ß has no single upper-case letter
  } else {
    append_cp(s, i, len, to_upper(cp), out);
  }
}

enum class CaseMode { kUpper, kLower, kCapitalize, kTitle };

std::string change_case(std::string_view s, CaseMode mode) {
  std::string out;
  out.reserve(s.size());
  bool word_start = true;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    uint32_t cp = decode(s, i, len);
    bool upper = mode == CaseMode::kUpper || (mode == CaseMode::kCapitalize && i == 0) ||
                 (mode == CaseMode::kTitle && word_start);
    if (upper) {
      append_upper(s, i, len, cp, out);
    } else {
      append_cp(s, i, len, to_lower(cp), out);
    }
    // Jinja's title(): words start after whitespace, '-' and opening brackets.
    word_start = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
                 cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    i += len;
  }
  return out;
}

bool is_unicode_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0x85;
}

std::string trim_text(std::string_view s, const std::string* chars) {
  auto strip = [&](uint32_t cp) {
    if (!chars) return is_unicode_space(cp);
    for (size_t k = 0; k < chars->size();) {
      size_t len = 1;
      if (decode(*chars, k, len) == cp && cp != kRawByte) return true;
      k += len;
    }
    return false;
  };
  size_t begin = 0;
  while (begin < s.size()) {
    size_t len = 1;
    uint32_t cp = decode(s, begin, len);
    if (!strip(cp)) break;
    begin += len;
  }
  size_t end = begin, i = begin;
  while (i < s.size()) {
    size_t len = 1;
    uint32_t cp = decode(s, i, len);
    i += len;
    if (!strip(cp)) end = i;
  }
  return std::string(s.substr(begin, end - begin));
}

struct Translit {
  uint32_t first, last;
  const char* ascii;
};

// Latin letters with diacritics to their ASCII base, for slugs.
const char* transliterate(uint32_t cp) {
  static const Translit kTable[] = {
      {0xC0, 0xC5, "a"},   {0xC6, 0xC6, "ae"},   {0xC7, 0xC7, "c"},   {0xC8, 0xCB, "e"},
      {0xCC, 0xCF, "i"},   {0xD0, 0xD0, "d"},    {0xD1, 0xD1, "n"},   {0xD2, 0xD6, "o"},
      {0xD8, 0xD8, "o"},   {0xD9, 0xDC, "u"},    {0xDD, 0xDD, "y"},   {0xDE, 0xDE, "th"},
      {0xDF, 0xDF, "ss"},  {0xE0, 0xE5, "a"},    {0xE6, 0xE6, "ae"},  {0xE7, 0xE7, "c"},
      {0xE8, 0xEB, "e"},   {0xEC, 0xEF, "i"},    {0xF0, 0xF0, "d"},   {0xF1, 0xF1, "n"},
      {0xF2, 0xF6, "o"},   {0xF8, 0xF8, "o"},    {0xF9, 0xFC, "u"},   {0xFD, 0xFD, "y"},
      {0xFE, 0xFE, "th"},  {0xFF, 0xFF, "y"},    {0x100, 0x105, "a"}, {0x106, 0x10D, "c"},
      {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},  {0x11C, 0x123, "g"}, {0x124, 0x127, "h"},
      {0x128, 0x131, "i"}, {0x132, 0x133, "ij"}, {0x134, 0x135, "j"}, {0x136, 0x138, "k"},
      {0x139, 0x142, "l"}, {0x143, 0x14B, "n"},  {0x14C, 0x151, "o"}, {0x152, 0x153, "oe"},
      {0x154, 0x159, "r"}, {0x15A, 0x161, "s"},  {0x162, 0x167, "t"}, {0x168, 0x173, "u"},
      {0x174, 0x175, "w"}, {0x176, 0x178, "y"},  {0x179, 0x17E, "z"}, {0x17F, 0x17F, "s"},
  };
  for (const auto& t : kTable) {
    if (cp >= t.first && cp <= t.last) return t.ascii;
  }
  return nullptr;
}

std::string slugify(std::string_view s) {
  std::string out;
  bool pending_dash = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    uint32_t cp = decode(s, i, len);
    i += len;
    if (cp == '\'' || cp == 0x2019) continue;  // "don't" -> "dont"
    std::string piece;
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
      piece = static_cast<char>(cp);
    } else if (cp >= 'A' && cp <= 'Z') {
      piece = static_cast<char>(cp + 32);
    } else if (const char* t = transliterate(cp)) {
      piece = t;
    }
    if (piece.empty()) {
      pending_dash = true;
      continue;
    }
    if (pending_dash && !out.empty()) out += '-';
    pending_dash = false;
    out += piece;
  }
  return out;
}

// ---- argument helpers ----

thread_local size_t t_work_left = kWorkBaseBytes;
thread_local size_t t_work_granted = kWorkBaseBytes;

Status too_large(const Node& node) {
  return eval_error(node,
                    "text result larger than " + std::to_string(kMaxTextBytes >> 20) + " MiB");
}

Result<Value> text_result(const Node& node, std::string s) {
  if (s.size() > kMaxTextBytes) return too_large(node);
  DBSYNC_RETURN_IF_ERROR(charge_work(node, s.size()));
  return Value::text(std::move(s));
}

const char* fname(const Node& node) { return function_info(node.func).name; }

std::string short_text(const std::string& s) {
  std::string out = "'";
  size_t n = 0;
  for (char c : s) {
    if (++n > 40) {
      out += "...";
      break;
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return out + "'";
}

// An optional int argument: absent or null gives `fallback`.
Result<int64_t> int_arg(const Node& node, const std::vector<Value>& a, size_t i, int64_t fallback,
                        const char* what) {
  if (i >= a.size() || a[i].is_null()) return fallback;
  if (a[i].type() == ValueType::kInt) return a[i].as_int();
  if (a[i].type() == ValueType::kDecimal) {
    int64_t v = 0;
    if (decimal::to_int64(a[i].str(), v)) return v;
  }
  return eval_error(node, std::string(fname(node)) + ": " + what + " must be an int, not " +
                              kind_name(a[i].type()));
}

// ---- numeric conversions ----

std::string pow10_text(int64_t k) { return "1" + std::string(static_cast<size_t>(k), '0'); }

// Rounds decimal digits half away from zero to `digits` places (negative: tens, hundreds...).
Result<std::string> round_digits(const Node& node, const std::string& d, int64_t digits) {
  if (digits >= 0) return decimal::round(d, static_cast<int>(digits));
  int64_t k = -digits;
  if (k > decimal::integer_digits(d)) return std::string("0");
  std::string p = pow10_text(k);
  Result<std::string> q = decimal::div(d, p, 0);
  if (!q) return eval_error(node, q.status().message());
  return decimal::mul(*q, p);
}

Result<Value> round_value(const Node& node, const std::vector<Value>& a) {
  const Value& v = a[0];
  DBSYNC_ASSIGN_OR_RETURN(int64_t digits, int_arg(node, a, 1, 0, "precision"));
  if (digits < -1000 || digits > 1000) return eval_error(node, "round: precision out of range");
  switch (v.type()) {
    case ValueType::kNull:
      return Value::null();
    case ValueType::kInt: {
      if (digits >= 0) return v;
      DBSYNC_ASSIGN_OR_RETURN(std::string r,
                              round_digits(node, decimal::from_int(v.as_int()), digits));
      int64_t i = 0;
      if (decimal::to_int64(r, i)) return Value::integer(i);
      return decimal_result(node, std::move(r));
    }
    case ValueType::kDecimal: {
      if (v.str().size() > kMaxDecimalOperandChars)
        return eval_error(node, "round: number too large");
      DBSYNC_ASSIGN_OR_RETURN(std::string r, round_digits(node, v.str(), digits));
      return decimal_result(node, std::move(r));
    }
    case ValueType::kFloat: {
      if (!std::isfinite(v.as_float())) return v;
      // Through the shortest decimal text, so round(2.675, 2) is 2.68 as a person expects.
      Result<std::string> d = decimal::from_double(v.as_float());
      if (!d) return eval_error(node, d.status().message());
      DBSYNC_ASSIGN_OR_RETURN(std::string r, round_digits(node, *d, digits));
      return float_result(node, decimal::to_double(r));
    }
    default:
      return eval_error(node, std::string("round needs a number, not ") + kind_name(v.type()));
  }
}

std::string_view trim_ascii(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || (s.front() >= '\t' && s.front() <= '\r'))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || (s.back() >= '\t' && s.back() <= '\r'))) {
    s.remove_suffix(1);
  }
  return s;
}

// int(): truncates toward zero; text may be "12" or "12.7". False when impossible.
bool to_int(const Value& v, int64_t& out) {
  switch (v.type()) {
    case ValueType::kBool:
      out = v.as_bool() ? 1 : 0;
      return true;
    case ValueType::kInt:
      out = v.as_int();
      return true;
    case ValueType::kFloat: {
      double d = std::trunc(v.as_float());
      if (!std::isfinite(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) {
        return false;
      }
      out = static_cast<int64_t>(d);
      return true;
    }
    case ValueType::kDecimal:
      return decimal::to_int64(decimal::trunc(v.str(), 0), out);
    case ValueType::kText: {
      std::string_view t = trim_ascii(v.str());
      if (!t.empty() && t.front() == '+') t.remove_prefix(1);
      auto r = std::from_chars(t.data(), t.data() + t.size(), out);
      if (!t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size()) return true;
      if (t.size() > kMaxDecimalOperandChars) return false;
      Result<std::string> d = decimal::parse(t);
      return d && decimal::to_int64(decimal::trunc(*d, 0), out);
    }
    default:
      return false;
  }
}

bool to_float(const Value& v, double& out) {
  switch (v.type()) {
    case ValueType::kBool:
      out = v.as_bool() ? 1 : 0;
      return true;
    case ValueType::kInt:
      out = static_cast<double>(v.as_int());
      return true;
    case ValueType::kFloat:
      out = v.as_float();
      return true;
    case ValueType::kDecimal:
      out = decimal::to_double(v.str());
      return std::isfinite(out);
    case ValueType::kText: {
      if (v.str().size() > kMaxDecimalOperandChars) return false;
      Result<std::string> d = decimal::parse(v.str());
      if (!d) return false;
      out = decimal::to_double(*d);
      return std::isfinite(out);
    }
    default:
      return false;
  }
}

Result<Value> convert_number(const Node& node, const std::vector<Value>& a, bool want_int) {
  const Value& v = a[0];
  const bool has_default = a.size() > 1 && !a[1].is_null();
  if (v.is_null()) return has_default ? a[1] : Value::null();
  if (want_int) {
    int64_t i = 0;
    if (to_int(v, i)) return Value::integer(i);
  } else {
    double d = 0;
    if (to_float(v, d)) return Value::floating(d);
  }
  if (has_default) return a[1];
  std::string shown = v.type() == ValueType::kText ? " " + short_text(v.str()) : "";
  return eval_error(node, std::string("cannot convert ") + kind_name(v.type()) + shown + " to " +
                              (want_int ? "int" : "float"));
}

Result<Value> to_bool(const Value& v) {
  if (v.is_null()) return Value::null();
  if (v.type() != ValueType::kText) return Value::boolean(v.truthy());
  // As Ansible's bool filter: the usual words for yes are true, anything else is false.
  std::string t(trim_ascii(v.str()));
  std::transform(t.begin(), t.end(), t.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return Value::boolean(t == "true" || t == "yes" || t == "on" || t == "1" || t == "t" || t == "y");
}

// ---- text ----

Result<Value> replace_text(const Node& node, const std::vector<Value>& a) {
  if (a[0].is_null()) return Value::null();
  const std::string s = a[0].to_string();
  const std::string from = a[1].to_string();
  const std::string to = a[2].to_string();
  DBSYNC_ASSIGN_OR_RETURN(int64_t count, int_arg(node, a, 3, -1, "count"));
  std::string out;
  if (from.empty()) {
    // Python: the replacement goes before every character and at the end.
    size_t i = 0;
    while (true) {
      if (count != 0) {
        out += to;
        if (count > 0) --count;
      }
      if (i >= s.size()) break;
      size_t len = 1;
      decode(s, i, len);
      out.append(s, i, len);
      i += len;
      if (out.size() > kMaxTextBytes) return too_large(node);
    }
    return text_result(node, std::move(out));
  }
  size_t i = 0;
  while (count != 0) {
    size_t hit = s.find(from, i);
    if (hit == std::string::npos) break;
    out.append(s, i, hit - i);
    out += to;
    i = hit + from.size();
    if (count > 0) --count;
    if (out.size() > kMaxTextBytes) return too_large(node);
  }
  out.append(s, i, std::string::npos);
  return text_result(node, std::move(out));
}

Result<Value> truncate_text(const Node& node, const std::vector<Value>& a) {
  if (a[0].is_null()) return Value::null();
  DBSYNC_ASSIGN_OR_RETURN(int64_t length, int_arg(node, a, 1, 255, "length"));
  if (length < 0) return eval_error(node, "truncate: length must not be negative");
  const std::string s = a[0].to_string();
  const std::string end = a.size() > 2 && !a[2].is_null() ? a[2].to_string() : "...";
  const size_t n = static_cast<size_t>(length);
  if (utf8_length(s) <= n) return Value::text(s);
  const size_t end_chars = utf8_length(end);
  if (n <= end_chars) return Value::text(s.substr(0, utf8_offset(s, n)));
  return Value::text(s.substr(0, utf8_offset(s, n - end_chars)) + end);
}

// The text with every byte that is not part of valid UTF-8 replaced by U+FFFD, as the canonical
// JSON writer (value.cpp) does.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    uint32_t cp = decode(s, i, len);
    if (cp == kRawByte) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

Result<Value> split_text(const Node& node, const std::vector<Value>& a) {
  if (a[0].is_null()) return Value::null();
  const std::string s = valid_utf8(a[0].to_string());
  if (s.size() > kMaxTextBytes) return too_large(node);
  // Built directly in canonical form (compact, strings escaped as value.cpp's writer does):
  // re-parsing it here made chains of split quadratic in practice (found by the fuzzer).
  std::string out = "[";
  auto add = [&](std::string_view part) {
    if (out.size() > 1) out += ',';
    json_quote(part, out);
  };
  if (a.size() < 2 || a[1].is_null()) {
    // Python's split(): runs of whitespace separate, none at the ends.
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
      size_t start = i;
      while (i < s.size() && !(s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
      if (i > start) add(std::string_view(s).substr(start, i - start));
    }
  } else {
    const std::string sep = a[1].to_string();
    if (sep.empty()) return eval_error(node, "split: empty separator");
    size_t i = 0;
    while (true) {
      size_t hit = s.find(sep, i);
      if (hit == std::string::npos) {
        add(std::string_view(s).substr(i));
        break;
      }
      add(std::string_view(s).substr(i, hit - i));
      i = hit + sep.size();
    }
  }
  out += ']';
  if (out.size() > kMaxTextBytes) return too_large(node);
  DBSYNC_RETURN_IF_ERROR(charge_work(node, out.size()));
  return Value::json_unchecked(std::move(out));
}

// The elements of a JSON array (keys of an object), as Values.
Result<std::vector<Value>> json_elements(const Node& node, const Value& v) {
  std::vector<Value> out;
  Status bad;
  bool object = json_kind(v.str()) == 'o';
  bool ok = json_for_each(v.str(), [&](std::string_view key, std::string_view e) {
    if (object) {
      out.push_back(Value::text(std::string(key)));
      return true;
    }
    Result<Value> ev = json_element_value(e);
    if (!ev) {
      bad = ev.status();
      return false;
    }
    out.push_back(std::move(ev).value());
    return true;
  });
  if (!bad.is_ok()) return eval_error(node, bad.message());
  if (!ok) return eval_error(node, std::string(fname(node)) + " needs a JSON array or object");
  return out;
}

Result<Value> join_values(const Node& node, const std::vector<Value>& a) {
  const Value& v = a[0];
  if (v.is_null()) return Value::null();
  const std::string sep = a.size() > 1 ? a[1].to_string() : "";
  std::string out;
  if (v.type() == ValueType::kJson) {
    DBSYNC_ASSIGN_OR_RETURN(std::vector<Value> items, json_elements(node, v));
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += sep;
      out += items[i].to_string();
      if (out.size() > kMaxTextBytes) return too_large(node);
    }
    return text_result(node, std::move(out));
  }
  // Like Jinja, a text is a sequence of characters.
  const std::string s = v.to_string();
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    decode(s, i, len);
    if (i > 0) out += sep;
    out.append(s, i, len);
    i += len;
    if (out.size() > kMaxTextBytes) return too_large(node);
  }
  return text_result(node, std::move(out));
}

Result<Value> length_of(const Node& node, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return Value::integer(0);
    case ValueType::kText:
      return Value::integer(static_cast<int64_t>(utf8_length(v.str())));
    case ValueType::kBytes:
      return Value::integer(static_cast<int64_t>(v.str().size()));
    case ValueType::kJson: {
      if (json_kind(v.str()) == 's') {
        std::string s;
        if (json_decode_string(v.str(), s))
          return Value::integer(static_cast<int64_t>(utf8_length(s)));
      }
      int64_t n = 0;
      if (json_for_each(v.str(), [&](std::string_view, std::string_view) {
            ++n;
            return true;
          })) {
        return Value::integer(n);
      }
      break;
    }
    default:
      break;
  }
  return eval_error(node, std::string("length of ") + kind_name(v.type()) + " is undefined");
}

Result<Value> first_last(const Node& node, const Value& v, bool first) {
  if (v.is_null()) return Value::null();
  if (v.type() == ValueType::kText || v.type() == ValueType::kBytes) {
    const std::string& s = v.str();
    if (s.empty()) return Value::null();
    if (v.type() == ValueType::kBytes)
      return Value::bytes(first ? s.substr(0, 1) : s.substr(s.size() - 1));
    if (first) {
      size_t len = 1;
      decode(s, 0, len);
      return Value::text(s.substr(0, len));
    }
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           s.size() - start < 4) {
      --start;
    }
    size_t len = 1;
    decode(s, start, len);
    if (start + len != s.size()) start = s.size() - 1;  // not a whole character: last byte
    return Value::text(s.substr(start));
  }
  if (v.type() == ValueType::kJson) {
    DBSYNC_ASSIGN_OR_RETURN(std::vector<Value> items, json_elements(node, v));
    if (items.empty()) return Value::null();
    return first ? items.front() : items.back();
  }
  return eval_error(node,
                    std::string(fname(node)) + " needs text or JSON, not " + kind_name(v.type()));
}

// ---- min / max ----

Result<int> order(const Node& node, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    int c = compare_numbers(a, b);
    return c == 2 ? 0 : c;
  }
  if (a.type() == b.type()) {
    switch (a.type()) {
      case ValueType::kText:
      case ValueType::kBytes: {
        int c = a.str().compare(b.str());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      case ValueType::kBool:
      case ValueType::kTimestamp:
      case ValueType::kDate:
      case ValueType::kTime:
        return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
      default:
        break;
    }
  }
  return eval_error(
      node, std::string("cannot compare ") + kind_name(a.type()) + " and " + kind_name(b.type()));
}

Result<Value> min_max(const Node& node, std::vector<Value>& a, bool want_max) {
  if (a.size() == 1 && a[0].type() == ValueType::kJson) {
    DBSYNC_ASSIGN_OR_RETURN(std::vector<Value> items, json_elements(node, a[0]));
    a = std::move(items);
  }
  const Value* best = nullptr;
  for (const Value& v : a) {
    if (v.is_null()) continue;  // like SQL's LEAST/GREATEST in MySQL... minus the nulls
    if (!best) {
      best = &v;
      continue;
    }
    DBSYNC_ASSIGN_OR_RETURN(int c, order(node, v, *best));
    if (want_max ? c > 0 : c < 0) best = &v;
  }
  return best ? *best : Value::null();
}

// ---- dates ----

Result<Value> format_date_value(const Node& node, const std::vector<Value>& a) {
  const Value& v = a[0];
  const std::string format = a.size() > 1 && !a[1].is_null() ? a[1].to_string() : "%Y-%m-%d";
  int64_t micros = 0;
  switch (v.type()) {
    case ValueType::kNull:
      return Value::null();
    case ValueType::kTimestamp:
      micros = v.micros();
      break;
    case ValueType::kDate:
      if (__builtin_mul_overflow(static_cast<int64_t>(v.days()), kMicrosPerDay, &micros)) {
        return eval_error(node, "date out of range");
      }
      break;
    case ValueType::kText: {
      Result<int64_t> t = parse_timestamp(v.str(), *TimeZone::utc());
      if (!t) {
        return eval_error(node, "date: cannot read " + short_text(v.str()) + " as a timestamp");
      }
      micros = *t;
      break;
    }
    default:
      return eval_error(
          node, std::string("date needs a timestamp, date or text, not ") + kind_name(v.type()));
  }
  if (format.size() > 4096) return eval_error(node, "date: format too long");
  return text_result(node, format_with_pattern(micros, format));
}

Result<Value> abs_value(const Node& node, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return Value::null();
    case ValueType::kInt:
      if (v.as_int() == std::numeric_limits<int64_t>::min()) {
        return Value::decimal_unchecked(decimal::abs(decimal::from_int(v.as_int())));
      }
      return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
    case ValueType::kFloat:
      return Value::floating(std::fabs(v.as_float()));
    case ValueType::kDecimal:
      return Value::decimal_unchecked(decimal::abs(v.str()));
    default:
      return eval_error(node, std::string("abs needs a number, not ") + kind_name(v.type()));
  }
}

Result<Value> call_function(const Node& node, std::vector<Value>& a) {
  const Value& v = a[0];
  switch (node.func) {
    case Func::kUpper:
    case Func::kLower:
    case Func::kCapitalize:
    case Func::kTitle: {
      if (v.is_null()) return Value::null();
      CaseMode mode = node.func == Func::kUpper   ? CaseMode::kUpper
                      : node.func == Func::kLower ? CaseMode::kLower
                      : node.func == Func::kTitle ? CaseMode::kTitle
                                                  : CaseMode::kCapitalize;
      return text_result(node, change_case(v.to_string(), mode));
    }
    case Func::kTrim: {
      if (v.is_null()) return Value::null();
      std::string chars;
      if (a.size() > 1 && !a[1].is_null()) chars = a[1].to_string();
      return Value::text(
          trim_text(v.to_string(), a.size() > 1 && !a[1].is_null() ? &chars : nullptr));
    }
    case Func::kRound:
      return round_value(node, a);
    case Func::kInt:
      return convert_number(node, a, true);
    case Func::kFloat:
      return convert_number(node, a, false);
    case Func::kString:
      return text_result(node, v.to_string());
    case Func::kBool:
      return to_bool(v);
    case Func::kReplace:
      return replace_text(node, a);
    case Func::kTruncate:
      return truncate_text(node, a);
    case Func::kSlugify:
      if (v.is_null()) return Value::null();
      return Value::text(slugify(v.to_string()));
    case Func::kLength:
      return length_of(node, v);
    case Func::kSplit:
      return split_text(node, a);
    case Func::kJoin:
      return join_values(node, a);
    case Func::kJson:
      return text_result(node, to_json_text(v));
    case Func::kDate:
      return format_date_value(node, a);
    case Func::kAbs:
      return abs_value(node, v);
    case Func::kMin:
      return min_max(node, a, false);
    case Func::kMax:
      return min_max(node, a, true);
    case Func::kFirst:
      return first_last(node, v, true);
    case Func::kLast:
      return first_last(node, v, false);
    default:
      break;
  }
  return error(ErrorCode::kInternal, "function without an implementation");
}

}  // namespace

size_t payload_size(const Value& v) {
  switch (v.type()) {
    case ValueType::kText:
    case ValueType::kBytes:
    case ValueType::kJson:
    case ValueType::kDecimal:
      return v.str().size();
    default:
      return 8;
  }
}

void reset_work_budget() {
  t_work_left = kWorkBaseBytes;
  t_work_granted = kWorkBaseBytes;
}

void credit_work(size_t input_bytes) {
  size_t grant = std::min(input_bytes, kWorkMaxBytes / kWorkPerInputByte) * kWorkPerInputByte;
  grant = std::min(grant, kWorkMaxBytes - t_work_granted);
  t_work_granted += grant;
  t_work_left += grant;
}

Status charge_work(const Node& node, size_t bytes) {
  if (bytes > t_work_left) {
    t_work_left = 0;
    return eval_error(node, "expression works through too much text for one row (more than " +
                                std::to_string(t_work_granted >> 20) + " MiB)");
  }
  t_work_left -= bytes;
  return Status::ok();
}

const FuncInfo* find_function(std::string_view name) {
  for (const FuncInfo& f : function_table()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const FuncInfo& function_info(Func func) {
  static const FuncInfo kDefaultIfEmpty{"default", Func::kDefaultIfEmpty, 2, 2, {"value", "text"}};
  if (func == Func::kDefaultIfEmpty) return kDefaultIfEmpty;
  for (const FuncInfo& f : function_table()) {
    if (f.func == func) return f;
  }
  return kDefaultIfEmpty;  // not reached: every Func is in the table
}

Result<Value> eval_call(const Node& node, const EvalContext& ctx) {
  switch (node.func) {
    case Func::kNow:
      return Value::timestamp(ctx.now_micros);
    case Func::kCoalesce:  // lazy: later arguments are not evaluated once one is not null
      for (const auto& kid : node.kids) {
        DBSYNC_ASSIGN_OR_RETURN(Value v, eval_node(*kid, ctx));
        if (!v.is_null()) return v;
      }
      return Value::null();
    case Func::kDefault: {
      DBSYNC_ASSIGN_OR_RETURN(Value v, eval_node(*node.kids[0], ctx));
      bool falsy_too = false;
      if (node.kids.size() > 2) {
        DBSYNC_ASSIGN_OR_RETURN(Value b, eval_node(*node.kids[2], ctx));
        falsy_too = b.truthy();
      }
      if (!v.is_null() && !(falsy_too && !v.truthy())) return v;
      if (node.kids.size() < 2) return Value::text("");
      return eval_node(*node.kids[1], ctx);
    }
    case Func::kDefaultIfEmpty: {
      DBSYNC_ASSIGN_OR_RETURN(Value v, eval_node(*node.kids[0], ctx));
      if (!v.is_null() && !(v.type() == ValueType::kText && v.str().empty())) return v;
      return eval_node(*node.kids[1], ctx);
    }
    default:
      break;
  }
  std::vector<Value> args;
  args.reserve(node.kids.size());
  size_t work = 0;
  for (const auto& kid : node.kids) {
    DBSYNC_ASSIGN_OR_RETURN(Value v, eval_node(*kid, ctx));
    work += payload_size(v);
    args.push_back(std::move(v));
  }
  DBSYNC_RETURN_IF_ERROR(charge_work(node, work));
  return call_function(node, args);
}

}  // namespace dbsync::expr
