// Turns each DiffItem into a PlannedChange according to the sync's direction, conflict strategy
// and delete policy, or leaves a ConflictRecord for a person. The same rules resolve a recorded
// conflict later (a person's decision, a webhook's answer), so both paths agree.
#pragma once

#include <optional>

#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"
#include "engine/three_way_diff.hpp"

namespace dbsync {

class ConflictResolver {
 public:
  ConflictResolver(const FieldMapper& mapper, SyncPolicy policy,
                   ConflictWebhook* webhook = nullptr);

  struct Outcome {
    PlannedChange change;                   // what to do now (may be empty)
    std::optional<ConflictRecord> pending;  // left for a person (manual, or a fallback)
    bool conflict = false;                  // a conflict (or, one-way, a target drift) was seen
    // Rows whose storage (values and their strings) a change's target row may take over instead
    // of allocating its own: the caller gives back the rows of batches it has applied.
    std::vector<Row>* spare_rows = nullptr;
    // The item's own mapped source row (&item.source), when the caller lets a change take it
    // instead of copying it: the item gets spare storage back (its next row is copied into it).
    Row* source_row = nullptr;
  };

  // Plans one key. Fails only for a webhook transport problem with no fallback, or when a row
  // cannot flow back (two-way) — the caller records that row as an error.
  Status plan(const DiffItem& item, Outcome& out) const;

  // Applies a decision to a recorded conflict. `custom_row` (target layout, for kCustom) is
  // coerced to the target types; its key must be the conflict's key. kMerge fails with
  // kConflict when a field changed on both sides and the policy's fallback is manual.
  Result<PlannedChange> resolve(const ConflictRecord& conflict, Decision decision,
                                const Row* custom_row) const;

  // The record of a diff item (what a person or a webhook sees).
  ConflictRecord record_of(const DiffItem& item) const;

  const SyncPolicy& policy() const { return policy_; }
  // now() for mappings evaluated while planning (the job's fixed "now").
  void set_now(int64_t now_micros) { now_micros_ = now_micros; }

 private:
  Status plan_change(const DiffItem& item, Outcome& out) const;
  Status by_strategy(Strategy strategy, const ConflictRecord& c, Outcome& out) const;
  Status take_source(const ConflictRecord& c, PlannedChange& p) const;
  Status take_target(const ConflictRecord& c, PlannedChange& p) const;
  // kConflict when a both-changed field needs the manual fallback.
  Status merge(const ConflictRecord& c, MergeFallback fallback, PlannedChange& p) const;
  Status custom(const ConflictRecord& c, const Row& row, PlannedChange& p) const;
  void skip(const ConflictRecord& c, PlannedChange& p) const;

  void write_target(const ConflictRecord& c, const Row& want, PlannedChange& p) const;
  Row source_after_write(const ConflictRecord& c, const Row& want) const;
  Status write_source(const ConflictRecord& c, const Row& want, PlannedChange& p) const;
  Status delete_target(const ConflictRecord& c, PlannedChange& p) const;
  Status delete_source(const ConflictRecord& c, PlannedChange& p) const;

  const FieldMapper& mapper_;
  SyncPolicy policy_;
  ConflictWebhook* webhook_;
  int64_t now_micros_ = 0;
};

}  // namespace dbsync
