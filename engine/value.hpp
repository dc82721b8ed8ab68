// The one value model every adapter converts into. Comparison and hashing happen on these,
// after coercion into the target column's type (see types.hpp), so that `10.5` and `10.50`,
// `true` and `1` are the same value when the target would store them the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

namespace dbsync {

enum class ValueType : uint8_t {
  kNull = 0,
  kBool,
  kInt,        // int64
  kFloat,      // double
  kDecimal,    // exact decimal, kept as its digits ("-12.50"); see decimal.hpp
  kText,       // UTF-8
  kBytes,      // raw bytes
  kTimestamp,  // an instant: microseconds since 1970-01-01 00:00:00 UTC
  kDate,       // days since 1970-01-01
  kTime,       // microseconds since midnight (a time of day, no zone)
  kJson,       // a JSON document as its source holds it; compared in canonical form (below)
};

const char* value_type_name(ValueType type);

class Value {
 public:
  Value() = default;  // null

  static Value null() { return {}; }
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double d);
  static Value text(std::string s);
  static Value bytes(std::string b);
  static Value timestamp(int64_t micros_utc);
  static Value date(int32_t days);
  static Value time_of_day(int64_t micros);
  // Checked constructors: the input is validated (decimals also normalised).
  static Result<Value> decimal(std::string_view digits);  // "12.50", "-0.5", "1e3"
  // Any JSON document, kept as written (a json column's text is not reordered or reformatted,
  // jsonb's 1.0 stays 1.0); equality, order and hashing use its canonical form: compact, object
  // keys in byte order, the last of duplicate keys, integral numbers as integers.
  static Result<Value> json(std::string_view json_text);

  // For callers that already hold canonical text (e.g. canonical_json() of a JSON value).
  static Value decimal_unchecked(std::string canonical);
  static Value json_unchecked(std::string canonical);
  // A valid JSON document that is not in canonical form (what a decoder of a value stored by
  // json_is_canonical() == false reads back).
  static Value json_as_written_unchecked(std::string text);

  ValueType type() const { return type_; }
  bool is_null() const { return type_ == ValueType::kNull; }
  bool is_number() const {
    return type_ == ValueType::kInt || type_ == ValueType::kFloat || type_ == ValueType::kDecimal;
  }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_float() const { return f_; }
  int64_t micros() const { return i_; }                      // timestamp, time
  int32_t days() const { return static_cast<int32_t>(i_); }  // date
  // Text, bytes, decimal digits or JSON as written.
  const std::string& str() const { return s_; }
  // kJson: whether str() is the canonical form itself (what comparisons use).
  bool json_is_canonical() const { return i_ == 0; }
  // kJson: the canonical form: str() when it is canonical (no copy), else computed into
  // `scratch`. Other types: str().
  std::string_view canonical_json(std::string& scratch) const;
  // Moves the text/bytes/decimal/JSON string out (the value keeps its type, its string is left
  // empty): lets coercion reuse a string without copying it.
  std::string take_str() { return std::move(s_); }
  // Makes this value the text (kText) or canonical JSON (kJson) `s`, unchecked, in the storage
  // its string already has: a row read into again and again allocates nothing for strings no
  // longer than the ones before.
  void assign_str(ValueType type, std::string_view s) {
    type_ = type == ValueType::kJson ? ValueType::kJson : ValueType::kText;
    i_ = 0;
    f_ = 0;
    s_.assign(s.data(), s.size());
  }

  // Any numeric value as a double (decimal and int converted); 0 for non-numbers.
  double to_double() const;

  // What a person (or a text column) sees: ISO-8601 timestamps in UTC with 'Z', decimal digits,
  // JSON text, "true"/"false", bytes as \x hex. Null gives "".
  std::string to_string() const;

  // Truthiness as in the expression language: null, false, 0, "" and empty JSON are false.
  bool truthy() const;

  // Appends the canonical bytes of the value (without its type tag); two values of the same
  // type have equal canonical bytes iff they are equal (decimals ignore trailing zeros).
  void append_canonical(std::string& out) const;

  // Exact equality of type and canonical value (no cross-type numeric equality: coerce first).
  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  ValueType type_ = ValueType::kNull;
  int64_t i_ = 0;  // bool, int, timestamp, date, time; kJson: 0 canonical, 1 as written
  double f_ = 0;   // float
  std::string s_;  // text, bytes, decimal, json
};

using Row = std::vector<Value>;

// A total order used for keys and stream merging: null < bool < numbers (compared by value
// across int, float and decimal) < text and bytes (bytewise) < date < time < timestamp < json.
int compare_values(const Value& a, const Value& b);

// XXH3-64 of (type tag, canonical bytes).
uint64_t hash_value(const Value& v);

}  // namespace dbsync
