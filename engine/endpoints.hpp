// What adapters implement: key-ordered row streams, batch apply, the baseline and the stage.
// The engine drives these; it never sees a database protocol.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "engine/status.hpp"
#include "engine/sync_types.hpp"
#include "engine/value.hpp"

namespace dbsync {

// Keys in (after, upto]: a resumed job starts after its checkpoint; a split job reads a range.
struct KeyRange {
  std::optional<Row> after;
  std::optional<Row> upto;
};

struct ScanRequest {
  std::vector<size_t> columns;  // schema indexes to read, in this order
  size_t key_count = 1;         // the first key_count columns are the key: order by them
  KeyRange range;
  size_t batch_hint = 1000;  // rows per fetch the reader may use
  // Ask for a light scan: rows that hold only the key columns, each with a fingerprint; the
  // full rows of the keys that need them are read afterwards with RowReader::lookup. A reader
  // that cannot fingerprint its rows returns full rows instead (RowReader::light() says).
  bool light = false;
};

class RowReader {
 public:
  virtual ~RowReader() = default;
  // Sets `row` to the next row (valid until the following call) or to nullptr at the end.
  // Rows come in ascending key order (compare_keys), text keys in byte order.
  virtual Status next(const Row*& row) = 0;

  // A value that changes whenever the row last returned changes (PostgreSQL: the xmin of the
  // row version), 0 when the reader has none. A row whose fingerprint equals the one remembered
  // in the baseline is as it was then: it is recognised without decoding or mapping it.
  virtual uint64_t fingerprint() const { return 0; }
  // True when rows hold only the request's key columns (ScanRequest::light was honoured).
  virtual bool light() const { return false; }
  // Light readers: the full rows (the request's columns) of keys already returned, given in
  // ascending order. `fn` gets each row still found, in key order, with its fingerprint; a key
  // whose row is gone (deleted since) is left out.
  virtual Status lookup(const std::vector<Row>& keys,
                        const std::function<Status(const Row& row, uint64_t fingerprint)>& fn) {
    (void)keys;
    (void)fn;
    return error(ErrorCode::kInternal, "this reader cannot look rows up");
  }
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) = 0;
  // Estimated number of rows (for progress), -1 when unknown.
  virtual Result<int64_t> estimate_rows() { return int64_t{-1}; }
};

// A batch of changes to one table. Inserts and updates carry values for `columns`; deletes only
// the key; a soft delete sets `soft_delete_column` to `soft_delete_value`, and an update with
// `restore` sets it back to `soft_restore_value`.
//
// THE WRITE CONTRACT (every Target keeps it; the executor suite proves it on the in-memory
// endpoints, the adapters' tests on the real servers):
//  - A write never overwrites a row version the job did not read. An update, delete or soft
//    delete is applied only while the row is still the version the job read: its fingerprint
//    equals Item::expect_fp (PostgreSQL: the row's xmin), or, when expect_fp is 0, its values in
//    `expect_columns` equal Item::expect (ends without row versions compare the values read).
//    With neither (expect_fp 0 and expect empty) the job did not read the row and the write is
//    unconditional (a decision recorded before this contract existed).
//  - An insert writes only a key that does not exist. A key that exists with exactly the
//    inserted values (a staged batch applied again after a crash) counts as written; one with
//    other values (a row that appeared since the read, or one the sync's filter hides) is left.
//  - A delete of a row that is gone already counts as done.
//  - Items left unwritten are not an error: the batch goes on, and skipped() lists them. The
//    executor keeps their baseline as it was, so the next run reads those rows again and
//    decides them anew (as a change, or as a conflict when both sides moved).
// So a concurrent edit, on either side, is never lost: at worst it becomes a conflict.
struct ChangeBatch {
  struct Item {
    Item() = default;
    Item(RowOp op_, Row key_, Row values_ = {}, bool restore_ = false, uint64_t expect_fp_ = 0,
         Row expect_ = {})
        : op(op_),
          key(std::move(key_)),
          values(std::move(values_)),
          restore(restore_),
          expect_fp(expect_fp_),
          expect(std::move(expect_)) {}
    RowOp op = RowOp::kNone;
    Row key;
    Row values;
    bool restore = false;
    uint64_t expect_fp = 0;  // the row's fingerprint as read (updates and deletes), 0: unknown
    Row expect;              // or its values as read, in expect_columns (empty: unknown)
  };
  std::vector<size_t> key_columns;     // schema indexes
  std::vector<size_t> columns;         // schema indexes of Item::values
  std::vector<size_t> expect_columns;  // schema indexes of Item::expect
  int soft_delete_column = -1;
  Value soft_delete_value;
  Value soft_restore_value;
  std::vector<Item> items;
};

// A table that can also be written: every target, and the source of a two-way sync.
class Target : public Source {
 public:
  // Applies the whole batch or nothing (one transaction where the database has them).
  virtual Status apply(const ChangeBatch& batch) = 0;

  // The same in two halves, so a remote server works on a batch while the engine reads the
  // next one: start_apply() sends the batch and may return before it is applied (committed);
  // finish_apply() waits and returns what apply() would have. At most one batch is in flight;
  // a batch started and never finished is never committed (it is rolled back when the target
  // goes away, or when another batch is started or applied). pump() lets an in-flight batch make
  // progress (sends what is buffered) without waiting; the engine calls it now and then. A target
  // without a pipeline applies in start_apply().
  virtual bool pipelined() const { return false; }  // start_apply may leave a batch in flight
  virtual Status start_apply(const ChangeBatch& batch) { return apply(batch); }
  virtual Status finish_apply() { return Status::ok(); }
  virtual Status pump() { return Status::ok(); }

  // The items of the last batch applied (apply, or start_apply and finish_apply) that were left
  // unwritten under the write contract (ChangeBatch): indexes into its items, ascending.
  virtual const std::vector<size_t>& skipped() const { return skipped_; }

  // The fingerprint (RowReader::fingerprint) that rows written by the last apply or start_apply
  // carry, 0 when unknown: PostgreSQL tables give the id of the transaction that wrote them.
  // The baseline remembers it, so the next run knows those rows unchanged without reading them.
  virtual uint64_t written_fingerprint() const { return 0; }

 protected:
  std::vector<size_t> skipped_;  // what skipped() returns: implementations fill it per batch
};

class BaselineReader {
 public:
  virtual ~BaselineReader() = default;
  virtual Status next(const BaselineEntry*& entry) = 0;  // nullptr at the end; key order
};

// The per-sync sync_state.
class Baseline {
 public:
  virtual ~Baseline() = default;
  virtual Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) = 0;
  // Stores the baseline_op of each change (kSet: change.baseline, kErase: change.key).
  virtual Status apply(const std::vector<PlannedChange>& changes) = 0;
  // True when what apply() writes is committed only with the job's progress (the caller
  // commits in on_progress, as the extension does): then a batch's baseline may be written
  // while its target batch is still in flight. Otherwise it is written once the target
  // committed, so the baseline never runs ahead of the target.
  virtual bool commits_with_progress() const { return false; }
};

// Where a job's change set waits until it may be committed (Redis or a table in the master).
class Stage {
 public:
  virtual ~Stage() = default;
  virtual Status put_changes(const std::vector<PlannedChange>& changes) = 0;
  virtual Status put_conflicts(const std::vector<ConflictRecord>& conflicts) = 0;
  virtual Result<int64_t> pending_conflicts() = 0;
  // Hands the staged changes over in batches of at most `batch_size`, in the order staged. A
  // batch whose callback returned ok has been applied: it leaves the stage before the next one
  // is read, so a commit cut off midway resumes with what is left and applies nothing twice.
  virtual Status read_changes(size_t batch_size,
                              const std::function<Status(std::vector<PlannedChange>&)>& fn) = 0;
  virtual Status clear() = 0;
};

// The daemon's HTTP side of the `webhook` strategy.
struct WebhookAnswer {
  Decision decision = Decision::kSkip;
  std::optional<Row> row;  // Decision::kCustom: the row to write (target layout)
};
class ConflictWebhook {
 public:
  virtual ~ConflictWebhook() = default;
  virtual Result<WebhookAnswer> decide(const ConflictRecord& conflict) = 0;
};

}  // namespace dbsync
