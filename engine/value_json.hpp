// Values as JSON for people (conflict records, previews, browse) and custom rows from JSON:
// one rendering for the extension and dbsyncd.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/field_mapper.hpp"
#include "engine/status.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"

namespace dbsync {

// A JSON string literal (invalid UTF-8 replaced).
std::string json_string(const std::string& s);

// The strings of a JSON array (a sync row's key columns as array_to_json gives them); anything
// that is not an array of strings gives what strings it has (none for bad JSON).
std::vector<std::string> json_string_list(std::string_view text);

// A value as JSON text: numbers as numbers, booleans, null, JSON as itself, the rest as strings
// (timestamps in ISO-8601, UTC).
std::string render_value(const Value& v);

// A row in the mapped (target) layout as a JSON object of target columns.
std::string render_row(const FieldMapper& m, const Row& row);

// Keys as a JSON array of objects, column name -> the key value's text (`text(i, v)` for the
// i-th key column; NULL as null): what json_populate_recordset reads back into the key columns'
// own types through a table's row type.
std::string keys_json(const std::vector<std::string>& names, const std::vector<Row>& keys,
                      const std::function<std::string(size_t, const Value&)>& text);

// A value of type `t` from JSON (a custom row's field): strings are read as the type's text,
// objects and arrays as JSON, numbers and booleans coerced.
Result<Value> value_from_json(const nlohmann::json& j, const TypeSpec& t);

}  // namespace dbsync
