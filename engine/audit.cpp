#include "engine/audit.hpp"

#include <xxhash.h>
#include <algorithm>

#include "engine/value_json.hpp"

namespace dbsync {

const char* audit_operation_name(RowOp op) { return row_op_name(op); }

char audit_operation_code(RowOp op) {
  switch (op) {
    case RowOp::kInsert:
      return 'i';
    case RowOp::kUpdate:
      return 'u';
    case RowOp::kDelete:
      return 'd';
    case RowOp::kSoftDelete:
      return 's';
    case RowOp::kNone:
      break;
  }
  return 0;
}

std::string audit_text_array(const std::vector<std::string>& names) {
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : names[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

AuditBuilder::AuditBuilder(const FieldMapper& mapper) : mapper_(mapper) {
  const size_t n = mapper.mapped_count();
  quoted_.reserve(n);
  reversible_.reserve(n);
  std::vector<std::string> source_names;
  for (size_t i = 0; i < n; ++i) {
    quoted_.push_back(json_string(mapper.mapped_columns()[i]));
    reversible_.push_back(mapper.reversible(i));
    if (reversible_.back()) source_names.push_back(mapper.mapped_columns()[i]);
  }
  target_columns_ = audit_text_array(mapper.mapped_columns());
  source_columns_ = audit_text_array(source_names);
}

void AuditBuilder::add(AuditSide& side, const PlannedChange& c, RowOp op, bool source_side) const {
  const char* sep = side.count == 0 ? "[" : ", ";
  ++side.count;

  side.keys += sep;
  side.keys += '{';
  const size_t k = std::min(c.key.size(), mapper_.key_count());
  for (size_t i = 0; i < k; ++i) {
    if (i) side.keys += ", ";
    side.keys += quoted_[i];
    side.keys += ": ";
    side.keys += render_value(c.key[i]);
  }
  side.keys += '}';

  side.operations += audit_operation_code(op);

  side.fields += sep;
  if (op == RowOp::kDelete || op == RowOp::kSoftDelete) {
    side.fields += "[]";
    return;
  }
  // Which fields an update changed is known from `changed`, which describes the target write;
  // for the source it says the same only when the change writes nothing to the target.
  const bool known =
      op == RowOp::kUpdate && c.changed.any() && (!source_side || c.target_op == RowOp::kNone);
  if (!known) {
    side.fields += "null";
    ++side.all_fields;
    return;
  }
  side.fields += '[';
  bool first = true;
  const size_t n = std::min(c.changed.size(), quoted_.size());
  for (size_t i = 0; i < n; ++i) {
    if (!c.changed.test(i) || (source_side && !reversible_[i])) continue;
    if (!first) side.fields += ", ";
    side.fields += quoted_[i];
    first = false;
  }
  side.fields += ']';
}

void AuditBuilder::finish(AuditSide& side) {
  if (side.count == 0) return;
  side.keys += ']';
  side.fields += ']';
  // Every entry null (each change wrote every column: a batch of inserts): JSON null instead
  // of one null per change.
  if (side.all_fields == side.count) side.fields = "null";
  // Chained: each part seeds the next one's hash.
  uint64_t h = 0;
  for (const std::string* part : {&side.keys, &side.operations, &side.fields})
    h = XXH3_64bits_withSeed(part->data(), part->size(), h);
  side.digest = h;
}

AuditBatch AuditBuilder::build(const std::vector<PlannedChange>& changes) const {
  AuditBatch b;
  for (const PlannedChange& c : changes) {
    if (c.target_op != RowOp::kNone) add(b.target, c, c.target_op, false);
    if (c.source_op != RowOp::kNone) add(b.source, c, c.source_op, true);
  }
  finish(b.target);
  finish(b.source);
  if (b.target.count) b.target.columns = target_columns_;
  if (b.source.count) b.source.columns = source_columns_;
  return b;
}

}  // namespace dbsync
