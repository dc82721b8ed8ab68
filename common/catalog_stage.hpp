// A job's stage in the master's catalog, for both executors over their CatalogSession:
// dbsync.stage (job_id, seq, change = encode_change) for the change set, dbsync.conflicts for the
// conflicts a person (or webhook) decides with dbsync.resolve — so either executor decides and
// commits what the other staged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/catalog_session.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"

namespace dbsync {

// Everything happens inside the session's transaction: nothing here commits or rolls back.
// Writes are set-based (a batch bound as arrays).
//
// read_changes() hands the staged changes over in seq order, in batches of at most batch_size.
// Each batch's rows are DELETEd from dbsync.stage *before* fn is called, in the same
// transaction. The job runner commits that transaction inside fn (the executor's on_progress
// callback, after the batch was applied), so the removal and the batch's effects commit
// together; on a failure it rolls the transaction back, which puts the rows back. Either way the
// stage holds exactly the batches not yet applied, and a resumed commit applies nothing twice.
//
// Conflicts are stored with readable columns (key, source_row and target_row as JSON objects of
// target columns, the changed field names) and the exact engine record (record =
// encode_conflict); clear() removes the stage rows only: conflict rows stay as history.
class CatalogStage final : public Stage {
 public:
  // `session` and `mapper` (it names the fields of conflicts: mapped layout) must outlive the
  // stage.
  CatalogStage(CatalogSession& session, std::string job_id, std::string sync_id,
               const FieldMapper& mapper);

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  Status clear() override;

 private:
  CatalogSession& session_;
  std::string job_id_, sync_id_;
  const FieldMapper& mapper_;
};

}  // namespace dbsync
