// The vocabulary shared by the differ, the resolver, the executor, the stages and the shells.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/field_set.hpp"
#include "engine/status.hpp"
#include "engine/value.hpp"

namespace dbsync {

enum class Direction { kOneWay, kTwoWay };
enum class Strategy { kSourceWins, kTargetWins, kManual, kMerge, kWebhook };
enum class MergeFallback { kSource, kTarget, kManual };
enum class DeletePolicy { kPropagate, kIgnore, kSoft };
enum class ManualMode { kHoldAll, kApplyClean };

const char* direction_name(Direction d);
const char* strategy_name(Strategy s);
Result<Direction> parse_direction(std::string_view s);           // one_way, two_way
Result<Strategy> parse_strategy(std::string_view s);             // source_wins, target_wins, ...
Result<MergeFallback> parse_merge_fallback(std::string_view s);  // source, target, manual
Result<ManualMode> parse_manual_mode(std::string_view s);        // hold_all, apply_clean

struct SyncPolicy {
  Direction direction = Direction::kOneWay;
  Strategy strategy = Strategy::kSourceWins;
  MergeFallback merge_fallback = MergeFallback::kManual;
  Strategy webhook_fallback = Strategy::kManual;  // when the webhook fails or answers nonsense
  DeletePolicy delete_policy = DeletePolicy::kPropagate;
  std::string soft_delete_column;  // DeletePolicy::kSoft: set to true / now() / 1 on delete
  ManualMode manual_mode = ManualMode::kHoldAll;
};

// "propagate", "ignore", "soft:<column>".
Status parse_delete_policy(std::string_view s, SyncPolicy& policy);

// What the baseline (sync_state) remembers of one key: per side, whether the row existed and
// the hashes of its mapped fields (in the target's type domain) when last synced. The two
// sides are equal after a normal sync; they differ when a decision kept them apart (target
// wins, a skipped conflict, an ignored delete), so that the kept difference is not re-raised
// until one side changes again.
// The row hashes let the common case (nothing changed) cost one hash per side; the field
// hashes say which fields changed when a row hash differs.
struct BaselineEntry {
  Row key;
  bool source_present = true;
  bool target_present = true;
  uint64_t source_hash = 0;             // hash_row of the mapped source row
  uint64_t target_hash = 0;             // hash_row of the target row
  std::vector<uint64_t> source_fields;  // hash_value per mapped field
  std::vector<uint64_t> target_fields;
  // Each side's row fingerprint when last seen or written (RowReader::fingerprint), 0 when
  // unknown. Equal to the one read now: the side is unchanged, whatever its values.
  uint64_t source_fp = 0;
  uint64_t target_fp = 0;

  // As a new entry, keeping the storage of its vectors (for reuse from row to row).
  void reset() {
    key.clear();
    source_present = target_present = true;
    source_hash = target_hash = 0;
    source_fields.clear();
    target_fields.clear();
    source_fp = target_fp = 0;
  }
};

// XXH3-64 over the first `count` values of a row: for each value its type tag, its length
// when variable-sized, and its canonical bytes (never a printed form that two rows could share).
uint64_t hash_row(const Row& row, size_t count);

enum class DiffKind : uint8_t {
  kUnchanged,                   // nothing changed since the baseline
  kInStep,                      // both sides equal but the baseline is stale: refresh it
  kSourceChanged,               // apply the source's changes to the target
  kTargetChanged,               // the target drifted (one_way: strategy; two_way: flow back)
  kBothChanged,                 // conflict
  kSourceInserted,              // new on the source
  kTargetInserted,              // only on the target, never synced
  kFirstRunConflict,            // on both sides, no baseline, different
  kSourceDeleted,               // deleted on the source, target unchanged
  kSourceDeletedTargetChanged,  // conflict
  kTargetDeleted,               // deleted on the target, source unchanged
  kTargetDeletedSourceChanged,  // conflict
  kBothDeleted,                 // gone on both sides: forget the baseline
  kRowError,                    // the source row could not be mapped
};
const char* diff_kind_name(DiffKind k);
bool is_conflict(DiffKind k);

enum class RowOp : uint8_t { kNone, kInsert, kUpdate, kDelete, kSoftDelete };
enum class BaselineOp : uint8_t { kKeep, kSet, kErase };
const char* row_op_name(RowOp op);

// One key's planned effect on the target, the source (two-way) and the baseline.
struct PlannedChange {
  DiffKind kind = DiffKind::kUnchanged;
  Row key;  // target key (mapped layout)
  RowOp target_op = RowOp::kNone;
  Row target_values;  // mapped layout: the whole row to write (insert/update)
  RowOp source_op = RowOp::kNone;
  Row source_key;     // source key, in source types
  Row source_values;  // one value per reversible mapped column (FieldMapper::reversible)
  BaselineOp baseline_op = BaselineOp::kKeep;
  BaselineEntry baseline;
  FieldSet changed;           // mapped fields the change writes (for the audit)
  bool restore_soft = false;  // the source row is back: clear the target's soft-delete column
  // What the job read of each side's row, so that a write applies only to that row version
  // (ChangeBatch's write contract): its fingerprint, or, where the side has none, its values
  // (target: the mapped target columns; source: the source projection). Inserts expect no row.
  uint64_t expect_target_fp = 0;
  Row expect_target;
  uint64_t expect_source_fp = 0;
  Row expect_source;

  // As a new change, keeping the storage of its vectors (a run reuses the changes of the
  // batches it has applied, so that planning a row allocates little).
  void reset() {
    kind = DiffKind::kUnchanged;
    key.clear();
    target_op = RowOp::kNone;
    target_values.clear();
    source_op = RowOp::kNone;
    source_key.clear();
    source_values.clear();
    baseline_op = BaselineOp::kKeep;
    baseline.reset();
    changed.reset(0);
    restore_soft = false;
    expect_target_fp = expect_source_fp = 0;
    expect_target.clear();
    expect_source.clear();
  }

  bool empty() const {
    return target_op == RowOp::kNone && source_op == RowOp::kNone &&
           baseline_op == BaselineOp::kKeep;
  }
};

// A conflict as recorded for a person or a webhook to decide.
struct ConflictRecord {
  DiffKind kind = DiffKind::kBothChanged;
  Row key;
  std::optional<Row> source;      // mapped source row (target layout), absent when deleted
  std::optional<Row> target;      // target row (target layout), absent when deleted
  std::optional<Row> source_raw;  // the projected source row (for merges that flow back)
  std::optional<BaselineEntry> baseline;
  FieldSet source_changed;  // fields changed on the source since the baseline
  FieldSet target_changed;
  FieldSet conflicting;    // changed on both sides to different values
  std::string reason;      // e.g. "merge fallback manual", "webhook failed: timeout"
  uint64_t source_fp = 0;  // the rows' fingerprints as read (0: none): a decision's writes
  uint64_t target_fp = 0;  // apply only to these row versions (ChangeBatch's write contract)
};

// Sets what a change's writes expect to find (PlannedChange::expect_*): for each side the change
// updates or deletes, the fingerprint read, or the row read when there is none (`source_raw`:
// the projected source row; `target`: the target row, mapped layout; either may be null).
void set_expectations(PlannedChange& change, uint64_t source_fp, const Row* source_raw,
                      uint64_t target_fp, const Row* target);

enum class Decision { kSource, kTarget, kMerge, kCustom, kSkip };
const char* decision_name(Decision d);
Result<Decision> parse_decision(std::string_view s);  // source, target, merge, custom, skip

struct Progress {
  std::string phase;     // "scanning", "staging", "committing", "done"
  int64_t total = -1;    // estimated source rows, -1 when unknown
  int64_t scanned = 0;   // keys looked at (union of both sides)
  int64_t inserted = 0;  // on the target
  int64_t updated = 0;
  int64_t deleted = 0;
  int64_t source_inserted = 0;  // two-way: written back to the source
  int64_t source_updated = 0;
  int64_t source_deleted = 0;
  int64_t unchanged = 0;
  int64_t conflicts = 0;  // detected
  int64_t conflicts_pending = 0;
  int64_t errors = 0;                    // rows that failed to map
  std::optional<Row> checkpoint;         // last target key committed (or staged, when holding)
  std::optional<Row> source_checkpoint;  // the source key of that point (resume the source scan)
};

}  // namespace dbsync
