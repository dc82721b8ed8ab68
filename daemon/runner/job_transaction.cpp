#include "daemon/runner/job_transaction.hpp"

#include <libpq-fe.h>

#include "common/pq_catalog_session.hpp"

namespace dbsync::daemon {
namespace {
void drop_notice(void*, const char*) {}
}  // namespace

JobTransaction::JobTransaction(pg::PgConnection& conn) : conn_(conn) {
  if (conn_.raw()) PQsetNoticeProcessor(conn_.raw(), drop_notice, nullptr);
}

bool JobTransaction::open() const {
  return conn_.raw() && PQtransactionStatus(conn_.raw()) != PQTRANS_IDLE;
}

Status JobTransaction::begin() {
  if (open()) return Status::ok();
  return conn_.exec("BEGIN");
}

Status JobTransaction::commit() {
  if (!open()) return Status::ok();
  Status st = conn_.exec("COMMIT");
  if (!st.is_ok()) conn_.rollback_quietly();
  return st;
}

void JobTransaction::rollback() {
  if (open()) conn_.rollback_quietly();
}

Result<pg::PgResult> JobTransaction::query(std::string_view sql,
                                           const std::vector<pg::PgParam>& params,
                                           bool binary_result) {
  DBSYNC_RETURN_IF_ERROR(begin());
  return conn_.query(sql, params, binary_result);
}

Status use_catalog_search_path(pg::PgConnection& conn) {
  return conn.exec("SET search_path = pg_catalog, pg_temp");
}

Status JobTransaction::read_bytes(std::string_view sql, const std::vector<SqlParam>& params,
                                  BytesPage& out, bool) {
  DBSYNC_RETURN_IF_ERROR(begin());
  return pq_read_bytes(conn_, sql, params, out);
}

Result<CatalogRows> JobTransaction::run(std::string_view sql, const std::vector<SqlParam>& params,
                                        bool) {
  DBSYNC_ASSIGN_OR_RETURN(pg::PgResult r, query(sql, pq_params(params)));
  return pq_rows(r);
}

}  // namespace dbsync::daemon
