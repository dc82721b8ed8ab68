// A PostgreSQL table as the engine's Source and Target: key-ordered scans through a cursor on a
// connection of their own, and batch apply through COPY into a temp table. Used by processes
// and, for remote ends, inside backends (waits go through the SocketWait hook).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_values.hpp"
#include "engine/endpoints.hpp"

namespace dbsync::pg {

class PgTable : public Target {
 public:
  // Connects (one connection for writes and catalog queries; each scan opens its own) and
  // describes the table.
  static Result<std::unique_ptr<PgTable>> open(const std::string& conninfo, std::string_view table,
                                               const ConnectionProfile& profile);
  static Result<std::unique_ptr<PgTable>> open(const std::string& conninfo, std::string_view table,
                                               const ConnectOptions& options) {
    return open(conninfo, table, ConnectionProfile{"postgres", options, PoolerMode::kSession});
  }
  static Result<std::unique_ptr<PgTable>> open(const std::string& conninfo, std::string_view table,
                                               int connect_timeout_seconds = 10) {
    return open(conninfo, table, ConnectOptions{connect_timeout_seconds * 1000, false});
  }

  const Schema& schema() const { return info_.schema; }
  const QualifiedName& name() const { return info_.name; }
  const TableInfo& info() const { return info_; }
  PgConnection& connection() { return conn_; }
  const ConnectionProfile& profile() const { return profile_; }

  // A boolean SQL condition on the table's columns (a sync's filter) that scans apply; the
  // extended protocol runs it as part of one statement. check_filter prepares it without
  // reading a row: a syntax error or an unknown column is reported here.
  void set_filter(std::optional<std::string> filter) { filter_ = std::move(filter); }
  Status check_filter(const std::string& filter);

  // Rows ordered by the first key_count requested columns (text in byte order, COLLATE "C"),
  // read with a cursor in its own transaction: applies made while the scan is open are not seen.
  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) override;
  // pg_class.reltuples, -1 when the table was never analysed.
  Result<int64_t> estimate_rows() override;
  // One transaction: COPY into a temp table, then DELETE ... USING, UPDATE ... FROM,
  // INSERT ... SELECT. A failure rolls everything back and names the table.
  Status apply(const ChangeBatch& batch) override;
  // Pipelined: an insert-only batch (a first sync) is sent as a COPY straight into the table and
  // committed in finish_apply(); other batches are applied at once. A batch never finished is
  // rolled back by the next apply or start_apply, or when the table is closed.
  bool pipelined() const override { return true; }
  Status start_apply(const ChangeBatch& batch) override;
  Status finish_apply() override;
  Status pump() override;
  // Rows of a table carry their row version's xmin as fingerprint; the last batch's rows the
  // id of the transaction that wrote them.
  uint64_t written_fingerprint() const override { return written_fp_; }
  bool has_fingerprints() const { return fingerprints(); }

 private:
  bool fingerprints() const { return info_.relkind == 'r' || info_.relkind == 'm'; }
  Status begin_batch();  // BEGIN, and the transaction's id when rows carry fingerprints
  uint64_t written_fp_ = 0;
  PgTable(std::string conninfo, ConnectionProfile profile, PgConnection conn, TableInfo info)
      : conninfo_(std::move(conninfo)),
        profile_(std::move(profile)),
        conn_(std::move(conn)),
        info_(std::move(info)) {}

  // The ORDER BY / range expression of a key column (byte order for text).
  std::string key_expr(size_t column, const std::string& qualifier = "") const;
  // Rolls back this connection's transaction and forgets what it took away (the temp table).
  void rollback();
  Status ensure_temp_table(const std::vector<size_t>& layout);
  Status apply_in_transaction(const ChangeBatch& batch, const std::vector<size_t>& layout);
  struct BatchCounts {
    size_t inserts = 0, updates = 0, deletes = 0, soft_deletes = 0, restores = 0;
  };
  // The batch in COPY text form (an op column, then `layout`) into copy_buffer_; an
  // insert-only batch without the op column (buffer_has_ops_ false).
  Status build_copy_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                           BatchCounts& counts);
  // Writes copy_buffer_ in one transaction: an insert-only batch straight into the table when
  // `direct_inserts` (left in flight when pipelined_), otherwise through the temp table.
  // `batch` gives the keys, columns and soft-delete values; its items are not read.
  void add_insert_ops();  // an insert-only copy_buffer_ gains the op column ('i')
  // An insert-only batch in COPY's binary format into copy_buffer_ (buffer_binary_), when every
  // column of `layout` has a binary form and every value fits it; false: build text.
  bool build_binary_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                           const std::vector<int>& from_values, BatchCounts& counts);
  Status write_copy_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                           const BatchCounts& counts, bool direct_inserts);

  std::string conninfo_;
  ConnectionProfile profile_;
  std::optional<std::string> filter_;
  PgConnection conn_;
  TableInfo info_;
  std::string temp_name_;  // pg_temp table for batches, created once per layout
  std::vector<size_t> temp_layout_;
  // The temp table was created inside a transaction not committed yet (a caller's transaction
  // on this connection: dbsyncd's local target): a rollback takes it away again.
  bool temp_uncommitted_ = false;
  bool in_callers_transaction_ = false;  // the batch being applied began in one
  // Rolls back a batch that was started and not finished.
  void abandon_in_flight();

  bool pipelined_ = false;  // apply() may leave an insert-only COPY in flight
  struct InFlight {         // that batch's shape; its rows stay in copy_buffer_
    std::vector<size_t> key_columns, columns, layout;
    BatchCounts counts;
  };
  std::optional<InFlight> in_flight_;
  std::string copy_buffer_;
  std::vector<size_t> line_items_;  // the batch item of each row of copy_buffer_, in order
  // Rows of the temp table that `left` (a condition on s, the temp row, and the target) says
  // were left unwritten under the write contract (`op` selects the statement's rows): their
  // items go to skipped_.
  Status find_left(const std::string& temp, const std::string& op, const std::string& left);
  bool buffer_has_ops_ = true;  // false: an insert-only batch in the table's own COPY layout
  bool buffer_binary_ = false;  // copy_buffer_ is in the binary format (inserts only, no ops)
  std::vector<size_t> binary_layout_;  // the layout binary_kinds_ were found for
  std::vector<BinaryKind> binary_kinds_;
  std::string spare_buffer_;  // add_insert_ops()
};

}  // namespace dbsync::pg
