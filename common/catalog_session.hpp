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
// parameter, NULL, or a one-dimensional array for set-based statements: text[] (NULL elements
// allowed) or bytea[] (the statement casts it: $2::pg_catalog.bytea[]). A bytea[] refers to the
// caller's vector (a baseline batch's keys are not copied), which must outlive the statement.
struct SqlParam {
  enum class Kind { kText, kBytea, kTextArray, kByteaArray };
  Kind kind = Kind::kText;
  std::optional<std::string> value;                       // kText, kBytea
  std::vector<std::optional<std::string>> items;          // kTextArray
  const std::vector<std::string>* bytes_items = nullptr;  // kByteaArray

  static SqlParam text(std::string s) { return {Kind::kText, std::move(s), {}, nullptr}; }
  static SqlParam number(int64_t v) { return {Kind::kText, std::to_string(v), {}, nullptr}; }
  static SqlParam bytea(std::string raw) { return {Kind::kBytea, std::move(raw), {}, nullptr}; }
  static SqlParam null() { return {Kind::kText, std::nullopt, {}, nullptr}; }
  static SqlParam text_array(std::vector<std::optional<std::string>> items) {
    return {Kind::kTextArray, std::nullopt, std::move(items), nullptr};
  }
  static SqlParam bytea_array(const std::vector<std::string>& raw) {
    return {Kind::kByteaArray, std::nullopt, {}, &raw};
  }
  bool is_array() const { return kind == Kind::kTextArray || kind == Kind::kByteaArray; }
};

// Rows whose columns are all bytea, as raw bytes in one buffer reused between pages (no
// allocation per value): a keyset page of the baseline.
struct BytesPage {
  std::string data;
  std::vector<std::pair<size_t, size_t>> cells;  // per row and column: offset, length
  std::vector<bool> nulls;
  size_t ncols = 0;
  size_t size() const { return ncols ? cells.size() / ncols : 0; }
  bool empty() const { return cells.empty(); }
  bool is_null(size_t row, size_t col) const { return nulls[row * ncols + col]; }
  std::string_view at(size_t row, size_t col) const {
    const auto& [off, len] = cells[row * ncols + col];
    return std::string_view(data).substr(off, len);
  }
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
  // A statement whose columns are all bytea, its rows into `out` (cleared first); `kept` as
  // above (a scan's page query).
  virtual Status read_bytes(std::string_view sql, const std::vector<SqlParam>& params,
                            BytesPage& out, bool kept = false) = 0;
  // The baseline entries new to sync `sync_id` written in bulk where the session has a way
  // faster than SQL (the extension's: as COPY writes rows, pg/bulk_insert.hpp). False, having
  // written nothing: the caller inserts them with SQL.
  virtual bool bulk_insert_baseline(int64_t sync_id, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& states) {
    (void)sync_id, (void)keys, (void)states;
    return false;
  }
};

}  // namespace dbsync
