// The canonical text of a JSON document without building a DOM, for the common case: objects,
// arrays, strings without escapes, integers, true/false/null. The canonical form is the one
// Value::json defines (nlohmann's compact dump of the parsed document: object keys in byte
// order, the last of duplicate keys wins); this gives the same bytes for the documents it takes.
#pragma once

#include <string>
#include <string_view>

namespace dbsync::detail {

// Appends the canonical text of `json_text` to `out` and returns true, or returns false (with
// `out` unspecified) when the document is outside the fast subset or invalid: a string with an
// escape or a byte that is not valid UTF-8 text, a number with a fraction, an exponent, a minus
// zero or more than 18 digits, nesting deeper than `max_depth`, or anything that is not JSON.
// The caller then takes the general path, which also reports errors.
bool canonical_json_fast(std::string_view json_text, std::string& out, int max_depth);

}  // namespace dbsync::detail
