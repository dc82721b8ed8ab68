// The master transaction of a running job: the catalog writes of one batch (the baseline, the
// stage, the job's progress and checkpoint, and a local target's rows) commit together, as the
// extension's executor commits them after each batch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "common/catalog_session.hpp"
#include "engine/status.hpp"

namespace dbsync::daemon {

// Over one connection to the master, opened lazily: every statement runs inside a transaction
// (BEGIN when none is open); commit() ends it. The transaction state is libpq's own, so a
// statement that commits by itself (a local target's apply on the same connection) is seen.
// Server notices (e.g. "there is already a transaction in progress") are dropped: the daemon's
// log is JSON lines. As a CatalogSession (the job lifecycle, common/job_catalog.hpp) it runs
// the catalog's statements in that transaction too.
class JobTransaction final : public CatalogSession {
 public:
  explicit JobTransaction(pg::PgConnection& conn);

  Result<CatalogRows> run(std::string_view sql, const std::vector<SqlParam>& params,
                          bool kept = false) override;
  Status read_bytes(std::string_view sql, const std::vector<SqlParam>& params, BytesPage& out,
                    bool kept = false) override;

  Result<pg::PgResult> query(std::string_view sql, const std::vector<pg::PgParam>& params = {},
                             bool binary_result = false);
  Status begin();
  Status commit();
  void rollback();  // quietly; nothing open is fine
  bool open() const;
  pg::PgConnection& connection() { return conn_; }

 private:
  pg::PgConnection& conn_;
};

// search_path = pg_catalog, pg_temp on a connection that runs only catalog statements (a job's
// own, the heartbeat's), as the HTTP pool sets it (daemon/db.cpp): a hostile search_path cannot
// redirect the catalog's statements. Not for a connection that resolves a sync's table names
// (the runner's, which checks the sync's tables; a local target's).
Status use_catalog_search_path(pg::PgConnection& conn);

}  // namespace dbsync::daemon
