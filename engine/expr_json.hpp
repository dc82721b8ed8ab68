// Internal to the expression language: reading inside JSON values (member, index, elements)
// straight from their text, without building a document. The scanner is iterative, so a deeply
// nested document from a source row cannot exhaust the stack.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "engine/status.hpp"
#include "engine/value.hpp"

namespace dbsync::expr {

// Calls `visit(key, element_text)` for each member of a JSON object (key decoded) or each element
// of an array (key empty), in order, until it returns false. Returns false when `json` is not an
// object/array or is malformed.
bool json_for_each(
    std::string_view json,
    const std::function<bool(std::string_view key, std::string_view element)>& visit);

// 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null, '?' malformed.
char json_kind(std::string_view element);

// A JSON element as a Value: string -> text, integer -> int (decimal beyond int64), other
// numbers -> decimal, true/false -> bool, null -> null, object/array -> json.
Result<Value> json_element_value(std::string_view element);

// Decodes a JSON string literal (with its quotes). False when malformed.
bool json_decode_string(std::string_view literal, std::string& out);
// Appends `s` as a JSON string literal.
void json_quote(std::string_view s, std::string& out);

}  // namespace dbsync::expr
