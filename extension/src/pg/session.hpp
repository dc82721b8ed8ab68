// SPI for the extension's own queries on the master, for every file of the extension: this
// header includes no PostgreSQL header (PostgreSQL's types appear only as the opaque names of
// pg/declarations.hpp), so files outside extension/src/pg/ use it too. extension/src/pg/spi.hpp
// adds the Datum-level parts (pg/datum.hpp) and the guard for files in pg/.
//
// Sessions that always end, parameterised queries (values are bound, never spliced into SQL
// text), results copied out as C++ strings, and a safe search_path for catalog work.
//
// Why no RAII object calls SPI_finish: a destructor may run while an ERROR is unwinding, when
// PostgreSQL's SPI stack may be in any state. Instead session() ends the SPI connection itself:
//  - on success, and on a C++ exception thrown by our own code (an engine Status turned into a
//    PgError, bad_alloc): SPI is consistent, SPI_finish runs, the exception goes on;
//  - on a PostgresError (an ERROR raised inside PostgreSQL): SPI is left alone, because the
//    ERROR may have struck in the middle of an SPI call (or of a nested connection); the
//    transaction abort the guard raises cleans SPI up (AtEOXact_SPI).
// So a caller may catch and handle our own errors inside a session (preview does, per row) and
// never leaves SPI connected, and a PostgresError is never handled, only rethrown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/catalog_session.hpp"
#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"
#include "extension/src/pg/declarations.hpp"
#include "extension/src/pg/errors.hpp"

namespace dbsync::pg::spi {

// A bound parameter, passed as text; the query casts it ($1::bigint, $2::jsonb, $3::text[]).
using Param = std::optional<std::string>;

struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // text output; nullopt = NULL
  uint64_t processed = 0;                                     // rows returned or affected

  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const std::optional<std::string>& at(size_t row, size_t col) const { return rows[row][col]; }
  // The value, or "" for NULL.
  std::string text(size_t row, size_t col) const { return rows[row][col].value_or(std::string()); }
};

void connect();
void finish();

// Runs `body` between SPI_connect and SPI_finish (see above for why there is no destructor).
template <typename F>
auto session(F&& body) -> decltype(body()) {
  connect();
  if constexpr (std::is_void_v<decltype(body())>) {
    try {
      body();
    } catch (const PostgresError&) {
      throw;  // the transaction abort disconnects SPI
    } catch (...) {
      finish();
      throw;
    }
    finish();
  } else {
    std::optional<decltype(body())> result;
    try {
      result.emplace(body());
    } catch (const PostgresError&) {
      throw;
    } catch (...) {
      finish();
      throw;
    }
    finish();
    return std::move(*result);
  }
}

// search_path = pg_catalog, pg_temp for the duration of `body` (a hostile search_path cannot
// redirect our catalog queries to look-alike functions or operators), and text output in the
// forms the engine parses (DateStyle ISO, extra_float_digits 3, bytea hex). Restored the same way
// as a function's SET clause: at the end, on our own exceptions, or by the transaction abort.
int push_safe_search_path();
void pop_search_path(int nest_level, bool ok);

template <typename F>
auto with_safe_search_path(F&& body) -> decltype(body()) {
  int level = push_safe_search_path();
  if constexpr (std::is_void_v<decltype(body())>) {
    try {
      body();
    } catch (const PostgresError&) {
      throw;
    } catch (...) {
      pop_search_path(level, false);
      throw;
    }
    pop_search_path(level, true);
  } else {
    std::optional<decltype(body())> result;
    try {
      result.emplace(body());
    } catch (const PostgresError&) {
      throw;
    } catch (...) {
      pop_search_path(level, false);
      throw;
    }
    pop_search_path(level, true);
    return std::move(*result);
  }
}

// The current user switched to the owner of the table `schema`.`table` for the duration of
// `body`, as a SECURITY DEFINER function owned by that role would run: for reading a catalog
// column that the caller may not read (the datasources' sealed conninfo), inside code that
// otherwise keeps the caller's rights. Restored at the end and on our own exceptions; after an
// ERROR inside PostgreSQL, by the (sub)transaction abort.
struct SavedUser {
  Oid user = 0;
  int sec_context = 0;
};
SavedUser become_owner_of(const char* schema, const char* table);
void restore_user(const SavedUser& saved);

template <typename F>
auto as_owner_of(const char* schema, const char* table, F&& body) -> decltype(body()) {
  SavedUser saved = become_owner_of(schema, table);
  if constexpr (std::is_void_v<decltype(body())>) {
    try {
      body();
    } catch (const PostgresError&) {
      throw;
    } catch (...) {
      restore_user(saved);
      throw;
    }
    restore_user(saved);
  } else {
    std::optional<decltype(body())> result;
    try {
      result.emplace(body());
    } catch (const PostgresError&) {
      throw;
    } catch (...) {
      restore_user(saved);
      throw;
    }
    restore_user(saved);
    return std::move(*result);
  }
}

// Runs one SQL statement with bound text parameters (inside a session); at most `limit` rows
// (0: all). Returns the rows as text.
Rows execute(const std::string& sql, const std::vector<Param>& params = {}, long limit = 0);

// As execute() for a query whose columns are all bytea: the values are the raw bytes (no hex
// text and back), one call into PostgreSQL per row.
Rows execute_bytes(const std::string& sql, const std::vector<Param>& params = {});

// The same into one buffer reused between pages (no allocation per value): a reader's page,
// common/catalog_session.hpp's (the catalog baseline reads its pages through it).
using BytesPage = dbsync::BytesPage;
void execute_bytes_into(const std::string& sql, const std::vector<Param>& params, BytesPage& out);
class KeptPlan;
// The same with a kept plan (KeptPlan below): a statement run page after page, planned once.
void run_bytes_into(KeptPlan& plan, const std::vector<Param>& params, BytesPage& out);

// execute() under with_safe_search_path: the extension's own catalog queries.
Rows query(const std::string& sql, const std::vector<Param>& params = {});

// A parameter built as a Datum of type `type` (an array, for set-based statements).
struct TypedParam {
  Oid type = 0;  // InvalidOid
  Datum value = Datum(0);
  bool is_null = false;
};

// The types of the array parameters the extension binds (spi.cpp checks them against
// catalog/pg_type.h), for files that see no PostgreSQL header.
constexpr Oid kTextOid = 25, kTextArrayOid = 1009, kByteaOid = 17, kByteaArrayOid = 1001;

// A one-dimensional text[] (elem_type TEXTOID) or bytea[] (BYTEAOID) of `items`, nullopt as a
// NULL element, allocated in `cxt` (the current context when null). Callers build a statement's
// arrays in a context of their own and delete it after the statement, so a long session does
// not grow per batch.
Datum varlena_array(const std::vector<std::optional<std::string>>& items, Oid elem_type,
                    MemoryContext cxt = nullptr);
Datum varlena_array(const std::vector<std::string>& items, Oid elem_type,
                    MemoryContext cxt = nullptr);
// A text parameter (NULL for nullopt), allocated in `cxt`.
TypedParam text_param(const Param& value, MemoryContext cxt = nullptr);

// Runs one SQL statement with Datum parameters (inside a session); returns the rows affected
// (or returned, which are discarded).
uint64_t execute_typed(const std::string& sql, const std::vector<TypedParam>& params);
// The same, returning the rows as text.
Rows execute_typed_rows(const std::string& sql, const std::vector<TypedParam>& params);

// A memory context for one statement's parameters: created under the current context, deleted
// by delete_context (or with its parent, by the transaction abort, after an ERROR).
MemoryContext create_context(const char* name, MemoryContext parent = nullptr);
void delete_context(MemoryContext cxt);

// A statement prepared once with text parameters and kept (SPI_prepare + SPI_keepplan), so a
// scan plans its page query once, not per page. A kept plan lives in CacheMemoryContext and
// survives commits and aborts, so it must be freed explicitly: free() (end of the scan) or the
// destructor. A plan whose execution was cut off by an ERROR is not freed by the destructor (the
// aborting transaction's resource owner still holds a reference to its cached plan, and
// dropping it first would leave that reference dangling); it is remembered and freed by the
// next prepare() in the backend, when that (sub)transaction has been aborted.
class KeptPlan {
 public:
  KeptPlan() = default;
  ~KeptPlan();
  KeptPlan(const KeptPlan&) = delete;
  KeptPlan& operator=(const KeptPlan&) = delete;

  bool prepared() const { return plan_ != nullptr; }
  void prepare(const std::string& sql, int text_params);  // inside a session
  void free();

  // Executes with text parameters; the result is left in SPI_tuptable for the caller to read
  // (and free) at once. Returns SPI_processed.
  uint64_t run(const std::vector<Param>& params, long limit = 0);

 private:
  _SPI_plan* plan_ = nullptr;
  bool executing_ = false;
};

// One page of a query's rows read as engine values: rows[i] is valid when errors[i] is ok (a
// value the engine cannot represent names its column). Reused between pages.
struct ValuePage {
  std::vector<Row> rows;
  std::vector<Status> errors;
  // The first key_text_columns values of the last row as PostgreSQL prints them (they bind
  // back as exactly the same values: the next keyset page starts after them).
  std::vector<Param> last_key_text;
  // With a fingerprint column: each row's xmin (the query's last column, of type xid).
  std::vector<uint64_t> fingerprints;
  size_t size() const { return rows.size(); }
};

// Runs `plan` and converts its rows to values of `columns` types (RowConverter). Each row costs
// one call into PostgreSQL (deform, detoast, output functions).
// `fingerprint_column`: the query has one more column, last, an xid (xmin) read into
// out.fingerprints.
void run_values(KeptPlan& plan, const std::vector<Param>& params, long limit,
                const std::vector<const Column*>& columns, size_t key_text_columns, ValuePage& out,
                bool fingerprint_column = false);

// bytea as PostgreSQL prints it under with_safe_search_path (hex) and back.
std::string bytea_hex(const std::string& bytes);
Result<std::string> bytea_from_hex(const std::string& text);

// Checks that `sql` parses and analyses as exactly one statement, without running it (used for
// user-given SQL fragments such as a sync's filter).
void check_single_statement(const std::string& sql);

// A row of text output as engine values of the given types (one per column). An error names
// the column.
Status to_values(const std::vector<std::optional<std::string>>& text_row,
                 const std::vector<const Column*>& columns, Row& out);

}  // namespace dbsync::pg::spi
