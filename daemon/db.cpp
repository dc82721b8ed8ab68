#include "daemon/db.hpp"

#include <algorithm>

#include <libpq-fe.h>

#include <poll.h>

#include <cstdlib>

namespace dbsync::daemon {

void DbRows::clear(pg_result* r) { PQclear(r); }
int DbRows::rows() const { return r_ ? PQntuples(r_.get()) : 0; }
bool DbRows::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
std::string DbRows::get(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

Db::Db(std::string conninfo, int max_connections)
    : conninfo_(std::move(conninfo)), max_(max_connections) {}

std::unique_ptr<DbSession> Db::acquire(DbError& err, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  if (!cv_.wait_for(lock, wait, [&] {
        return waiting_.front() == ticket && (!idle_.empty() || open_ < max_);
      })) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    cv_.notify_all();  // the next in line may be the one that can go now
    err = {"53300", "no free connection to the master (all " + std::to_string(max_) + " busy)", "",
           ""};
    return nullptr;
  }
  waiting_.pop_front();
  cv_.notify_all();  // the next in line may go too, when more than one connection is free
  while (!idle_.empty()) {
    pg::PgConnection c = std::move(idle_.back());
    idle_.pop_back();
    // An idle connection has nothing to read unless the server closed it (a restart, an
    // administrator's pg_terminate_backend): drop such a one and take another or a new one.
    pollfd p{PQsocket(c.raw()), POLLIN, 0};
    if (p.fd >= 0 && ::poll(&p, 1, 0) == 0) return std::make_unique<DbSession>(*this, std::move(c));
    --open_;
  }
  ++open_;
  lock.unlock();
  auto conn = pg::PgConnection::connect(conninfo_, pg::ConnectOptions{10000, false});
  if (conn.is_ok()) {
    Status st = conn->exec(
        "SET application_name = 'dbsyncd'; SET statement_timeout = '60s'; "
        "SET search_path = pg_catalog, pg_temp");
    if (st.is_ok()) return std::make_unique<DbSession>(*this, std::move(conn).value());
    err = {"08006", st.message(), "", ""};
  } else {
    err = {"08001", conn.status().message(), "", ""};  // masked by PgConnection
  }
  lock.lock();
  --open_;
  cv_.notify_all();
  return nullptr;
}

void Db::release(pg::PgConnection conn, bool healthy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy && conn.is_open() && PQstatus(conn.raw()) == CONNECTION_OK &&
      PQtransactionStatus(conn.raw()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_all();
}

DbSession::~DbSession() { db_.release(std::move(conn_), healthy_); }

bool DbSession::query(const std::string& sql, const std::vector<DbParam>& params, DbRows& out,
                      DbError& err) {
  pg_conn* c = conn_.raw();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const DbParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  auto lost = [&](const std::string& what) {
    healthy_ = false;
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    err = {"08006", what + (m.empty() ? "" : ": " + m), "", ""};
    return false;
  };
  if (!PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                         nullptr, nullptr, 0))
    return lost("cannot send a statement to the master");
  // libpq is non-blocking (PgConnection set it): flush and wait on the socket with poll(2).
  for (int f = PQflush(c); f != 0; f = PQflush(c)) {
    if (f < 0) return lost("cannot send a statement to the master");
    if (!pg::poll_socket_wait(PQsocket(c), true, true, -1).is_ok() || PQconsumeInput(c) != 1)
      return lost("connection to the master lost");
  }
  PGresult* keep = nullptr;
  bool failed = false;
  for (;;) {
    while (PQisBusy(c)) {
      if (!pg::poll_socket_wait(PQsocket(c), true, false, -1).is_ok() || PQconsumeInput(c) != 1) {
        if (keep) PQclear(keep);
        return lost("connection to the master lost");
      }
    }
    PGresult* r = PQgetResult(c);
    if (!r) break;
    ExecStatusType st = PQresultStatus(r);
    if (!failed &&
        (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE)) {
      failed = true;
      auto field = [&](int code) {
        const char* v = PQresultErrorField(r, code);
        return std::string(v ? v : "");
      };
      err = {field(PG_DIAG_SQLSTATE), field(PG_DIAG_MESSAGE_PRIMARY), field(PG_DIAG_MESSAGE_DETAIL),
             field(PG_DIAG_MESSAGE_HINT)};
      if (err.sqlstate.empty()) err.sqlstate = "XX000";
      if (err.message.empty()) err.message = "the statement failed";
    }
    if (keep) PQclear(keep);
    keep = r;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    if (keep) PQclear(keep);
    return lost("connection to the master lost");
  }
  if (failed) {
    if (keep) PQclear(keep);
    return false;
  }
  out = DbRows(keep);
  return true;
}

}  // namespace dbsync::daemon
