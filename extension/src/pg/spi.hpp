// SPI for the extension's own queries on the master: sessions that always end, parameterised
// queries (values are bound, never spliced into SQL text), results copied out as C++ strings,
// and a safe search_path for catalog work.
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

#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"
#include "extension/src/pg/guard.hpp"

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

// Runs one SQL statement with bound text parameters (inside a session); at most `limit` rows
// (0: all). Returns the rows as text.
Rows execute(const std::string& sql, const std::vector<Param>& params = {}, long limit = 0);

// Checks that `sql` parses and analyses as exactly one statement, without running it (used for
// user-given SQL fragments such as a sync's filter).
void check_single_statement(const std::string& sql);

// A row of text output as engine values of the given types (one per column). An error names
// the column.
Status to_values(const std::vector<std::optional<std::string>>& text_row,
                 const std::vector<const Column*>& columns, Row& out);

}  // namespace dbsync::pg::spi
