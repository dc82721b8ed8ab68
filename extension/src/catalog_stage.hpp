// A job's stage in the master's catalog: dbsync.stage (job_id, seq, change = encode_change) for
// the change set, dbsync.conflicts for the conflicts a person (or webhook) decides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"

namespace dbsync::ext {

// Everything happens inside the caller's SPI session and transaction: nothing here commits,
// rolls back or keeps SPI state between calls. Writes are set-based (the batch bound as arrays).
//
// read_changes() hands the staged changes over in seq order, in batches of at most batch_size.
// Each batch's rows are DELETEd from dbsync.stage *before* fn is called, in the same
// transaction. The job runner commits that transaction inside fn (the executor's on_progress
// callback, after the batch was applied), so the removal and the batch's effects commit
// together; on a failure it aborts the transaction, which puts the rows back. Either way the
// stage holds exactly the batches not yet applied, and a resumed commit applies nothing twice.
//
// Conflicts are stored with readable columns (key, source_row and target_row as JSON objects of
// target columns, the changed field names) and the exact engine record (record =
// encode_conflict); clear() removes the stage rows only: conflict rows stay as history.
class CatalogStage final : public Stage {
 public:
  // `mapper` names the fields of conflicts (mapped layout); it must outlive the stage.
  CatalogStage(std::string job_id, std::string sync_id, const FieldMapper& mapper);

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  Status clear() override;

 private:
  std::string job_id_, sync_id_;
  const FieldMapper& mapper_;
};

// One row of dbsync.conflicts with its engine record decoded (for dbsync.resolve).
struct StoredConflict {
  int64_t id = 0;
  int64_t job_id = 0;
  int64_t sync_id = 0;
  std::string status;  // pending, resolved, skipped
  ConflictRecord record;
};

// The `record` column as spi::execute returns it (bytea in hex text form), decoded.
Result<ConflictRecord> decode_stored_conflict(const std::string& record_hex);

// The conflict `conflict_id` (kNotFound when there is none). Inside an SPI session; reads with
// FOR UPDATE when `lock` (a resolution then owns the row until the transaction ends).
Result<StoredConflict> load_conflict(int64_t conflict_id, bool lock = false);

}  // namespace dbsync::ext
