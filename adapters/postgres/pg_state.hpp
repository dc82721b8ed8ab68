// The baseline (sync_state) and the table stage in PostgreSQL tables of a given schema
// (created when missing). Keys are stored as encode_sortable_key bytes, so ORDER BY key on the
// bytea is the engine's key order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_state_sql.hpp"
#include "engine/endpoints.hpp"

namespace dbsync::pg {

class PgBaseline : public Baseline {
 public:
  // `conn` must outlive the baseline; it is used for nothing else while a call runs.
  static Result<std::unique_ptr<PgBaseline>> open(PgConnection& conn, const std::string& schema,
                                                  std::string sync_name, size_t page_size = 1000);

  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) override;
  Status apply(const std::vector<PlannedChange>& changes) override;
  // Forgets every key of this sync (a full resync).
  Status clear();

 private:
  PgBaseline(PgConnection& conn, const std::string& schema, std::string name, size_t page)
      : conn_(conn), sql_(schema), sync_name_(std::move(name)), page_size_(page) {}

  PgConnection& conn_;
  StateSql sql_;
  std::string sync_name_;
  size_t page_size_;
};

class PgStage : public Stage {
 public:
  static Result<std::unique_ptr<PgStage>> open(PgConnection& conn, const std::string& schema,
                                               std::string job);

  Status put_changes(const std::vector<PlannedChange>& changes) override;
  Status put_conflicts(const std::vector<ConflictRecord>& conflicts) override;
  Result<int64_t> pending_conflicts() override;
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override;
  Status clear() override;

  // For whoever decides conflicts: the job's conflicts with their ids and status.
  struct StoredConflict {
    int64_t id = 0;
    std::string status;
    ConflictRecord conflict;
  };
  Result<std::vector<StoredConflict>> list_conflicts();
  Status set_conflict_status(int64_t id, const std::string& status);  // resolved, skipped, ...

 private:
  PgStage(PgConnection& conn, const std::string& schema, std::string job)
      : conn_(conn), sql_(schema), job_(std::move(job)) {}

  PgConnection& conn_;
  StateSql sql_;
  std::string job_;
};

}  // namespace dbsync::pg
