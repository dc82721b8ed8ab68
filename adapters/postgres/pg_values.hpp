// The one conversion between engine Values and PostgreSQL text: COPY text format (escaping and
// parsing a line), parameter text, and binary bytea[] parameters.
#pragma once

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

// A one-dimensional bytea[] in PostgreSQL's binary array format (for a binary parameter).
std::string encode_bytea_array(const std::vector<std::string>& items);

}  // namespace dbsync::pg
