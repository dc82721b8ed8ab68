// The one conversion between engine Values and PostgreSQL text: COPY text format (escaping and
// parsing a line), parameter text, and binary bytea[] parameters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"

namespace dbsync::pg {

// The text PostgreSQL accepts for a non-null value stored into a column of type `t`
// (timestamps as ISO UTC with +00, zoneless timestamps as UTC wall clock, bytea as \x hex).
std::string value_to_text(const Value& v, const TypeSpec& t);

// Appends one field in COPY text format: \N for null, else the escaped text.
void append_copy_field(std::string& out, const Value& v, const TypeSpec& t);
// Escapes backslash, tab, newline, CR (and the other control characters COPY names).
void append_copy_escaped(std::string& out, std::string_view text);

// Splits one COPY text-format line into fields, unescaping them; a null field is nullopt.
// `fields` and `storage` are reused between calls.
struct CopyLine {
  std::vector<std::string> text;
  std::vector<bool> is_null;
};
Status parse_copy_line(std::string_view line, size_t expected_fields, CopyLine& out);

// COPY's binary format, for the columns whose type has one here (by the type's name in
// pg_type, `udt`: a domain, an enum, an array... have none, and a batch with such a column goes
// as text). The engine's values of those kinds map one to one onto the binary forms.
enum class BinaryKind : uint8_t {
  kNone,
  kInt2,
  kInt4,
  kInt8,
  kFloat4,
  kFloat8,
  kBool,
  kText,  // text, varchar, bpchar, name: the UTF-8 bytes
  kBytea,
  kNumeric,
  kTimestamp,  // timestamp and timestamptz: microseconds since 2000-01-01 (UTC)
  kDate,
  kTime,
  kJson,
  kJsonb,
  kUuid,
};
BinaryKind binary_kind(std::string_view udt, const TypeSpec& t);
// COPY binary's signature, flags and header extension; and the trailer.
void append_copy_binary_header(std::string& out);
void append_copy_binary_trailer(std::string& out);
// One field (its length, then its bytes; -1 for NULL). False, with `out` as it was, when the
// value is not of the kind the column's binary form takes (the caller then writes text).
bool append_binary_field(std::string& out, const Value& v, BinaryKind kind);

// A one-dimensional bytea[] in PostgreSQL's binary array format (for a binary parameter).
std::string encode_bytea_array(const std::vector<std::string>& items);

}  // namespace dbsync::pg
