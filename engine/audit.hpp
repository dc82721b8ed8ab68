// The audit trail: what one applied batch wrote, per side, in the shape dbsync.audit stores it
// (one catalog row per batch and side, not per change: see docs/extension.md, "The audit trail").
// Shared by the extension's and dbsyncd's catalog baselines, which write it with the baseline, in
// the job's transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"

namespace dbsync {

// One side of a batch as texts bound as parameters of one INSERT, in forms the server stores
// without building a tree (dbsync.audit: keys and fields json, operations one letter each): an
// initial load's batch of 5000 inserts costs a JSON syntax check, not a jsonb conversion.
struct AuditSide {
  size_t count = 0;        // changes on this side; 0: nothing to record
  std::string columns;     // the side's column names as a text[] literal, every element quoted
                           // ({"id","title"}; a null fields entry = all of them)
  std::string keys;        // JSON array, per change the key as an object (mapped key columns)
  std::string operations;  // per change one letter (audit_operation_code): "iiu" for 2 inserts,
                           // an update
  std::string fields;      // JSON array, per change the field names written or null for all;
                           // JSON null when every entry is null (a batch of inserts)
  uint64_t digest = 0;     // of keys, operations and fields: the same batch again matches
  size_t all_fields = 0;   // changes that wrote every column (a null fields entry)
};

struct AuditBatch {
  AuditSide target;
  AuditSide source;  // two-way syncs: what flowed back
  bool empty() const { return target.count == 0 && source.count == 0; }
};

// `names` as a PostgreSQL text[] literal, every element quoted ("NULL" is a name, not a null),
// backslash and double quote escaped: {"id","a \"b\""}.
std::string audit_text_array(const std::vector<std::string>& names);

// "insert", "update", "delete", "soft_delete" ("none" for RowOp::kNone).
const char* audit_operation_name(RowOp op);

// The letter dbsync.audit.operations stores per change: 'i' insert, 'u' update, 'd' delete,
// 's' soft_delete (dbsync.audit_log shows the names); 0 for RowOp::kNone.
char audit_operation_code(RowOp op);

// Builds the audit of batches of one sync. Keys are the target key in the mapped layout on
// both sides (the key dbsync.conflicts and the baseline use), so one key's history reads the
// same whichever side a change went to. Field names are mapped (target) column names:
//  - target insert: null (every mapped column); target update: the changed fields
//    (PlannedChange::changed), null when the change does not say;
//  - source insert: null (every reversible mapped column, `columns` of the source side); source
//    update: the changed reversible fields when the change concerns the source only, else null;
//  - deletes and soft deletes: [].
class AuditBuilder {
 public:
  explicit AuditBuilder(const FieldMapper& mapper);

  AuditBatch build(const std::vector<PlannedChange>& changes) const;

 private:
  void add(AuditSide& side, const PlannedChange& c, RowOp op, bool source_side) const;
  static void finish(AuditSide& side);

  const FieldMapper& mapper_;
  std::vector<std::string> quoted_;  // json_string(name) per mapped column
  std::vector<bool> reversible_;
  std::string target_columns_, source_columns_;
};

}  // namespace dbsync
