#include "engine/value.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>

#include <nlohmann/json.hpp>

// Inlined XXH3: most hashed values are a few bytes, where a call into the shared library and
// its size dispatch cost more than the hashing. Also gives XXH3_state_t for the stack.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine/decimal.hpp"
#include "engine/json_canonical.hpp"
#include "engine/timeutil.hpp"

namespace dbsync {
namespace {

// One bit pattern for every NaN, and +0.0 for -0.0, so that equal floats hash equally.
uint64_t canonical_float_bits(double d) {
  if (std::isnan(d)) return 0x7ff8000000000000ULL;
  if (d == 0) d = 0.0;
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

inline void store_le64(char* out, uint64_t v) {
  for (int k = 0; k < 8; ++k) out[k] = static_cast<char>(v >> (8 * k));
}

inline void store_le32(char* out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out[k] = static_cast<char>(v >> (8 * k));
}

constexpr int kMaxJsonDepth = 512;

// Position of the first bracket nested deeper than kMaxJsonDepth (outside strings), or npos.
size_t json_nesting_violation(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t k = 0; k < text.size(); ++k) {
    char c = text[k];
    if (in_string) {
      if (c == '\\') {
        ++k;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return k;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Canonical JSON numbers: an integral float is written as an integer, so 1.0 and 1 agree
// (as jsonb and MySQL JSON comparisons do).
void normalise_json_numbers(nlohmann::json& j) {
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) {
      j = static_cast<int64_t>(d);
    }
  } else if (j.is_structured()) {
    for (auto& element : j) normalise_json_numbers(element);
  }
}

// Long strings are hashed with the streaming API (same result as one-shot over tag + bytes);
// kept out of line so the common short path has a small stack frame.
[[gnu::noinline]] uint64_t hash_long_string(char tag, std::string_view bytes) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, &tag, 1);
  XXH3_64bits_update(&state, bytes.data(), bytes.size());
  return XXH3_64bits_digest(&state);
}

int compare_int_with_float(int64_t i, double f) {
  if (std::isnan(f)) return -1;  // NaN sorts above every number
  if (f >= 9223372036854775808.0) return -1;
  if (f < -9223372036854775808.0) return 1;
  auto whole = static_cast<int64_t>(f);  // truncation; in range after the checks above
  if (i != whole) return i < whole ? -1 : 1;
  double fraction = f - static_cast<double>(whole);
  if (fraction > 0) return -1;
  if (fraction < 0) return 1;
  return 0;
}

int compare_floats(double a, double b) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  return a < b ? -1 : (a > b ? 1 : 0);
}

// -1 for -infinity, 0 for a finite number, 1 for infinity, 2 for NaN (NaN sorts above every
// number, as in PostgreSQL; a decimal NaN equals a float NaN).
int float_rank(double f) {
  if (std::isnan(f)) return 2;
  if (std::isinf(f)) return f > 0 ? 1 : -1;
  return 0;
}

int compare_decimal_with_float(std::string_view d, double f) {
  if (decimal::is_special(d) || !std::isfinite(f)) {
    const int rd = decimal::is_nan(d) ? 2 : decimal::sign(d) * (decimal::is_special(d) ? 1 : 0);
    const int rf = float_rank(f);
    return rd == rf ? 0 : (rd < rf ? -1 : 1);
  }
  return decimal::compare_with_double(d, f);
}

int compare_numbers(const Value& a, const Value& b) {
  ValueType ta = a.type(), tb = b.type();
  if (ta == ValueType::kInt && tb == ValueType::kInt) {
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (ta == ValueType::kFloat && tb == ValueType::kFloat)
    return compare_floats(a.as_float(), b.as_float());
  if (ta == ValueType::kDecimal && tb == ValueType::kDecimal)
    return decimal::compare(a.str(), b.str());
  if (ta == ValueType::kInt && tb == ValueType::kFloat)
    return compare_int_with_float(a.as_int(), b.as_float());
  if (ta == ValueType::kFloat && tb == ValueType::kInt)
    return -compare_int_with_float(b.as_int(), a.as_float());
  if (ta == ValueType::kDecimal && tb == ValueType::kInt)
    return decimal::compare_with_int(a.str(), b.as_int());
  if (ta == ValueType::kInt && tb == ValueType::kDecimal)
    return -decimal::compare_with_int(b.str(), a.as_int());
  if (ta == ValueType::kDecimal && tb == ValueType::kFloat)
    return compare_decimal_with_float(a.str(), b.as_float());
  return -compare_decimal_with_float(b.str(), a.as_float());  // float vs decimal
}

int type_rank(ValueType t) {
  switch (t) {
    case ValueType::kNull:
      return 0;
    case ValueType::kBool:
      return 1;
    case ValueType::kInt:
    case ValueType::kFloat:
    case ValueType::kDecimal:
      return 2;
    case ValueType::kText:
    case ValueType::kBytes:
      return 3;
    case ValueType::kDate:
      return 4;
    case ValueType::kTime:
      return 5;
    case ValueType::kTimestamp:
      return 6;
    case ValueType::kJson:
      return 7;
  }
  return 8;
}

int compare_bytewise(const std::string& a, const std::string& b) {
  int c = a.compare(b);  // char_traits<char>::compare compares as unsigned char
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string float_to_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;
  return std::string(buf, static_cast<size_t>(end - buf));
}

}  // namespace

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return "bool";
    case ValueType::kInt:
      return "int";
    case ValueType::kFloat:
      return "float";
    case ValueType::kDecimal:
      return "decimal";
    case ValueType::kText:
      return "text";
    case ValueType::kBytes:
      return "bytes";
    case ValueType::kTimestamp:
      return "timestamp";
    case ValueType::kDate:
      return "date";
    case ValueType::kTime:
      return "time";
    case ValueType::kJson:
      return "json";
  }
  return "unknown";
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = ValueType::kBool;
  v.i_ = b ? 1 : 0;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = ValueType::kInt;
  v.i_ = i;
  return v;
}

Value Value::floating(double d) {
  Value v;
  v.type_ = ValueType::kFloat;
  v.f_ = d;
  return v;
}

Value Value::text(std::string s) {
  Value v;
  v.type_ = ValueType::kText;
  v.s_ = std::move(s);
  return v;
}

Value Value::bytes(std::string b) {
  Value v;
  v.type_ = ValueType::kBytes;
  v.s_ = std::move(b);
  return v;
}

Value Value::timestamp(int64_t micros_utc) {
  Value v;
  v.type_ = ValueType::kTimestamp;
  v.i_ = micros_utc;
  return v;
}

Value Value::date(int32_t days) {
  Value v;
  v.type_ = ValueType::kDate;
  v.i_ = days;
  return v;
}

Value Value::time_of_day(int64_t micros) {
  Value v;
  v.type_ = ValueType::kTime;
  v.i_ = micros;
  return v;
}

namespace {
Result<std::string> canonical_json_slow(std::string_view json_text);
}  // namespace

Result<Value> Value::decimal(std::string_view digits) {
  DBSYNC_ASSIGN_OR_RETURN(std::string canonical, decimal::parse(digits));
  return decimal_unchecked(std::move(canonical));
}

Result<Value> Value::json(std::string_view json_text) {
  // nlohmann's serializer and our number normalisation recurse once per nesting level, so a
  // hostile "[[[[..." must be refused before it can exhaust the stack.
  if (size_t position = json_nesting_violation(json_text); position != std::string_view::npos) {
    return Status(ErrorCode::kParseError, "invalid JSON at position " + std::to_string(position) +
                                              ": nested deeper than " +
                                              std::to_string(kMaxJsonDepth) + " levels");
  }
  // Most documents (no escapes, integers only) are canonicalised without building a DOM.
  std::string canonical;
  if (!detail::canonical_json_fast(json_text, canonical, kMaxJsonDepth)) {
    DBSYNC_ASSIGN_OR_RETURN(canonical, canonical_json_slow(json_text));
  }
  if (canonical == json_text) return json_unchecked(std::move(canonical));
  return json_as_written_unchecked(std::string(json_text));
}

Value Value::json_as_written_unchecked(std::string text) {
  Value v;
  v.type_ = ValueType::kJson;
  v.i_ = 1;
  v.s_ = std::move(text);
  return v;
}

std::string_view Value::canonical_json(std::string& scratch) const {
  if (type_ != ValueType::kJson || i_ == 0) return s_;
  scratch.clear();
  if (detail::canonical_json_fast(s_, scratch, kMaxJsonDepth)) return scratch;
  Result<std::string> slow = canonical_json_slow(s_);
  if (!slow.is_ok()) return s_;  // not JSON after all: compared as written
  scratch = std::move(slow).value();
  return scratch;
}

namespace {

// The general path of Value::json: nlohmann's parse and compact dump (keys sorted), integral
// floats written as integers.
Result<std::string> canonical_json_slow(std::string_view json_text) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based; positions elsewhere in the engine are 0-based byte offsets.
    size_t position = e.byte > 0 ? e.byte - 1 : 0;
    return Status(ErrorCode::kParseError,
                  "invalid JSON at position " + std::to_string(position) + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(ErrorCode::kParseError, std::string("invalid JSON: ") + e.what());
  }
  normalise_json_numbers(parsed);
  return parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Value Value::decimal_unchecked(std::string canonical) {
  Value v;
  v.type_ = ValueType::kDecimal;
  v.s_ = std::move(canonical);
  return v;
}

Value Value::json_unchecked(std::string canonical) {
  Value v;
  v.type_ = ValueType::kJson;
  v.s_ = std::move(canonical);
  return v;
}

double Value::to_double() const {
  switch (type_) {
    case ValueType::kInt:
      return static_cast<double>(i_);
    case ValueType::kFloat:
      return f_;
    case ValueType::kDecimal:
      return decimal::to_double(s_);
    default:
      return 0;
  }
}

std::string Value::to_string() const {
  switch (type_) {
    case ValueType::kNull:
      return "";
    case ValueType::kBool:
      return i_ ? "true" : "false";
    case ValueType::kInt:
      return decimal::from_int(i_);
    case ValueType::kFloat:
      return float_to_text(f_);
    case ValueType::kDecimal:
    case ValueType::kText:
    case ValueType::kJson:
      return s_;
    case ValueType::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "\\x";
      out.reserve(2 + 2 * s_.size());
      for (unsigned char c : s_) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      return out;
    }
    case ValueType::kTimestamp:
      return format_timestamp_utc(i_);
    case ValueType::kDate:
      return format_date(days());
    case ValueType::kTime:
      return format_time_of_day(i_);
  }
  return "";
}

bool Value::truthy() const {
  switch (type_) {
    case ValueType::kNull:
      return false;
    case ValueType::kBool:
    case ValueType::kInt:
      return i_ != 0;
    case ValueType::kFloat:
      return f_ != 0;  // NaN is true, as in Python
    case ValueType::kDecimal:
      return !decimal::is_zero(s_);
    case ValueType::kText:
    case ValueType::kBytes:
      return !s_.empty();
    case ValueType::kJson: {
      std::string scratch;
      const std::string_view c = canonical_json(scratch);
      return !(c == "null" || c == "false" || c == "0" || c == "\"\"" || c == "[]" || c == "{}");
    }
    case ValueType::kTimestamp:
    case ValueType::kDate:
    case ValueType::kTime:
      return true;
  }
  return false;
}

void Value::append_canonical(std::string& out) const {
  char buf[8];
  switch (type_) {
    case ValueType::kNull:
      return;
    case ValueType::kBool:
      out.push_back(i_ ? '\1' : '\0');
      return;
    case ValueType::kInt:
    case ValueType::kTimestamp:
    case ValueType::kTime:
      store_le64(buf, static_cast<uint64_t>(i_));
      out.append(buf, 8);
      return;
    case ValueType::kDate:
      store_le32(buf, static_cast<uint32_t>(static_cast<int32_t>(i_)));
      out.append(buf, 4);
      return;
    case ValueType::kFloat:
      store_le64(buf, canonical_float_bits(f_));
      out.append(buf, 8);
      return;
    case ValueType::kDecimal:
      out.append(decimal::strip_trailing_zeros(s_));
      return;
    case ValueType::kText:
    case ValueType::kBytes:
      out.append(s_);
      return;
    case ValueType::kJson: {
      std::string scratch;
      out.append(canonical_json(scratch));
      return;
    }
  }
}

bool Value::operator==(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case ValueType::kNull:
      return true;
    case ValueType::kBool:
    case ValueType::kInt:
    case ValueType::kTimestamp:
    case ValueType::kDate:
    case ValueType::kTime:
      return i_ == other.i_;
    case ValueType::kFloat:
      return canonical_float_bits(f_) == canonical_float_bits(other.f_);
    case ValueType::kDecimal:
      return decimal::strip_trailing_zeros(s_) == decimal::strip_trailing_zeros(other.s_);
    case ValueType::kText:
    case ValueType::kBytes:
      return s_ == other.s_;
    case ValueType::kJson: {
      if (i_ == 0 && other.i_ == 0) return s_ == other.s_;
      std::string a, b;
      return canonical_json(a) == other.canonical_json(b);
    }
  }
  return false;
}

int compare_values(const Value& a, const Value& b) {
  int ra = type_rank(a.type()), rb = type_rank(b.type());
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.type()) {
    case ValueType::kNull:
      return 0;
    case ValueType::kInt:
    case ValueType::kFloat:
    case ValueType::kDecimal:
      return compare_numbers(a, b);
    case ValueType::kText:
    case ValueType::kBytes: {
      int c = compare_bytewise(a.str(), b.str());
      if (c != 0 || a.type() == b.type()) return c;
      return a.type() == ValueType::kText ? -1 : 1;  // equal bytes: text before bytes
    }
    case ValueType::kJson: {
      std::string sa, sb;
      const int c = a.canonical_json(sa).compare(b.canonical_json(sb));
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case ValueType::kBool:
    case ValueType::kDate:
    case ValueType::kTime:
    case ValueType::kTimestamp: {
      int64_t x = a.type() == ValueType::kDate ? a.days() : a.micros();
      int64_t y = b.type() == ValueType::kDate ? b.days() : b.micros();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
  }
  return 0;
}

uint64_t hash_value(const Value& v) {
  const auto tag = static_cast<char>(v.type());
  char small[256];
  small[0] = tag;
  switch (v.type()) {
    case ValueType::kNull:
      return XXH3_64bits(small, 1);
    case ValueType::kBool:
      small[1] = v.as_bool() ? '\1' : '\0';
      return XXH3_64bits(small, 2);
    case ValueType::kInt:
    case ValueType::kTimestamp:
    case ValueType::kTime:
      store_le64(small + 1, static_cast<uint64_t>(v.micros()));
      return XXH3_64bits(small, 9);
    case ValueType::kDate:
      store_le32(small + 1, static_cast<uint32_t>(v.days()));
      return XXH3_64bits(small, 5);
    case ValueType::kFloat:
      store_le64(small + 1, canonical_float_bits(v.as_float()));
      return XXH3_64bits(small, 9);
    case ValueType::kDecimal:
    case ValueType::kText:
    case ValueType::kBytes:
    case ValueType::kJson: {
      std::string scratch;  // a JSON value as written is hashed in its canonical form
      std::string_view bytes = v.type() == ValueType::kDecimal
                                   ? decimal::strip_trailing_zeros(v.str())
                                   : v.canonical_json(scratch);
      if (bytes.size() < sizeof small) {
        std::memcpy(small + 1, bytes.data(), bytes.size());
        return XXH3_64bits(small, bytes.size() + 1);
      }
      return hash_long_string(tag, bytes);
    }
  }
  return 0;
}

}  // namespace dbsync
