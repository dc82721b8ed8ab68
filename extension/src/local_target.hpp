// A table of the master as an engine Target: read like a LocalSource, written through SPI inside
// the caller's transaction (the job runner commits it after each batch, or aborts it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/endpoints.hpp"
#include "extension/src/local_source.hpp"
#include "extension/src/pg/local_table.hpp"

namespace dbsync::ext {

// apply() writes a batch with a handful of set-based statements whatever its size, the values
// bound as text[] arrays (one per column, unnest-ed and cast to the columns' types), never
// spliced into SQL and never one statement per row. It keeps the write contract of
// engine/endpoints.hpp: updates, deletes and soft deletes apply only to the row version the job
// read (xmin = ChangeBatch::Item::expect_fp; partitioned tables have no fingerprint and are
// written by key), inserts only to keys that do not exist; the items left are in skipped(). In
// order (as the libpq PgTable does):
//  1. deletes (a deleted row may hold a unique value an inserted row takes over);
//  2. soft deletes: the soft-delete column set to ChangeBatch::soft_delete_value;
//  3. updates of ChangeBatch::columns (not the key);
//  4. restores: the soft-delete column set back to soft_restore_value (rows updated in 3);
//  5. inserts: INSERT ... ON CONFLICT (key) DO NOTHING (or WHERE NOT EXISTS when the only
//     unique index covers part of the key); an existing row with the same values (a staged
//     batch applied again after a crash) counts as written.
// Values are cast to the column's type without its modifier (LocalTable::base_types), so the
// column's own assignment checks lengths as a plain INSERT does: char(n), bit(n) and numeric(p,s)
// values arrive whole.
// A target that is not a table with a unique index on the key columns is refused (a Status
// kInvalidArgument naming it), before anything is written. A failing statement (a constraint
// violation...) raises a PostgresError for the caller's guard; a Status error after some
// statements ran leaves them in the transaction, which the caller aborts. Nothing here commits,
// rolls back or keeps SPI state between calls; call inside an spi::session.
class LocalTarget final : public Target {
 public:
  // The table must outlive the target and its readers. `filter` applies to scans only.
  explicit LocalTarget(const pg::LocalTable& table,
                       std::optional<std::string> filter = std::nullopt);

  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) override;
  Result<int64_t> estimate_rows() override;
  Status apply(const ChangeBatch& batch) override;
  // The id of the transaction that wrote the last batch (the rows' xmin); 0 when unknown.
  uint64_t written_fingerprint() const override { return written_fp_; }

 private:
  Status apply_batch(const ChangeBatch& batch);
  uint64_t written_fp_ = 0;
  const pg::LocalTable& table_;
  LocalSource reader_;
};

}  // namespace dbsync::ext
