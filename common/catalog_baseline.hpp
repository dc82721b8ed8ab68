// A sync's baseline in the master's catalog, dbsync.sync_state (sync_id, key, state), for both
// executors over their CatalogSession: read as an engine Baseline (entries in key order, in
// keyset pages) and written batch by batch in the job's transaction, so a job begun by one
// executor continues in the other.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/catalog_session.hpp"
#include "engine/audit.hpp"
#include "engine/endpoints.hpp"

namespace dbsync {

// Keys are stored as encode_sortable_key bytes, so bytea order is key order: a page is
// `... WHERE sync_id = $1 AND key > $2 ORDER BY sync_id, key LIMIT n` (the primary key's order)
// after the previous page's last key, and a KeyRange's ends become encoded bounds; pages are
// kept statements (planned once per scan shape). A stored entry that does not decode is a
// Status.
//
// apply() writes a batch with at most three statements, inside the session's transaction
// (nothing here commits): the keys new to the baseline in bulk where the session can
// (CatalogSession::bulk_insert_baseline) or as a plain INSERT of bytea[] arrays, an upsert of
// the other kSet entries and a delete of the kErase keys (the last operation per key wins).
//
// With audit_job() (a job's run or commit), apply() also records what the batch applied to
// the target and the source in dbsync.audit (engine/audit.hpp; one kept statement per side),
// in the same transaction: an audit is committed exactly when its batch's baseline and
// checkpoint are. Nothing is recorded when the sync has audit = false.
class CatalogBaseline : public Baseline {
 public:
  // `session` must outlive the baseline and its readers.
  CatalogBaseline(CatalogSession& session, std::string sync_id, size_t page_rows = 1000);

  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) override;
  Status apply(const std::vector<PlannedChange>& changes) override;
  // Records the audit of every applied batch under `job_id`; `mapper` (the sync's) names the
  // columns and must outlive this baseline.
  void audit_job(std::string job_id, const FieldMapper& mapper);
  // Written in the job's transaction, which the job runner commits in on_progress.
  bool commits_with_progress() const override { return true; }

 private:
  Status write_audit(const std::vector<PlannedChange>& changes);

  CatalogSession& session_;
  std::string sync_id_;
  size_t page_rows_;
  std::string audit_job_id_;
  std::optional<AuditBuilder> audit_;
  std::optional<bool> audit_enabled_;  // the sync's audit option, read at the first batch
};

}  // namespace dbsync
