// A job's stage in the master's catalog over libpq: dbsync.stage (job_id, seq, change =
// encode_change) and dbsync.conflicts, written exactly as the extension's CatalogStage
// (extension/src/catalog_stage.*) writes them, so that dbsync.resolve decides what the daemon
// staged and either executor commits a stage the other filled.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/job_transaction.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"

namespace dbsync::daemon {

// Everything runs inside the job's transaction; nothing here commits. read_changes() DELETEs
// each batch's rows before handing it to fn; the job commits that with the batch's effects (a
// failure rolls it back), so the stage always holds exactly the batches not yet applied.
class CatalogStage final : public Stage {
 public:
  // `mapper` names the fields of conflicts; it must outlive the stage.
  CatalogStage(JobTransaction& txn, std::string job_id, std::string sync_id,
               const FieldMapper& mapper);

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  Status clear() override;

 private:
  JobTransaction& txn_;
  std::string job_id_, sync_id_;
  const FieldMapper& mapper_;
};

// The readable JSON of values and rows: engine/value_json.hpp.

}  // namespace dbsync::daemon
