// The HTTP side's one way to reach the master: a bounded pool of pg::PgConnection (the runner's
// libpq type: non-blocking connect and statements), and the statements of the catalog layer
// (daemon/catalog/*.hpp), which return DbResult: a value, or the failure with its SQLSTATE so
// the API can answer 404 / 409 / 422 the way the SQL API decided (daemon/http/api_error.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"

namespace dbsync::daemon::catalog {

// A failed statement: the server's SQLSTATE and texts; "08..." for a connection problem,
// "53300" when the pool had no free connection.
using DbFailure = pg::PgFailure;

// "08..." connection errors: the master is the problem, not the request.
inline bool is_connection_failure(const DbFailure& f) { return f.sqlstate.rfind("08", 0) == 0; }

// T or the failure.
template <typename T>
class [[nodiscard]] DbResult {
 public:
  DbResult(T v) : v_(std::move(v)) {}          // NOLINT(google-explicit-constructor)
  DbResult(DbFailure f) : v_(std::move(f)) {}  // NOLINT(google-explicit-constructor)
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& value() const& { return std::get<T>(v_); }
  const DbFailure& failure() const { return std::get<DbFailure>(v_); }

 private:
  std::variant<T, DbFailure> v_;
};

// A statement that returns nothing worth keeping.
struct Done {};
using DbStatus = DbResult<Done>;

// nullopt for SQL NULL.
using DbParam = std::optional<std::string>;

class Pool;

// A connection of the pool for one user (a request, the event hub); back to the pool when
// destroyed (dropped when broken or left inside a transaction).
class Connection {
 public:
  Connection(Pool& pool, pg::PgConnection conn) : pool_(&pool), conn_(std::move(conn)) {}
  Connection(Connection&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)) {}
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  pg::PgConnection& pg() { return conn_; }

 private:
  Pool* pool_;
  pg::PgConnection conn_;
};

class Pool {
 public:
  Pool(std::string conninfo, int max_connections);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection (waits up to `wait` for a free one, in arrival order).
  DbResult<Connection> acquire(std::chrono::milliseconds wait = std::chrono::seconds(5));

 private:
  friend class Connection;
  void release(pg::PgConnection conn);

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

// ---- statements (the catalog files' building blocks)

// One statement with $1.. parameters (text format); its rows.
DbResult<pg::PgResult> run(pg::PgConnection& db, std::string_view sql,
                           const std::vector<DbParam>& params = {});
// A statement whose rows do not matter.
DbStatus exec(pg::PgConnection& db, std::string_view sql, const std::vector<DbParam>& params = {});
// The rows of one jsonb column, parsed (SQL NULL: null).
DbResult<nlohmann::json> json_rows(pg::PgConnection& db, std::string_view sql,
                                   const std::vector<DbParam>& params = {});
// The first row of one jsonb column, nullopt when there is none.
DbResult<std::optional<nlohmann::json>> json_row(pg::PgConnection& db, std::string_view sql,
                                                 const std::vector<DbParam>& params = {});

// A jsonb (or json) column's text, parsed.
nlohmann::json parse_json(std::string_view text);

inline DbParam id_param(std::optional<long long> id) {
  return id ? DbParam(std::to_string(*id)) : std::nullopt;
}

// BEGIN now; ROLLBACK when it goes out of scope uncommitted (any early return).
class Transaction {
 public:
  explicit Transaction(pg::PgConnection& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  // BEGIN's failure, when it failed (then commit() answers it too).
  const std::optional<DbFailure>& begin_failure() const { return begin_failed_; }
  // The failure of BEGIN, else COMMIT's.
  DbStatus commit();

 private:
  pg::PgConnection& db_;
  std::optional<DbFailure> begin_failed_;
  bool done_ = false;
};

}  // namespace dbsync::daemon::catalog
