#include "engine/conflict_json.hpp"

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/schema.hpp"
#include "engine/value_json.hpp"

namespace dbsync {

std::string field_names_json(const FieldMapper& m, const FieldSet& set) {
  std::string out = "[";
  bool first = true;
  for (size_t i = 0; i < set.size() && i < m.mapped_count(); ++i) {
    if (!set.test(i)) continue;
    out += (first ? "" : ", ") + json_string(m.mapped_columns()[i]);
    first = false;
  }
  return out + "]";
}

ConflictView conflict_view(const FieldMapper& m, const ConflictRecord& c) {
  ConflictView v;
  v.key = render_row(m, c.key);
  v.kind = diff_kind_name(c.kind);
  if (c.source) v.source_row = render_row(m, *c.source);
  if (c.target) v.target_row = render_row(m, *c.target);
  v.source_changed = field_names_json(m, c.source_changed);
  v.target_changed = field_names_json(m, c.target_changed);
  v.conflicting = field_names_json(m, c.conflicting);
  if (!c.reason.empty()) v.reason = c.reason;
  return v;
}

std::string conflict_json(const FieldMapper& m, const ConflictRecord& c) {
  const ConflictView v = conflict_view(m, c);
  return "{\"key\": " + v.key + ", \"kind\": " + json_string(v.kind) +
         ", \"source_row\": " + v.source_row.value_or("null") +
         ", \"target_row\": " + v.target_row.value_or("null") +
         ", \"source_changed\": " + v.source_changed + ", \"target_changed\": " + v.target_changed +
         ", \"conflicting\": " + v.conflicting +
         ", \"reason\": " + (v.reason ? json_string(*v.reason) : "null") + "}";
}

Result<Row> custom_row_from_json(const FieldMapper& m, const ConflictRecord& c,
                                 const nlohmann::json& j) {
  if (!j.is_object())
    return error(ErrorCode::kInvalidArgument,
                 "the row of a custom decision must be a JSON object of target columns");
  const std::vector<std::string>& names = m.mapped_columns();
  Row row = c.source ? *c.source : c.target ? *c.target : Row(names.size(), Value::null());
  row.resize(names.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    size_t i = 0;
    while (i < names.size() && names[i] != it.key()) ++i;
    if (i == names.size())
      return error(ErrorCode::kNotFound, "the custom row names column \"" + it.key() +
                                             "\", which the sync does not write to its target");
    const Column& col = m.target_schema().columns[m.target_projection()[i]];
    Result<Value> v = value_from_json(*it, col.type);
    if (!v.is_ok())
      return error(ErrorCode::kTypeMismatch,
                   "custom row, column \"" + it.key() + "\": " + v.status().message());
    if (i < m.key_count() && compare_values(*v, c.key[i]) != 0)
      return error(ErrorCode::kConflict, "the custom row changes key column \"" + it.key() + "\"");
    row[i] = std::move(v).value();
  }
  return row;
}

Result<Row> custom_row_from_text(const FieldMapper& m, const ConflictRecord& c,
                                 std::string_view row_json) {
  return custom_row_from_json(m, c, nlohmann::json::parse(row_json, nullptr, false));
}

}  // namespace dbsync
