// Runs one job of a sync: read -> map -> diff -> resolve -> stage -> apply, in batches, with a
// checkpoint after each batch, progress through a callback, and cancellation. Everything it
// touches is an interface (endpoints.hpp): adapters supply the databases, Redis or the master's
// tables the stage.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "engine/conflict_resolver.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"

namespace dbsync {

struct SyncEndpoints {
  Source* source = nullptr;         // read side of the master (or whatever the source is)
  Target* source_writer = nullptr;  // two-way only: the source as a writable table
  Target* target = nullptr;
  Baseline* baseline = nullptr;
  Stage* stage = nullptr;
  ConflictWebhook* webhook = nullptr;  // Strategy::kWebhook
};

struct JobOptions {
  std::optional<Row> resume_after;         // Progress::checkpoint of an interrupted run
  std::optional<Row> resume_after_source;  // Progress::source_checkpoint of that run
  int64_t now_micros = 0;                  // now() in expressions, soft-delete timestamps
  size_t batch_size = 1000;
  int64_t max_row_errors = -1;  // fail the job past this many row errors (-1: never)
  std::function<void(const Progress&)> on_progress;  // after every batch
  std::function<bool()> cancelled;                   // polled between rows
  std::function<void(const Row& key, const Status& why)> on_row_error;
};

enum class JobState { kSucceeded, kAwaitingResolution, kCancelled, kFailed };
const char* job_state_name(JobState s);

struct JobOutcome {
  JobState state = JobState::kFailed;
  Progress progress;
  Status error;  // kFailed: why
};

class SyncExecutor {
 public:
  // Fails when the endpoints do not fit the policy (no writable source for two-way, no soft
  // delete column, ...). Keeps references: mapper and endpoints must outlive the executor.
  static Result<SyncExecutor> create(const FieldMapper& mapper, const SyncPolicy& policy,
                                     const SyncEndpoints& endpoints);

  // Scans both sides and applies (or stages) the changes. kAwaitingResolution when conflicts
  // wait for a person: with hold_all nothing was written to the target yet.
  JobOutcome run(const JobOptions& options);

  // Applies the staged change set once no conflict is pending, then clears the stage.
  JobOutcome commit(const JobOptions& options);

  // Writes planned changes to the target, the source (two-way) and the baseline, and counts
  // them into `progress`.
  // `in_flight`, when given, lets the target batch be pipelined (Target::start_apply) and says
  // whether it was: its finish_apply() must come before the batch's progress is reported.
  // The changes' target and source values are moved into the batches (the baseline does not
  // need them).
  Status apply(std::vector<PlannedChange>& changes, Progress& progress, int64_t now_micros,
               bool* in_flight = nullptr);

  // Whether this sync's change sets wait in the stage until every conflict is decided.
  bool holds_changes() const { return hold_; }
  const ConflictResolver& resolver() const { return resolver_; }

 private:
  SyncExecutor(const FieldMapper& mapper, const SyncPolicy& policy, const SyncEndpoints& e)
      : mapper_(mapper), policy_(policy), endpoints_(e), resolver_(mapper, policy, e.webhook) {}

  const FieldMapper& mapper_;
  SyncPolicy policy_;
  SyncEndpoints endpoints_;
  ConflictResolver resolver_;
  bool hold_ = false;
  int target_soft_column_ = -1;
  int source_soft_column_ = -1;
  std::vector<size_t> source_write_columns_;  // source schema indexes of reversible columns
  // Reused from batch to batch, so that a steady run allocates little per row: the target
  // batch (its items), the rows of applied batches for the next changes to fill, and the
  // changes themselves.
  ChangeBatch target_batch_;
  std::vector<Row> spare_rows_;
  std::vector<PlannedChange> spare_changes_;  // changes of applied batches, to plan into
  // The change of each item of the target batch last applied (indexes into its changes).
  std::vector<size_t> target_changes_;
  // Rows that moved on since the job read them are reported like row errors (JobOptions).
  std::function<void(const Row& key, const Status& why)> on_moved_;

  // Changes whose write the target (or the source) left under the write contract: they lose that
  // write and keep their baseline; each is reported. Returns how many.
  int64_t leave_skipped(std::vector<PlannedChange>& changes, const std::vector<size_t>& item_change,
                        const std::vector<size_t>& skipped, bool source_side);
};

// The value a soft delete writes into a column of this type: true, now(), today or 1.
Result<Value> soft_delete_value(const TypeSpec& type, int64_t now_micros);
// The value that marks a row as not deleted: false, null or 0.
Value soft_restore_value(const TypeSpec& type);

}  // namespace dbsync
