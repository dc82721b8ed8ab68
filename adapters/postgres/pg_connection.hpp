// libpq for a normal process (the daemon and the tools), never inside a backend: an RAII
// connection, RAII results, bound parameters, COPY in and out, and the one identifier-quoting
// routine for PostgreSQL. Values never reach SQL text: they are bound or COPY-escaped.
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
  static Result<PgConnection> connect(const std::string& conninfo,
                                      int connect_timeout_seconds = 10);

  PgConnection() = default;
  PgConnection(PgConnection&& o) noexcept : conn_(o.conn_), where_(std::move(o.where_)) {
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

  // COPY ... FROM STDIN with `data` already in the COPY text format.
  Status copy_in(std::string_view copy_sql, std::string_view data);
  // COPY ... TO STDOUT: calls `line` with each data row (text format, without the newline).
  Status copy_out(std::string_view copy_sql, const std::function<Status(std::string_view)>& line);

  // Rolls back an open transaction, ignoring errors (used on failure paths).
  void rollback_quietly();

  pg_conn* raw() const { return conn_; }

 private:
  Status result_status(pg_result* r, int expected) const;
  Status connection_error(std::string_view what) const;

  pg_conn* conn_ = nullptr;
  std::string where_;
};

}  // namespace dbsync::pg
