// The daemon's access to the master: a bounded pool of libpq connections (PgConnection:
// non-blocking connect), and statements with bound parameters whose failures keep their
// SQLSTATE, so the API can answer 404 / 409 / 422 the way the SQL API decided.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"

struct pg_result;

namespace dbsync::daemon {

// A failed statement: the server's SQLSTATE and texts, or a connection problem (sqlstate
// "08006" and the libpq message).
struct DbError {
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};

class DbRows {
 public:
  DbRows() = default;
  explicit DbRows(pg_result* r) : r_(r, &clear) {}
  int rows() const;
  bool is_null(int row, int col) const;
  std::string get(int row, int col) const;

 private:
  static void clear(pg_result* r);
  std::shared_ptr<pg_result> r_;
};

// nullopt for SQL NULL.
using DbParam = std::optional<std::string>;

class DbSession;

class Db {
 public:
  Db(std::string conninfo, int max_connections);
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // A connection for one request (waits up to `wait` for a free one). nullptr + error: none.
  std::unique_ptr<DbSession> acquire(DbError& err,
                                     std::chrono::milliseconds wait = std::chrono::seconds(5));

 private:
  friend class DbSession;
  void release(pg::PgConnection conn, bool healthy);

  std::string conninfo_;
  int max_;
  int open_ = 0;
  std::vector<pg::PgConnection> idle_;
  // Requests waiting for a connection, served in arrival order (a condition variable alone
  // wakes an arbitrary waiter, so under load some requests could wait far longer than others).
  std::deque<uint64_t> waiting_;
  uint64_t next_ticket_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

class DbSession {
 public:
  DbSession(Db& db, pg::PgConnection conn) : db_(db), conn_(std::move(conn)) {}
  ~DbSession();
  DbSession(const DbSession&) = delete;
  DbSession& operator=(const DbSession&) = delete;

  // One statement with $1.. parameters (text format). Waits at most the statement timeout
  // the session was given (SET statement_timeout at connect).
  bool query(const std::string& sql, const std::vector<DbParam>& params, DbRows& out, DbError& err);

 private:
  Db& db_;
  pg::PgConnection conn_;
  bool healthy_ = true;
};

// "08..." connection errors and pool exhaustion: the master is the problem, not the request.
inline bool is_connection_error(const DbError& e) { return e.sqlstate.rfind("08", 0) == 0; }

}  // namespace dbsync::daemon
