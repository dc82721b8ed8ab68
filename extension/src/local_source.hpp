// A table (or view) of the master as an engine Source: the rows of its projected columns in key
// order, in keyset pages. Used for both ends of a local -> local sync.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/endpoints.hpp"
#include "extension/src/pg/local_table.hpp"

namespace dbsync::ext {

// Each page is one SPI query, `... WHERE (k1, k2) > ($1, $2) ORDER BY k1, k2 LIMIT n` with
// ScanRequest::batch_hint rows and the previous page's last key bound as parameters, so memory
// holds one page whatever the table's size (never OFFSET). The page queries are prepared once
// per scan and kept (they survive the commits a job makes between batches), and freed when the
// scan ends or its reader is destroyed; rows are read from their Datums (spi::run_values). Text
// keys are compared and ordered COLLATE "C": byte order, the engine's. A key column holding NULL
// fails the scan (a NULL cannot be placed in the key order a keyset page continues from).
// Without a filter, a page of a table is read straight from a btree index on the key instead
// (pg::index_scan: no SPI, no executor, no tuple copies) when the index gives exactly the same
// rows in the same order; the GUC dbsync.direct_scan (off / on / require) is for tests.
//
// Readers run inside the caller's SPI session and must not outlive it. Errors from PostgreSQL
// (and our own SQL-level PgErrors) are thrown for the caller's guard; a value the engine cannot
// represent comes back as a Status naming the column; that row is consumed, so a caller that
// tolerates bad rows (preview) may call next() again for the following one.
class LocalSource final : public Source {
 public:
  // `filter`: a boolean SQL condition on the table's columns (a sync's filter), or none. The
  // table must outlive the source and its readers.
  explicit LocalSource(const pg::LocalTable& table,
                       std::optional<std::string> filter = std::nullopt);

  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) override;
  // pg_class.reltuples; -1 when the table was never analysed or is a view.
  Result<int64_t> estimate_rows() override;

 private:
  const pg::LocalTable& table_;
  std::optional<std::string> filter_;
};

}  // namespace dbsync::ext
