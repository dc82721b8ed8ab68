#include "daemon/catalog/db.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>

namespace dbsync::daemon::catalog {

Connection::~Connection() {
  if (pool_) pool_->release(std::move(conn_));
}

Pool::Pool(std::string conninfo, int max_connections)
    : conninfo_(std::move(conninfo)), max_(max_connections) {}

DbResult<Connection> Pool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  if (!cv_.wait_for(lock, wait, [&] {
        return waiting_.front() == ticket && (!idle_.empty() || open_ < max_);
      })) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    cv_.notify_all();  // the next in line may be the one that can go now
    return DbFailure{"53300",
                     "no free connection to the master (all " + std::to_string(max_) + " busy)", "",
                     ""};
  }
  waiting_.pop_front();
  cv_.notify_all();  // the next in line may go too, when more than one connection is free
  while (!idle_.empty()) {
    pg::PgConnection c = std::move(idle_.back());
    idle_.pop_back();
    // An idle connection has nothing to read unless the server closed it (a restart, an
    // administrator's pg_terminate_backend): drop such a one and take another or a new one.
    pollfd p{PQsocket(c.raw()), POLLIN, 0};
    if (p.fd >= 0 && ::poll(&p, 1, 0) == 0) return Connection(*this, std::move(c));
    --open_;
  }
  ++open_;
  lock.unlock();
  auto conn = pg::PgConnection::connect(conninfo_, pg::ConnectOptions{10000, false});
  DbFailure failed;
  if (conn.is_ok()) {
    Status st = conn->exec(
        "SET application_name = 'dbsyncd'; SET statement_timeout = '60s'; "
        "SET search_path = pg_catalog, pg_temp");
    if (st.is_ok()) return Connection(*this, std::move(conn).value());
    failed = {"08006", st.message(), "", ""};
  } else {
    failed = {"08001", conn.status().message(), "", ""};  // masked by PgConnection
  }
  lock.lock();
  --open_;
  cv_.notify_all();
  return failed;
}

void Pool::release(pg::PgConnection conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn.is_open() && !is_connection_failure(conn.last_failure()) &&
      PQstatus(conn.raw()) == CONNECTION_OK && PQtransactionStatus(conn.raw()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_all();
}

namespace {

DbFailure failure_of(const pg::PgConnection& db, const Status& st) {
  DbFailure f = db.last_failure();
  if (f.sqlstate.empty())
    f = {st.code() == ErrorCode::kUnavailable ? "08006" : "XX000", st.message(), "", ""};
  if (f.message.empty()) f.message = "the statement failed";
  return f;
}

}  // namespace

nlohmann::json parse_json(std::string_view text) {
  return nlohmann::json::parse(text.begin(), text.end());
}

DbResult<pg::PgResult> run(pg::PgConnection& db, std::string_view sql,
                           const std::vector<DbParam>& params) {
  std::vector<pg::PgParam> bound;
  bound.reserve(params.size());
  for (const DbParam& p : params) bound.push_back(p ? pg::PgParam::text(*p) : pg::PgParam::null());
  Result<pg::PgResult> r = db.query(sql, bound);
  if (!r.is_ok()) return failure_of(db, r.status());
  return std::move(r).value();
}

DbStatus exec(pg::PgConnection& db, std::string_view sql, const std::vector<DbParam>& params) {
  auto r = run(db, sql, params);
  if (!r.is_ok()) return r.failure();
  return Done{};
}

DbResult<nlohmann::json> json_rows(pg::PgConnection& db, std::string_view sql,
                                   const std::vector<DbParam>& params) {
  auto r = run(db, sql, params);
  if (!r.is_ok()) return r.failure();
  nlohmann::json out = nlohmann::json::array();
  const pg::PgResult& rows = r.value();
  for (int i = 0; i < rows.rows(); ++i)
    out.push_back(rows.is_null(i, 0) ? nlohmann::json(nullptr) : parse_json(rows.get(i, 0)));
  return out;
}

DbResult<std::optional<nlohmann::json>> json_row(pg::PgConnection& db, std::string_view sql,
                                                 const std::vector<DbParam>& params) {
  auto r = json_rows(db, sql, params);
  if (!r.is_ok()) return r.failure();
  if (r.value().empty()) return std::optional<nlohmann::json>{};
  return std::optional<nlohmann::json>{std::move(r.value()[0])};
}

Transaction::Transaction(pg::PgConnection& db) : db_(db) {
  if (auto r = exec(db_, "BEGIN"); !r.is_ok()) begin_failed_ = r.failure();
}

Transaction::~Transaction() {
  if (!begin_failed_ && !done_) (void)exec(db_, "ROLLBACK");
}

DbStatus Transaction::commit() {
  if (begin_failed_) return *begin_failed_;
  done_ = true;
  return exec(db_, "COMMIT");
}

}  // namespace dbsync::daemon::catalog
