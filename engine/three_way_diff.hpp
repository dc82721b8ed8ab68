// Merges the key-ordered streams of source rows, target rows and baseline entries and says,
// for every key, what happened since the last sync (DESIGN.md's three-way table).
//
// A side whose rows carry fingerprints (RowReader::fingerprint) equal to the baseline's is known
// unchanged without mapping or hashing its row. A light reader (RowReader::light: keys and
// fingerprints only) goes further: the differ collects a window of keys, and only the keys whose
// fingerprints differ from the baseline's are read in full (RowReader::lookup), a window at a
// time. Memory is bounded: one row of each stream at a time, or one window.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"

namespace dbsync {

struct DiffItem {
  DiffKind kind = DiffKind::kUnchanged;
  Row key;  // target key (raw source key when !key_mapped)
  // false: the source row's key could not be mapped — or, with no source_raw, a target row's
  // key has a null column (key: the target key as read)
  bool key_mapped = true;
  bool has_source = false;
  bool has_target = false;
  const Row* source_raw = nullptr;          // projected source row (valid until next())
  Row source;                               // mapped source row (target layout)
  Row target;                               // projected, canonical target row
  const BaselineEntry* baseline = nullptr;  // valid until next()
  uint64_t source_hash = 0;                 // hash_row of the mapped source row
  uint64_t target_hash = 0;                 // hash_row of the target row's mapped columns
  uint64_t source_fp = 0;                   // the rows' fingerprints as read (0: none)
  uint64_t target_fp = 0;
  // kUnchanged, but a fingerprint differs from the baseline's (a row rewritten with the same
  // values, or a baseline without fingerprints): the baseline should learn the new ones.
  bool refresh_fingerprints = false;
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
  // `window`: with a light reader, at most this many keys are read in full at a time (and at
  // most 4 times as many keys are held while looking for them).
  ThreeWayDiff(const FieldMapper& mapper, RowReader& source, RowReader& target,
               BaselineReader& baseline, int64_t now_micros, size_t window = 1000);

  // The next key's item, or nullptr at the end. A failed stream or a stream out of key order
  // is an error for the whole run; a source row whose mapped key repeats the one before, or a
  // target row with a null key column, is a row error (kRowError) and the run goes on.
  Status next(DiffItem*& item);
  // The same, read-only. (The caller of the other may take the item's rows, swapping them for
  // rows of its own: the next call refills them.)
  Status next(const DiffItem*& item) {
    DiffItem* p = nullptr;
    Status st = next(p);
    item = p;
    return st;
  }

 private:
  Status advance_source();
  Status advance_target();
  Status advance_baseline();
  // The smallest current key of the three streams and which streams are at it; false at the end.
  bool at_min_key(const Row*& key, bool& at_src, bool& at_tgt, bool& at_base) const;
  // Both present sides' fingerprints match the baseline's.
  static bool unchanged_by_fingerprint(const BaselineEntry* b, bool has_source, bool has_target,
                                       uint64_t source_fp, uint64_t target_fp);
  void row_error_item(const Row& source_row, const Status& st);
  void target_row_error_item(const Row& key, const Status& st);  // a target row without a key
  Status full_item(const Row& key, bool at_base);                // both readers return full rows
  void classify();
  void compute_field_hashes();
  void note_refresh();
  void unchanged_item();  // kUnchanged known by fingerprints: nothing mapped or hashed

  // Light mode: a window of keys in order, the changed ones read in full before any is handed out.
  struct Pending {
    Row key;                     // target key (raw source key for a row error)
    Row source_key;              // the source row's key columns (for checkpoints and lookups)
    Row source_row, target_row;  // full rows of candidates
    Row target_key;              // the target row's key as read (lookups)
    bool has_source = false, has_target = false;
    bool candidate = false;  // must be read in full and classified
    bool row_error = false;
    bool target_error = false;  // the row error is a target row's (key: its key as read)
    Status error;
    uint64_t source_fp = 0, target_fp = 0;
    bool has_baseline = false;
    BaselineEntry baseline;
  };
  Status fill_window();
  Status emit(Pending& p);

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
  Row last_src_raw_key_;  // the source's own key of last_src_key_ (for messages)
  Status tgt_key_error_;  // the current target row has a null key column
  bool have_last_src_ = false, have_last_tgt_ = false, have_last_base_ = false;
  const Row* tgt_raw_ = nullptr;
  Row tgt_;
  const BaselineEntry* base_ = nullptr;
  DiffItem item_;

  bool light_ = false;
  size_t window_ = 1000;
  std::vector<Pending> pending_;
  size_t pending_used_ = 0, pending_next_ = 0;
  bool streams_done_ = false;
};

}  // namespace dbsync
