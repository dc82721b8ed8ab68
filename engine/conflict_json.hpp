// Conflicts as JSON, both ways, once for the SQL API (dbsync.conflicts, dbsync.resolve) and the
// HTTP API (dbsyncd's conflict routes): what a conflict shows, and the row of a custom decision.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "engine/field_mapper.hpp"
#include "engine/field_set.hpp"
#include "engine/status.hpp"
#include "engine/sync_types.hpp"
#include "engine/value.hpp"

namespace dbsync {

// What a conflict shows, each member as JSON text: the target key and the two rows as objects
// of target columns (render_row), the field sets as arrays of target column names.
struct ConflictView {
  std::string key;                        // {"id": 1}
  std::string kind;                       // diff_kind_name, as a plain string (not JSON)
  std::optional<std::string> source_row;  // absent: the row is deleted on the source
  std::optional<std::string> target_row;
  std::string source_changed;  // ["name", "price"]
  std::string target_changed;
  std::string conflicting;
  std::optional<std::string> reason;  // plain text; absent when the record has none
};
ConflictView conflict_view(const FieldMapper& m, const ConflictRecord& c);

// The same as one JSON object (text): {"key": ..., "kind": ..., "source_row": ..., "target_row":
// ..., "source_changed": [...], "target_changed": [...], "conflicting": [...], "reason": ...},
// absent rows and reason as null. The shells add the conflict's id, job and decision.
std::string conflict_json(const FieldMapper& m, const ConflictRecord& c);

// The names of the fields in `set` as a JSON array of target column names.
std::string field_names_json(const FieldMapper& m, const FieldSet& set);

// The row of a custom decision on conflict `c`, from a JSON object of target columns, in the
// mapped target layout. Columns it leaves out keep the values of the source's version of the row
// (the target's when the source's is gone). Errors, for the shells to tell apart:
//  - kInvalidArgument: not a JSON object;
//  - kNotFound: a column the sync does not write to its target;
//  - kTypeMismatch: a value that is not of its column's type;
//  - kConflict: a key column given with another value than the conflict's key.
Result<Row> custom_row_from_json(const FieldMapper& m, const ConflictRecord& c,
                                 const nlohmann::json& row);
// The same from JSON text (not JSON: kInvalidArgument).
Result<Row> custom_row_from_text(const FieldMapper& m, const ConflictRecord& c,
                                 std::string_view row_json);

}  // namespace dbsync
