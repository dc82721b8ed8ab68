// libpq for processes (the daemon, the tools) and for backends of the extension alike: an RAII
// connection, RAII results, bound parameters, COPY in and out, and the one identifier-quoting
// routine for PostgreSQL. Values never reach SQL text: they are bound or COPY-escaped.
//
// libpq is always driven non-blocking (PQconnectPoll, PQsendQueryParams + PQflush,
// PQconsumeInput/PQisBusy, PQputCopyData in non-blocking mode, PQgetCopyData async) and every
// wait goes through one process-wide SocketWait hook: poll(2) by default; a PostgreSQL backend
// installs a hook that also waits on its latch and serves interrupts, which it reports by
// throwing. So all code here is exception-safe: results and connections are RAII objects.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

struct pg_conn;
struct pg_result;

namespace dbsync::pg {

// "name" -> "\"name\"", doubling any embedded double quote (PostgreSQL rules: always quoted,
// so case and reserved words survive).
std::string quote_ident(std::string_view name);

// A table name as a user writes it: `products`, `public.products`, `"Odd ""name"""`,
// `sales."Q1"`. Unquoted parts fold to lower case, as PostgreSQL does.
struct QualifiedName {
  std::string schema;  // empty: resolved through search_path
  std::string name;

  static Result<QualifiedName> parse(std::string_view text);
  std::string quoted() const;   // "schema"."name" or "name"
  std::string display() const;  // for messages: schema.name
};

// One query parameter: text (the server parses it as the expected type), binary (raw bytes,
// for bytea and arrays), or NULL.
struct PgParam {
  std::string data;
  bool is_null = false;
  bool is_binary = false;

  static PgParam text(std::string s) { return {std::move(s), false, false}; }
  static PgParam binary(std::string s) { return {std::move(s), false, true}; }
  static PgParam null() { return {{}, true, false}; }
};

// Waits until `fd` is readable (for_read) or writable (for_write) — either is enough — or until
// `deadline_ms` (steady_clock_ms(); negative: no deadline). Ok when the socket may be ready (a
// spurious wake-up is allowed), kUnavailable on timeout. A hook may throw to abandon the wait
// (a backend's cancel): callers unwind through RAII.
using SocketWait = Status (*)(int fd, bool for_read, bool for_write, int64_t deadline_ms);

// The process-wide wait; nullptr restores the poll(2) default. Returns the previous hook.
SocketWait set_socket_wait(SocketWait wait);
Status poll_socket_wait(int fd, bool for_read, bool for_write, int64_t deadline_ms);
// Milliseconds on the steady clock (the clock of deadlines).
int64_t steady_clock_ms();

struct ConnectOptions {
  int timeout_ms = 10000;  // the whole connection attempt
  // Refuse a conninfo without a password, and a connection the server let in without asking
  // for it (dblink's rules for connections made on behalf of roles that are not superusers:
  // otherwise such a role could reach a server that trusts this host, or use the process's
  // .pgpass, as any user).
  bool require_password = false;
};

// What a server in front of a datasource keeps of a session between transactions: all of it
// (a server, or a pooler in session mode), or nothing (a transaction-pooling proxy such as
// PgBouncer in transaction mode: no session state outlives a transaction).
enum class PoolerMode { kSession, kTransaction };

// How to reach the servers of one datasource kind: the connection options and what the kind
// says about the server in front. dbsyncd's end registry builds one from a datasource's row and
// kind; PgTable keeps it for every connection it makes (its own and each scan's). Today every
// kind connects the same way (the pooler mode is filled in by the Supabase/Neon profiles).
struct ConnectionProfile {
  std::string kind = "postgres";  // the datasource kind (engine/datasource_kinds.hpp)
  ConnectOptions connect;
  PoolerMode pooler_mode = PoolerMode::kSession;
};

// The fields of the last failed statement on a connection (PgConnection::last_failure): what a
// caller needs to answer by SQLSTATE (the daemon's API: 404, 409, 422...). A lost or broken
// connection is sqlstate "08006" with libpq's message (the password never appears).
struct PgFailure {
  std::string sqlstate;
  std::string message;  // the primary message, without the detail
  std::string detail;
  std::string hint;
};

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  int cols() const;
  bool is_null(int row, int col) const;
  std::string_view get(int row, int col) const;  // text, or raw bytes for binary results
  int64_t affected() const;                      // rows touched by INSERT/UPDATE/DELETE

 private:
  pg_result* r_ = nullptr;
};

class PgConnection {
 public:
  // `conninfo` is "host=... dbname=..." or a postgres:// URL; empty means libpq's defaults
  // (PGHOST, PGPORT, PGUSER, PGDATABASE...). A failure is kUnavailable (kInvalidArgument for a
  // malformed conninfo) and its message never contains the password.
  // `server_message`, when given, receives on a failure to connect libpq's own message (password
  // masked), without the "cannot connect to ..." context.
  static Result<PgConnection> connect(const std::string& conninfo, const ConnectOptions& options,
                                      std::string* server_message = nullptr);
  static Result<PgConnection> connect(const std::string& conninfo,
                                      int connect_timeout_seconds = 10) {
    return connect(conninfo, ConnectOptions{connect_timeout_seconds * 1000, false});
  }

  PgConnection() = default;
  PgConnection(PgConnection&& o) noexcept
      : conn_(o.conn_), where_(std::move(o.where_)), failure_(std::move(o.failure_)) {
    o.conn_ = nullptr;
  }
  PgConnection& operator=(PgConnection&& o) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  bool is_open() const { return conn_ != nullptr; }
  // host:port/dbname, for messages.
  const std::string& where() const { return where_; }

  // A statement without parameters or rows to return (may hold several statements).
  Status exec(std::string_view sql);
  // A statement with bound parameters ($1, $2...). `binary_result`: every column comes back in
  // binary format (raw bytes for bytea).
  Result<PgResult> query(std::string_view sql, const std::vector<PgParam>& params = {},
                         bool binary_result = false);
  // query() in two halves, so the server works on a statement while the caller does something
  // else: send() returns once the statement is on its way; receive() waits for its result.
  // Nothing else may run on the connection in between.
  Status send(std::string_view sql, const std::vector<PgParam>& params = {},
              bool binary_result = false);
  Result<PgResult> receive();
  // Reads whatever has arrived for a sent statement, without waiting: called now and then
  // while a result is pending, so the server is never held up by a full socket buffer.
  Status absorb();

  // COPY ... FROM STDIN with `data` already in the COPY text format.
  Status copy_in(std::string_view copy_sql, std::string_view data);
  // copy_in() in two halves: copy_in_send() starts the COPY and queues all of `data` (sending
  // what the socket takes without waiting); pump() sends more of it now and then;
  // copy_in_receive() sends the rest and waits for the COPY's result.
  // `copy_sql` may be a script in the simple protocol that holds one COPY FROM STDIN, with
  // statements before it (their results come first: the last row set is kept in `prelude`) and
  // after it (run once the data ends; copy_in_receive() returns the first error of any): a
  // batch's BEGIN, COPY and COMMIT in one round trip. With `end` false the COPY is left open
  // for copy_in_end(): what follows it in the script runs only then.
  Status copy_in_send(std::string_view copy_sql, std::string_view data, PgResult* prelude = nullptr,
                      bool end = true);
  // Ends the data of a COPY FROM STDIN; with `failure`, fails the COPY with that message
  // (the statements after it in the script are skipped; the transaction is aborted).
  Status copy_in_end(const char* failure = nullptr);
  Status copy_in_receive();
  Status pump();
  // COPY ... TO STDOUT: calls `line` with each data row (text format, without the newline).
  Status copy_out(std::string_view copy_sql, const std::function<Status(std::string_view)>& line);

  // Why the last statement failed, read right after a failed call: the server's error fields,
  // or sqlstate "08006" for a connection problem ("XX000" when the server gave none). Cleared
  // when exec() or send()/query() starts a statement; empty sqlstate: no such failure (e.g.
  // "not connected", or a failure of the caller's own making).
  const PgFailure& last_failure() const { return failure_; }

  // Rolls back an open transaction, ignoring errors (used on failure paths).
  void rollback_quietly();
  // A transaction is open (libpq's view: in one, or in one that failed).
  bool in_transaction() const;

  pg_conn* raw() const { return conn_; }

 private:
  Status result_status(pg_result* r, int expected) const;
  Status connection_error(std::string_view what) const;
  // Waits for the socket (no deadline: queries are bounded by the caller's own timeouts).
  Status wait(bool for_read, bool for_write);
  Status flush();
  // Reads until a result is ready; then PQgetResult does not block.
  Status await_result();
  // Collects the remaining results of a command: the first failure (or unexpected status), and
  // the last result when `keep` is given.
  Status drain(int expected, PgResult* keep);

  pg_conn* conn_ = nullptr;
  std::string where_;
  mutable PgFailure
      failure_;  // set where a failed Status is made (result_status, connection_error)
};

}  // namespace dbsync::pg
