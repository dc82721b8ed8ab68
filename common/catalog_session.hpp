// A session on the master's catalog as both executors reach it: the extension's over SPI
// (extension/src/pg/spi_catalog_session.*) and dbsyncd's over libpq (common/pq_catalog_
// session.*). The job lifecycle (common/job_catalog.*) is written once against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.hpp"

namespace dbsync {

// A bound parameter: text (the statement casts it: $1::bigint), raw bytes for a bytea
// parameter, or NULL.
struct SqlParam {
  std::optional<std::string> value;
  bool bytes = false;

  static SqlParam text(std::string s) { return {std::move(s), false}; }
  static SqlParam number(int64_t v) { return {std::to_string(v), false}; }
  static SqlParam bytea(std::string raw) { return {std::move(raw), true}; }
  static SqlParam null() { return {std::nullopt, false}; }
};

// Rows as text (PostgreSQL's output forms; NULL as nullopt). The catalog's statements return no
// bytea: they encode it (pg_catalog.encode(..., 'hex')), so both sessions read it the same way.
struct CatalogRows {
  std::vector<std::vector<std::optional<std::string>>> rows;

  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const std::optional<std::string>& at(size_t row, size_t col) const { return rows[row][col]; }
  // The value, or "" for NULL.
  std::string text(size_t row, size_t col) const { return rows[row][col].value_or(std::string()); }
};

class CatalogSession {
 public:
  virtual ~CatalogSession() = default;
  // Runs one statement (schema-qualified SQL, as in common/catalog_sql.hpp). `kept`: a statement
  // run again and again (once per batch): the session may keep it prepared. A failure is a
  // Status; the SPI session throws a PostgreSQL ERROR as the extension's code does everywhere
  // (its caller's guard handles it).
  virtual Result<CatalogRows> run(std::string_view sql, const std::vector<SqlParam>& params,
                                  bool kept = false) = 0;
};

}  // namespace dbsync
