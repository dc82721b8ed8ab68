// Target column types and coercion into them. Comparison happens in the target's type domain:
// a mapped source value is turned into what the target column would store before it is hashed.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"
#include "engine/timeutil.hpp"
#include "engine/value.hpp"

namespace dbsync {

enum class Dialect { kPostgres, kMySQL };

enum class TypeKind {
  kBool,       // boolean; MySQL TINYINT(1)/BOOL
  kInt,        // smallint..bigint, MySQL TINYINT..BIGINT [UNSIGNED]
  kFloat,      // real, double precision, FLOAT, DOUBLE
  kDecimal,    // numeric[(p,s)], DECIMAL(p,s)
  kText,       // text, varchar(n), char(n), MySQL TEXT family, ENUM, SET, uuid
  kBytes,      // bytea, BLOB family, BINARY/VARBINARY
  kTimestamp,  // timestamp[tz], DATETIME, MySQL TIMESTAMP
  kDate,
  kTime,
  kJson,  // json, jsonb, MySQL JSON
};

struct TypeSpec {
  TypeKind kind = TypeKind::kText;
  Dialect dialect = Dialect::kPostgres;
  std::string name;            // as declared, for messages
  int int_bits = 64;           // kInt: 8, 16, 24, 32, 64
  bool is_unsigned = false;    // MySQL UNSIGNED
  int precision = -1;          // kDecimal: total digits (-1: unconstrained); kFloat: 24 = single
  int scale = -1;              // kDecimal: digits after the point (-1: unconstrained)
  int fractional_digits = 6;   // kTimestamp / kTime: stored fractional second digits (0..6)
  bool with_time_zone = true;  // kTimestamp: false for zoneless (timestamp, DATETIME)
  int64_t max_length = -1;     // kText/kBytes: characters (text) or bytes (-1: unlimited)
  bool fixed_length = false;   // char(n): blank-padded
  std::vector<std::string> enum_values;  // MySQL ENUM
  // Added with the coercion code:
  bool max_length_in_bytes = false;  // kText: max_length counts bytes (MySQL TEXT family)
  bool is_uuid = false;              // kText: PostgreSQL uuid, normalised to lowercase 8-4-4-4-12
  bool json_text = false;            // kJson: PostgreSQL json, which stores its text as written
  std::string note;                  // why parse_type treated the type as text (array, unknown)
};

// Parses a column type as the database reports or declares it: "numeric(10,2)",
// "character varying(40)", "timestamp with time zone", "tinyint(1)", "int(10) unsigned",
// "datetime(6)", "enum('a','b')", "jsonb"...
Result<TypeSpec> parse_type(std::string_view declared, Dialect dialect);

struct CoerceOptions {
  // Zone of zoneless timestamp text (and of zoneless target columns' wall clock).
  std::shared_ptr<const TimeZone> zone = TimeZone::utc();
};

// Converts `v` to what a column of type `t` would store: rounds decimals to the column's scale
// (half away from zero, as PostgreSQL and MySQL do), maps booleans to TINYINT(1) values,
// normalises timestamps to UTC at the column's precision, sorts JSON keys, and refuses what the
// database would refuse (overflow, text longer than varchar(n), "abc" into an int) with an error
// that says why. Null stays null.
Result<Value> coerce(const Value& v, const TypeSpec& t, const CoerceOptions& opts = {});
// The same, reusing the storage of a value the caller no longer needs (no copy of its text).
Result<Value> coerce(Value&& v, const TypeSpec& t, const CoerceOptions& opts = {});

// Parses database text output (e.g. COPY text format, MySQL text protocol) of a column of type
// `t` into a Value of the matching kind.
Result<Value> value_from_text(std::string_view text, const TypeSpec& t,
                              const CoerceOptions& opts = {});

}  // namespace dbsync
