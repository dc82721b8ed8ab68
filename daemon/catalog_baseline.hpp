// A sync's baseline in the master's catalog, dbsync.sync_state (sync_id, key, state), over
// libpq: the daemon's counterpart of the extension's CatalogBaseline (extension/src/
// catalog_baseline.*), byte for byte — keys are encode_sortable_key bytes, states
// encode_baseline bytes, so a job begun by one executor continues in the other.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/job_transaction.hpp"
#include "engine/audit.hpp"
#include "engine/endpoints.hpp"

namespace dbsync::daemon {

// Pages are keyset pages in the primary key's order (`key > last ORDER BY sync_id, key LIMIT
// n`), read inside the job's transaction; apply() writes a batch with at most three statements
// (plain inserts of keys new to the baseline, an upsert, a delete; keys and states bound as
// bytea[]) and commits nothing: the job commits it with the batch's progress.
// With audit_job(), apply() also records the batch's audit in dbsync.audit in the same
// transaction (one statement; the SQL is common/catalog_sql.hpp's, as the extension's), unless
// the sync has audit = false.
class CatalogBaseline final : public Baseline {
 public:
  CatalogBaseline(JobTransaction& txn, std::string sync_id, size_t page_rows = 1000);

  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) override;
  Status apply(const std::vector<PlannedChange>& changes) override;
  // Records the audit of every applied batch under `job_id`; `mapper` (the sync's) names the
  // columns and must outlive this baseline.
  void audit_job(std::string job_id, const FieldMapper& mapper);
  // Written in the job's transaction, which the runner commits in on_progress.
  bool commits_with_progress() const override { return true; }

 private:
  Status write_audit(const std::vector<PlannedChange>& changes);

  JobTransaction& txn_;
  std::string sync_id_;
  size_t page_rows_;
  std::string audit_job_id_;
  std::optional<AuditBuilder> audit_;
  std::optional<bool> audit_enabled_;  // the sync's audit option, read at the first batch
};

}  // namespace dbsync::daemon
