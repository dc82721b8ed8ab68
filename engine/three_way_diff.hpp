// Merges the key-ordered streams of source rows, target rows and baseline entries and says,
// for every key, what happened since the last sync (DESIGN.md's three-way table). Memory is
// bounded: one row of each stream at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"

namespace dbsync {

struct DiffItem {
  DiffKind kind = DiffKind::kUnchanged;
  Row key;                 // target key (raw source key when !key_mapped)
  bool key_mapped = true;  // false: the source row's key could not be mapped
  bool has_source = false;
  bool has_target = false;
  const Row* source_raw = nullptr;          // projected source row (valid until next())
  Row source;                               // mapped source row (target layout)
  Row target;                               // projected, canonical target row
  const BaselineEntry* baseline = nullptr;  // valid until next()
  uint64_t source_hash = 0;                 // hash_row of the mapped source row
  uint64_t target_hash = 0;                 // hash_row of the target row's mapped columns
  // Per-field hashes and the field sets below are computed only when a row hash differs from
  // the baseline (fields_hashed); an unchanged row costs one hash per side.
  bool fields_hashed = false;
  std::vector<uint64_t> source_hashes;  // per mapped field
  std::vector<uint64_t> target_hashes;
  FieldSet source_changed;  // vs the baseline
  FieldSet target_changed;
  FieldSet differing;    // source value != target value
  FieldSet conflicting;  // changed on both sides, differently
  Status error;          // kRowError: why the row failed
};

class ThreeWayDiff {
 public:
  ThreeWayDiff(const FieldMapper& mapper, RowReader& source, RowReader& target,
               BaselineReader& baseline, int64_t now_micros);

  // The next key's item, or nullptr at the end. A failed stream or a stream out of key order
  // is an error for the whole run.
  Status next(const DiffItem*& item);

 private:
  Status advance_source();
  Status advance_target();
  Status advance_baseline();
  void classify();
  void compute_field_hashes();

  const FieldMapper& mapper_;
  RowReader& source_;
  RowReader& target_;
  BaselineReader& baseline_;
  int64_t now_;

  const Row* src_ = nullptr;
  Row src_key_;
  Status src_key_error_;
  bool src_consumed_ = true, tgt_consumed_ = true, base_consumed_ = true;
  Row last_src_key_, last_tgt_key_, last_base_key_;
  bool have_last_src_ = false, have_last_tgt_ = false, have_last_base_ = false;
  const Row* tgt_raw_ = nullptr;
  Row tgt_;
  const BaselineEntry* base_ = nullptr;
  DiffItem item_;
};

}  // namespace dbsync
