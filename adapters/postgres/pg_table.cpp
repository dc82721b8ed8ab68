#include "adapters/postgres/pg_table.hpp"

#include <algorithm>
#include <atomic>

#include "adapters/postgres/pg_values.hpp"
#include "engine/types.hpp"
#include "engine/value_json.hpp"

namespace dbsync::pg {

namespace {

constexpr const char* kOpColumn = "\"dbsync$op\"";
// The fingerprint a change expects its row to have (the write contract), null when none.
constexpr const char* kFpColumn = "\"dbsync$fp\"";
// The order in which the temp table's rows were copied in (an identity: never written), so the
// rows a statement left are told apart by their place in the batch.
constexpr const char* kLineColumn = "\"dbsync$line\"";

// How a scan fingerprints its rows: the xmin of each row version (tables only). A light scan
// reads only the key columns and xmin; lookup() reads full rows by key in the scan's snapshot.
struct ScanFingerprints {
  bool on = false;
  bool light = false;
  std::string lookup_sql;  // $1: a JSON array of key objects
  std::vector<const Column*> full_columns;
  std::vector<std::string> key_names;
};

uint64_t parse_xid(std::string_view text) {
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

class CursorReader : public RowReader {
  static constexpr int kAbsorbEvery = 256;  // rows between reads of the next page's bytes

 public:
  CursorReader(PgConnection conn, std::vector<const Column*> columns, size_t fetch,
               std::string table, ScanFingerprints fps)
      : conn_(std::move(conn)),
        columns_(std::move(columns)),
        fetch_sql_("FETCH FORWARD " + std::to_string(fetch) + " FROM dbsync_scan"),
        fetch_(fetch),
        table_(std::move(table)),
        fps_(std::move(fps)) {
    row_.resize(columns_.size());
  }

  uint64_t fingerprint() const override { return fp_; }
  bool light() const override { return fps_.light; }

  Status next(const Row*& row) override {
    row = nullptr;
    if (pos_ >= page_.rows()) {
      if (done_) return Status::ok();
      if (ahead_) {
        // A lookup received the page read ahead.
        page_ = std::move(*ahead_);
        ahead_.reset();
      } else {
        // The page was asked for when the previous one arrived (see below), or is asked now.
        if (!pending_) {
          Status sent = conn_.send(fetch_sql_);
          if (!sent.is_ok()) return sent.with_context("reading " + table_);
        }
        pending_ = false;
        Result<PgResult> page = conn_.receive();
        if (!page.is_ok()) return page.status().with_context("reading " + table_);
        page_ = std::move(page).value();
      }
      pos_ = 0;
      if (static_cast<size_t>(page_.rows()) < fetch_) done_ = true;
      if (page_.rows() == 0) {
        (void)conn_.exec("COMMIT");
        return Status::ok();
      }
      // Read ahead: the server produces the next page while this one is decoded and used.
      if (!done_) {
        Status sent = conn_.send(fetch_sql_);
        if (!sent.is_ok()) return sent.with_context("reading " + table_);
        pending_ = true;
      }
    }
    DBSYNC_RETURN_IF_ERROR(decode(page_, pos_, columns_, row_));
    fp_ = fps_.on ? parse_xid(page_.get(pos_, static_cast<int>(columns_.size()))) : 0;
    ++pos_;
    if (pending_ && pos_ % kAbsorbEvery == 0) {
      Status st = conn_.absorb();
      if (!st.is_ok()) return st.with_context("reading " + table_);
    }
    row = &row_;
    return Status::ok();
  }

  Status lookup(const std::vector<Row>& keys,
                const std::function<Status(const Row&, uint64_t)>& fn) override {
    if (!fps_.light) return RowReader::lookup(keys, fn);
    if (keys.empty()) return Status::ok();
    // The connection answers in order: take the page read ahead first (kept for next()).
    if (pending_) {
      pending_ = false;
      Result<PgResult> page = conn_.receive();
      if (!page.is_ok()) return page.status().with_context("reading " + table_);
      ahead_ = std::move(page).value();
    }
    const std::string json = keys_json(fps_.key_names, keys, [&](size_t i, const Value& v) {
      return value_to_text(v, fps_.full_columns[i]->type);
    });
    Result<PgResult> found = conn_.query(fps_.lookup_sql, {PgParam::text(json)});
    if (!found.is_ok()) return found.status().with_context("reading changed rows of " + table_);
    Row row(fps_.full_columns.size());
    for (int r = 0; r < found->rows(); ++r) {
      DBSYNC_RETURN_IF_ERROR(decode(*found, r, fps_.full_columns, row));
      DBSYNC_RETURN_IF_ERROR(
          fn(row, parse_xid(found->get(r, static_cast<int>(fps_.full_columns.size())))));
    }
    return Status::ok();
  }

 private:
  Status decode(const PgResult& result, int r, const std::vector<const Column*>& columns,
                Row& out) const {
    for (size_t c = 0; c < columns.size(); ++c) {
      const int col = static_cast<int>(c);
      if (result.is_null(r, col)) {
        out[c] = Value();
        continue;
      }
      Result<Value> v = value_from_text(result.get(r, col), columns[c]->type);
      if (!v.is_ok()) return v.status().with_context(table_ + "." + columns[c]->name);
      out[c] = std::move(v).value();
    }
    return Status::ok();
  }

  PgConnection conn_;
  std::vector<const Column*> columns_;
  std::string fetch_sql_;
  size_t fetch_;
  std::string table_;
  ScanFingerprints fps_;
  PgResult page_;
  std::optional<PgResult> ahead_;  // the next page, received early by a lookup
  int pos_ = 0;
  bool done_ = false;
  bool pending_ = false;  // a FETCH was sent and its result not yet received
  Row row_;
  uint64_t fp_ = 0;
};

std::atomic<unsigned> g_temp_counter{0};

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<PgTable>> PgTable::open(const std::string& conninfo, std::string_view table,
                                               const ConnectionProfile& profile) {
  DBSYNC_ASSIGN_OR_RETURN(QualifiedName name, QualifiedName::parse(table));
  DBSYNC_ASSIGN_OR_RETURN(PgConnection conn, PgConnection::connect(conninfo, profile.connect));
  DBSYNC_ASSIGN_OR_RETURN(TableInfo info, describe_table_info(conn, name));
  return std::unique_ptr<PgTable>(new PgTable(conninfo, profile, std::move(conn), std::move(info)));
}

Status PgTable::check_filter(const std::string& filter) {
  // LIMIT 0: planned, never executed. The newlines end a trailing -- comment in the filter.
  Result<PgResult> r =
      conn_.query("SELECT 1 FROM " + info_.name.quoted() + " WHERE (\n" + filter + "\n) LIMIT 0");
  if (!r.is_ok()) return r.status().with_context("filter on " + info_.qualified);
  return Status::ok();
}

std::string PgTable::key_expr(size_t column, const std::string& qualifier) const {
  const Column& c = info_.schema.columns[column];
  std::string q = qualifier + quote_ident(c.name);
  if (info_.collatable[column]) return q + " COLLATE \"C\"";
  // Text-like without a collation (enums...): order by their text, as compare_values does.
  if (c.type.kind == TypeKind::kText && !c.type.is_uuid) return "(" + q + "::text) COLLATE \"C\"";
  return q;
}

Result<std::unique_ptr<RowReader>> PgTable::scan(const ScanRequest& request) {
  const size_t ncols = info_.schema.columns.size();
  if (request.columns.empty() || request.key_count > request.columns.size())
    return error(ErrorCode::kInvalidArgument,
                 "scan of " + info_.name.display() + ": bad column request");
  ScanFingerprints fps;
  fps.on = fingerprints();
  fps.light = fps.on && request.light && request.key_count > 0;
  std::vector<std::string> select, full_select, key_cols;
  std::vector<const Column*> columns;
  for (size_t i = 0; i < request.columns.size(); ++i) {
    const size_t c = request.columns[i];
    if (c >= ncols)
      return error(ErrorCode::kInvalidArgument,
                   "scan of " + info_.name.display() + ": no column " + std::to_string(c));
    const std::string q = quote_ident(info_.schema.columns[c].name);
    full_select.push_back(q);
    fps.full_columns.push_back(&info_.schema.columns[c]);
    if (i < request.key_count || !fps.light) {
      select.push_back(q);
      columns.push_back(&info_.schema.columns[c]);
    }
    if (i < request.key_count) {
      key_cols.push_back(q);
      fps.key_names.push_back(info_.schema.columns[c].name);
    }
  }
  if (fps.on) select.push_back("xmin");
  std::vector<std::string> keys;
  for (size_t i = 0; i < request.key_count; ++i) keys.push_back(key_expr(request.columns[i]));
  const std::string key_tuple = "(" + join(keys, ", ") + ")";
  if (keys.empty() && (request.range.after || request.range.upto))
    return error(ErrorCode::kInvalidArgument,
                 "scan of " + info_.name.display() + ": a key range needs key columns");

  std::vector<PgParam> params;
  std::vector<std::string> where;
  auto bound = [&](const Row& key, const char* op) -> Status {
    if (key.size() != request.key_count)
      return error(ErrorCode::kInvalidArgument,
                   "scan of " + info_.name.display() + ": range key has " +
                       std::to_string(key.size()) + " values, expected " +
                       std::to_string(request.key_count));
    std::vector<std::string> ps;
    for (size_t i = 0; i < key.size(); ++i) {
      params.push_back(key[i].is_null() ? PgParam::null()
                                        : PgParam::text(value_to_text(key[i], columns[i]->type)));
      ps.push_back("$" + std::to_string(params.size()));
    }
    where.push_back(key_tuple + " " + op + " (" + join(ps, ", ") + ")");
    return Status::ok();
  };
  if (request.range.after) DBSYNC_RETURN_IF_ERROR(bound(*request.range.after, ">"));
  if (request.range.upto) DBSYNC_RETURN_IF_ERROR(bound(*request.range.upto, "<="));

  if (filter_ && !filter_->empty()) where.push_back("(\n" + *filter_ + "\n)");
  if (fps.light) {
    // Per key (its text back into the key columns' own types through the table's row type), the
    // row by its key and then the filter: OFFSET 0 keeps the planner from filtering the whole
    // table first.
    std::vector<std::string> u_cols, order;
    for (const std::string& c : key_cols) u_cols.push_back("\"dbsync$keys\"." + c);
    for (size_t i = 0; i < request.key_count; ++i)
      order.push_back(key_expr(request.columns[i], "\"dbsync$row\"."));
    fps.lookup_sql = "SELECT \"dbsync$row\".* FROM pg_catalog.json_populate_recordset(NULL::" +
                     info_.name.quoted() +
                     ", $1::pg_catalog.json) AS \"dbsync$keys\" CROSS JOIN LATERAL (SELECT " +
                     join(full_select, ", ") + ", xmin FROM " + info_.name.quoted() + " WHERE (" +
                     join(key_cols, ", ") + ") = (" + join(u_cols, ", ") + ")" +
                     (filter_ && !filter_->empty() ? " AND (\n" + *filter_ + "\n)" : "") +
                     " OFFSET 0) AS \"dbsync$row\" ORDER BY " + join(order, ", ");
  }
  std::string sql = "DECLARE dbsync_scan NO SCROLL CURSOR FOR SELECT " + join(select, ", ") +
                    " FROM " + info_.name.quoted();
  if (!where.empty()) sql += " WHERE " + join(where, " AND ");
  if (!keys.empty()) sql += " ORDER BY " + join(keys, ", ");

  Result<PgConnection> conn = PgConnection::connect(conninfo_, profile_.connect);
  if (!conn.is_ok()) return conn.status().with_context("scanning " + info_.name.display());
  // No JIT: compiling the scan's and lookups' plans costs more than it saves (SET LOCAL: a
  // transaction-pooling proxy may hand the session to others).
  DBSYNC_RETURN_IF_ERROR(
      conn->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off"));
  Result<PgResult> declared = conn->query(sql, params);
  if (!declared.is_ok()) return declared.status().with_context("scanning " + info_.name.display());
  size_t fetch = std::clamp<size_t>(request.batch_hint, 100, 100000);
  return std::unique_ptr<RowReader>(new CursorReader(std::move(conn).value(), std::move(columns),
                                                     fetch, info_.name.display(), std::move(fps)));
}

Result<int64_t> PgTable::estimate_rows() {
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.query(
          "SELECT c.reltuples::bigint FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)",
          {PgParam::text(info_.name.quoted())}));
  if (r.rows() != 1 || r.is_null(0, 0)) return int64_t{-1};
  int64_t n = std::strtoll(std::string(r.get(0, 0)).c_str(), nullptr, 10);
  return n < 0 ? int64_t{-1} : n;
}

Status PgTable::ensure_temp_table(const std::vector<size_t>& layout) {
  if (!temp_name_.empty() && temp_layout_ == layout) return Status::ok();
  if (temp_name_.empty()) temp_name_ = "dbsync_apply_" + std::to_string(g_temp_counter++);
  std::vector<std::string> cols;
  for (size_t c : layout) cols.push_back(quote_ident(info_.schema.columns[c].name));
  // Created outside the batch transactions (a rollback keeps it); rows vanish at each commit.
  // CREATE ... AS copies the exact column types and none of the constraints.
  DBSYNC_RETURN_IF_ERROR(conn_.exec(
      "DROP TABLE IF EXISTS pg_temp." + quote_ident(temp_name_) + "; CREATE TEMP TABLE " +
      quote_ident(temp_name_) + " ON COMMIT DELETE ROWS AS SELECT NULL::\"char\" AS " + kOpColumn +
      ", NULL::bigint AS " + kFpColumn + ", " + join(cols, ", ") + " FROM " + info_.name.quoted() +
      " WITH NO DATA; ALTER TABLE pg_temp." + quote_ident(temp_name_) + " ALTER COLUMN " +
      kOpColumn + " SET DEFAULT 'i', ADD COLUMN " + kLineColumn +
      " bigint GENERATED ALWAYS AS IDENTITY"));
  temp_layout_ = layout;
  temp_uncommitted_ = conn_.in_transaction();
  return Status::ok();
}

void PgTable::rollback() {
  conn_.rollback_quietly();
  if (temp_uncommitted_) {
    temp_name_.clear();
    temp_layout_.clear();
    temp_uncommitted_ = false;
  }
}

void PgTable::abandon_in_flight() {
  if (!in_flight_) return;
  in_flight_.reset();
  (void)conn_.copy_in_end("batch abandoned");
  (void)conn_.copy_in_receive();
  rollback();
}

Status PgTable::begin_batch() {
  written_fp_ = 0;
  DBSYNC_RETURN_IF_ERROR(conn_.exec("BEGIN; SET LOCAL jit = off"));
  if (!fingerprints()) return Status::ok();
  // The rows this transaction writes carry its id as their xmin (32 bits of txid_current).
  DBSYNC_ASSIGN_OR_RETURN(PgResult r, conn_.query("SELECT pg_catalog.txid_current() % 4294967296"));
  if (r.rows() == 1 && !r.is_null(0, 0)) written_fp_ = parse_xid(r.get(0, 0));
  return Status::ok();
}

Status PgTable::start_apply(const ChangeBatch& batch) {
  abandon_in_flight();
  skipped_.clear();
  bool insert_only = !batch.items.empty();
  for (const ChangeBatch::Item& item : batch.items) insert_only &= item.op == RowOp::kInsert;
  if (!insert_only) return apply(batch);
  pipelined_ = true;
  Status st = apply(batch);
  pipelined_ = false;
  return st;
}

Status PgTable::pump() {
  if (!in_flight_) return Status::ok();
  Status st = conn_.pump();
  return st.is_ok() ? st : st.with_context("table " + info_.name.display());
}

Status PgTable::finish_apply() {
  if (!in_flight_) return Status::ok();
  InFlight sent = std::move(*in_flight_);
  in_flight_.reset();
  Status st = conn_.copy_in_end();  // then the script's COMMIT runs
  if (st.is_ok()) st = conn_.copy_in_receive();
  if (st.is_ok()) return st;
  rollback();
  // A key that exists already (a batch re-applied after a crash): the general path, from the
  // batch's rows still in the buffer, updates such rows.
  if (st.code() == ErrorCode::kConflict) {
    ChangeBatch shape;  // the batch without its items (inserts need no soft-delete values)
    shape.key_columns = std::move(sent.key_columns);
    shape.columns = std::move(sent.columns);
    st = ensure_temp_table(sent.layout);
    if (st.is_ok()) st = write_copy_buffer(shape, sent.layout, sent.counts, false);
    if (st.is_ok()) return st;
    rollback();
  }
  return st.with_context("table " + info_.name.display());
}

Status PgTable::find_left(const std::string& temp, const std::string& op, const std::string& left) {
  // The batch's rows are the temp table's visible rows (one COPY since the commit that emptied
  // it; a rolled-back batch's rows are dead), numbered in the order they were copied in.
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult r, conn_.query("SELECT s.\"dbsync$n\" FROM (SELECT *, pg_catalog.row_number() OVER "
                              "(ORDER BY " +
                              std::string(kLineColumn) + ") AS \"dbsync$n\" FROM " + temp +
                              ") AS s WHERE s." + kOpColumn + " " + op + " AND " + left));
  for (int i = 0; i < r.rows(); ++i) {
    const size_t n = std::strtoull(std::string(r.get(i, 0)).c_str(), nullptr, 10);
    if (n >= 1 && n <= line_items_.size()) skipped_.push_back(line_items_[n - 1]);
  }
  return Status::ok();
}

Status PgTable::apply(const ChangeBatch& batch) {
  abandon_in_flight();
  skipped_.clear();
  if (batch.items.empty()) return Status::ok();
  const size_t ncols = info_.schema.columns.size();
  if (batch.key_columns.empty())
    return error(ErrorCode::kInvalidArgument,
                 "apply to " + info_.name.display() + ": no key columns");
  // Temp layout: the key columns, then the written columns that are not keys.
  std::vector<size_t> layout = batch.key_columns;
  for (size_t c : batch.columns)
    if (std::find(layout.begin(), layout.end(), c) == layout.end()) layout.push_back(c);
  for (size_t c : layout)
    if (c >= ncols)
      return error(ErrorCode::kInvalidArgument,
                   "apply to " + info_.name.display() + ": no column " + std::to_string(c));
  if (batch.soft_delete_column >= static_cast<int>(ncols))
    return error(ErrorCode::kInvalidArgument,
                 "apply to " + info_.name.display() + ": bad soft delete column");

  const bool callers = conn_.in_transaction();
  in_callers_transaction_ = callers;
  Status st = ensure_temp_table(layout);
  if (st.is_ok()) st = apply_in_transaction(batch, layout);
  if (st.code() == ErrorCode::kConflict && !callers) {
    // A key another transaction committed after this batch's insert looked for it (e.g. the
    // server finishing the last batch of an executor that was killed): once more, the insert
    // then sees that row, and the write contract decides it. Not in a caller's transaction:
    // its writes went with the rollback, and the caller must know (dbsyncd checks its xid).
    rollback();
    skipped_.clear();
    st = ensure_temp_table(layout);
    if (st.is_ok()) st = apply_in_transaction(batch, layout);
  }
  if (!st.is_ok()) {
    rollback();
    return st.with_context("table " + info_.name.display());
  }
  return Status::ok();
}

Status PgTable::apply_in_transaction(const ChangeBatch& batch, const std::vector<size_t>& layout) {
  BatchCounts n;
  DBSYNC_RETURN_IF_ERROR(build_copy_buffer(batch, layout, n));
  return write_copy_buffer(batch, layout, n, true);
}

bool PgTable::build_binary_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                                  const std::vector<int>& from_values, BatchCounts& counts) {
  // Every column's type needs a binary form (pg_values: BinaryKind), found once per layout.
  if (binary_layout_ != layout) {
    binary_layout_ = layout;
    binary_kinds_.clear();
    for (size_t c : layout) {
      const std::string udt = c < info_.udt.size() ? info_.udt[c] : std::string();
      binary_kinds_.push_back(binary_kind(udt, info_.schema.columns[c].type));
    }
  }
  for (BinaryKind k : binary_kinds_)
    if (k == BinaryKind::kNone) return false;
  const size_t nkeys = batch.key_columns.size();
  std::string& buf = copy_buffer_;
  buf.clear();
  append_copy_binary_header(buf);
  size_t n_ins = 0;
  line_items_.clear();
  for (size_t index = 0; index < batch.items.size(); ++index) {
    const ChangeBatch::Item& item = batch.items[index];
    if (item.op != RowOp::kInsert) continue;
    if (item.key.size() != nkeys || item.values.size() != batch.columns.size()) return false;
    ++n_ins;
    line_items_.push_back(index);
    buf.push_back(static_cast<char>(layout.size() >> 8));
    buf.push_back(static_cast<char>(layout.size() & 0xff));
    for (size_t i = 0; i < layout.size(); ++i) {
      const Value& v = i < nkeys ? item.key[i] : item.values[static_cast<size_t>(from_values[i])];
      // A value of another kind than the column's binary form: the whole batch goes as text.
      if (!append_binary_field(buf, v, binary_kinds_[i])) return false;
    }
  }
  append_copy_binary_trailer(buf);
  counts = BatchCounts{n_ins, 0, 0, 0, 0};
  buffer_binary_ = true;
  return true;
}

void PgTable::add_insert_ops() {
  // The rare fallback of a direct COPY (a key that exists already): each line gains its op.
  std::string& with_ops = spare_buffer_;
  with_ops.clear();
  with_ops.reserve(copy_buffer_.size() + copy_buffer_.size() / 16);
  for (size_t pos = 0; pos < copy_buffer_.size();) {
    size_t end = copy_buffer_.find('\n', pos);
    with_ops += "i\t\\N\t";  // op, no expected fingerprint
    with_ops.append(copy_buffer_, pos, end + 1 - pos);
    pos = end + 1;
  }
  copy_buffer_.swap(with_ops);
  buffer_has_ops_ = true;
}

Status PgTable::build_copy_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                                  BatchCounts& counts) {
  const size_t nkeys = batch.key_columns.size();
  // Where each layout column's value is found in an item: key index, or values index.
  std::vector<int> from_values(layout.size(), -1);
  for (size_t i = nkeys; i < layout.size(); ++i) {
    auto it = std::find(batch.columns.begin(), batch.columns.end(), layout[i]);
    from_values[i] = static_cast<int>(it - batch.columns.begin());
  }

  size_t n_ins = 0, n_upd = 0, n_del = 0, n_soft = 0, n_restore = 0;
  // An insert-only batch is built in the table's own layout (no op column): the form a direct
  // COPY takes, built once; the temp-table path adds the op column if it ever needs it.
  bool insert_only = true;
  for (const ChangeBatch::Item& item : batch.items)
    insert_only &= item.op == RowOp::kInsert || item.op == RowOp::kNone;
  buffer_has_ops_ = !insert_only;
  buffer_binary_ = false;
  if (insert_only && build_binary_buffer(batch, layout, from_values, counts)) return Status::ok();
  std::string& buf = copy_buffer_;
  buf.clear();
  line_items_.clear();
  for (size_t index = 0; index < batch.items.size(); ++index) {
    const ChangeBatch::Item& item = batch.items[index];
    char op = 0;
    switch (item.op) {
      case RowOp::kInsert:
        op = 'i';
        ++n_ins;
        break;
      case RowOp::kUpdate:
        op = item.restore ? 'v' : 'u';  // 'v': update and clear the soft-delete column
        ++n_upd;
        if (item.restore) ++n_restore;
        break;
      case RowOp::kDelete:
        op = 'd';
        ++n_del;
        break;
      case RowOp::kSoftDelete:
        op = 's';
        ++n_soft;
        break;
      case RowOp::kNone:
        continue;
    }
    if (item.key.size() != nkeys)
      return error(ErrorCode::kInvalidArgument, "a change with " + std::to_string(item.key.size()) +
                                                    " key values, expected " +
                                                    std::to_string(nkeys));
    const bool has_values = op == 'i' || op == 'u' || op == 'v';
    if (has_values && item.values.size() != batch.columns.size())
      return error(ErrorCode::kInvalidArgument, "a change for key " + key_to_string(item.key) +
                                                    " has " + std::to_string(item.values.size()) +
                                                    " values, expected " +
                                                    std::to_string(batch.columns.size()));
    line_items_.push_back(index);
    if (buffer_has_ops_) {
      buf.push_back(op);
      buf.push_back('\t');
      if (item.expect_fp != 0 && fingerprints() && op != 'i')
        buf += std::to_string(item.expect_fp);
      else
        buf += "\\N";
    }
    for (size_t i = 0; i < layout.size(); ++i) {
      if (buffer_has_ops_ || i > 0) buf.push_back('\t');
      const TypeSpec& type = info_.schema.columns[layout[i]].type;
      if (i < nkeys)
        append_copy_field(buf, item.key[i], type);
      else if (has_values)
        append_copy_field(buf, item.values[static_cast<size_t>(from_values[i])], type);
      else
        buf += "\\N";
    }
    buf.push_back('\n');
  }
  counts = BatchCounts{n_ins, n_upd, n_del, n_soft, n_restore};
  return Status::ok();
}

Status PgTable::write_copy_buffer(const ChangeBatch& batch, const std::vector<size_t>& layout,
                                  const BatchCounts& counts, bool direct_inserts) {
  const size_t nkeys = batch.key_columns.size();
  const auto [n_ins, n_upd, n_del, n_soft, n_restore] = counts;
  const std::string& buf = copy_buffer_;
  if (n_ins + n_upd + n_del + n_soft == 0) return Status::ok();

  const std::string target = info_.name.quoted();
  const std::string temp = "pg_temp." + quote_ident(temp_name_);
  std::vector<std::string> key_match, key_cols, all_cols, sets;
  for (size_t i = 0; i < layout.size(); ++i) {
    std::string q = quote_ident(info_.schema.columns[layout[i]].name);
    all_cols.push_back(q);
    if (i < nkeys) {
      key_cols.push_back(q);
      key_match.push_back("t." + q + " = s." + q);
    } else {
      sets.push_back(q + " = s." + q);
    }
  }
  const std::string match = join(key_match, " AND ");

  if (direct_inserts && n_ins > 0 && n_upd + n_del + n_soft == 0) {
    // Only inserts (a first sync): COPY straight into the table, as fast as a load gets. A key
    // that exists already (a batch re-applied after a crash) fails the COPY with a unique
    // violation: then the batch takes the general path below, which updates such rows.
    const std::string& direct = buf;  // built without the op column (build_copy_buffer)
    // The whole batch in one round trip: BEGIN, the written fingerprint, COPY, COMMIT. In a
    // transaction the caller opened on this connection (dbsyncd's local target: the job's
    // catalog writes commit with the rows), the COPY runs in a savepoint, so that a key that
    // exists already takes back only the COPY, not the caller's writes or the temp table.
    written_fp_ = 0;
    const bool callers = conn_.in_transaction() && !pipelined_;
    std::string script = callers ? "SAVEPOINT dbsync_copy; " : "BEGIN; SET LOCAL jit = off; ";
    if (fingerprints()) script += "SELECT pg_catalog.txid_current() % 4294967296; ";
    script += "COPY " + target + " (" + join(all_cols, ", ") + ") FROM STDIN" +
              (buffer_binary_ ? " (FORMAT binary)" : "") +
              (callers ? "; RELEASE SAVEPOINT dbsync_copy; COMMIT" : "; COMMIT");
    PgResult txid;
    // Pipelined, the COPY stays open: finish_apply() ends it (and so commits), a batch
    // abandoned instead fails it (and so rolls back).
    Status st = conn_.copy_in_send(script, direct, &txid, !pipelined_);
    if (st.is_ok() && fingerprints() && txid.rows() == 1 && !txid.is_null(0, 0))
      written_fp_ = parse_xid(txid.get(0, 0));
    if (st.is_ok() && pipelined_) {
      // Committed once finish_apply() has received the result; start_apply() keeps the batch
      // for its fallback.
      in_flight_ = InFlight{batch.key_columns, batch.columns, layout, counts};
      return st;
    }
    if (st.is_ok()) st = conn_.copy_in_receive();
    if (st.is_ok()) {
      temp_uncommitted_ = false;
      return st;
    }
    if (st.code() != ErrorCode::kConflict) return st;  // apply() rolls back
    if (callers)
      DBSYNC_RETURN_IF_ERROR(conn_.exec("ROLLBACK TO SAVEPOINT dbsync_copy"));
    else
      rollback();
  }

  std::string into_temp = "COPY " + temp + " (" + kOpColumn + ", " + kFpColumn + ", " +
                          join(all_cols, ", ") + ") FROM STDIN";
  if (buffer_binary_)  // inserts only, without the op column: it defaults to 'i'
    into_temp = "COPY " + temp + " (" + join(all_cols, ", ") + ") FROM STDIN (FORMAT binary)";
  else if (!buffer_has_ops_)
    add_insert_ops();
  DBSYNC_RETURN_IF_ERROR(begin_batch());
  DBSYNC_RETURN_IF_ERROR(conn_.copy_in(into_temp, buf));
  // The write contract (engine/endpoints.hpp): each statement writes only the rows as the job
  // read them (xmin = the expected fingerprint); when it writes fewer rows than it was given, a
  // query on the temp table finds those left (rare: only then is it paid for).
  const bool versioned = fingerprints();
  const std::string as_read = versioned ? "(s." + std::string(kFpColumn) +
                                              " IS NULL OR t.xmin = CAST(CAST(s." + kFpColumn +
                                              " AS pg_catalog.text) AS pg_catalog.xid))"
                                        : std::string("true");
  // Written by this transaction (the statement just run).
  const std::string ours =
      versioned && written_fp_ != 0
          ? "t.xmin = CAST('" + std::to_string(written_fp_) + "' AS pg_catalog.xid)"
          : std::string("true");
  auto row_here = [&](const std::string& also) {
    return "EXISTS (SELECT 1 FROM " + target + " AS t WHERE " + match + " AND " + also + ")";
  };
  // Deletes first: a deleted row may hold a unique value that an inserted row takes over.
  if (n_del) {
    DBSYNC_ASSIGN_OR_RETURN(
        PgResult r, conn_.query("DELETE FROM " + target + " AS t USING " + temp + " AS s WHERE s." +
                                kOpColumn + " = 'd' AND " + match + " AND " + as_read));
    if (r.affected() < static_cast<int64_t>(n_del))  // a row gone already is done
      DBSYNC_RETURN_IF_ERROR(find_left(temp, "= 'd'", row_here("true")));
  }
  if (n_soft) {
    if (batch.soft_delete_column < 0)
      return error(ErrorCode::kInvalidArgument, "soft delete without a soft delete column");
    const Column& sc = info_.schema.columns[static_cast<size_t>(batch.soft_delete_column)];
    PgParam value = batch.soft_delete_value.is_null()
                        ? PgParam::null()
                        : PgParam::text(value_to_text(batch.soft_delete_value, sc.type));
    DBSYNC_ASSIGN_OR_RETURN(PgResult r,
                            conn_.query("UPDATE " + target + " AS t SET " + quote_ident(sc.name) +
                                            " = $1 FROM " + temp + " AS s WHERE s." + kOpColumn +
                                            " = 's' AND " + match + " AND " + as_read,
                                        {value}));
    if (r.affected() < static_cast<int64_t>(n_soft))
      DBSYNC_RETURN_IF_ERROR(find_left(temp, "= 's'", row_here("NOT (" + ours + ")")));
  }
  if (n_upd && !sets.empty()) {
    DBSYNC_ASSIGN_OR_RETURN(
        PgResult r, conn_.query("UPDATE " + target + " AS t SET " + join(sets, ", ") + " FROM " +
                                temp + " AS s WHERE s." + kOpColumn + " IN ('u', 'v') AND " +
                                match + " AND " + as_read));
    // Left: changed since the read, or deleted since.
    if (r.affected() < static_cast<int64_t>(n_upd))
      DBSYNC_RETURN_IF_ERROR(find_left(temp, "IN ('u', 'v')", "NOT " + row_here(ours)));
  }
  if (n_restore) {
    if (batch.soft_delete_column < 0)
      return error(ErrorCode::kInvalidArgument, "restore without a soft delete column");
    const Column& sc = info_.schema.columns[static_cast<size_t>(batch.soft_delete_column)];
    PgParam value = batch.soft_restore_value.is_null()
                        ? PgParam::null()
                        : PgParam::text(value_to_text(batch.soft_restore_value, sc.type));
    // Only rows the updates above wrote (a restore goes with its row's update).
    DBSYNC_RETURN_IF_ERROR(conn_
                               .query("UPDATE " + target + " AS t SET " + quote_ident(sc.name) +
                                          " = $1 FROM " + temp + " AS s WHERE s." + kOpColumn +
                                          " = 'v' AND " + match + " AND " + ours,
                                      {value})
                               .status());
  }
  if (n_ins) {
    // A key that exists is never overwritten; one with the same values (a batch applied again
    // after a crash) counts as written.
    const std::string cols = join(all_cols, ", ");
    const std::string insert = "INSERT INTO " + target + " (" + cols + ") SELECT " + cols +
                               " FROM " + temp + " AS s WHERE s." + kOpColumn +
                               " = 'i' AND NOT EXISTS (SELECT 1 FROM " + target + " AS t WHERE " +
                               match + ")";
    // A key committed by another transaction after this statement's snapshot (the server
    // finishing a killed executor's last batch) fails it: apply() tries the batch once more, or,
    // in a caller's transaction, which must survive, this statement from a savepoint.
    const bool callers = conn_.in_transaction() && in_callers_transaction_;
    if (callers) DBSYNC_RETURN_IF_ERROR(conn_.exec("SAVEPOINT dbsync_insert"));
    Result<PgResult> inserted = conn_.query(insert);
    if (callers && !inserted.is_ok() && inserted.status().code() == ErrorCode::kConflict) {
      DBSYNC_RETURN_IF_ERROR(conn_.exec("ROLLBACK TO SAVEPOINT dbsync_insert"));
      inserted = conn_.query(insert);
    }
    if (!inserted.is_ok()) return inserted.status();
    PgResult& r = *inserted;
    if (r.affected() < static_cast<int64_t>(n_ins)) {
      std::vector<std::string> t_cols, s_cols;
      for (const std::string& c : all_cols) {
        t_cols.push_back("t." + c);
        s_cols.push_back("s." + c);
      }
      DBSYNC_RETURN_IF_ERROR(find_left(temp, "= 'i'",
                                       row_here("NOT (" + ours + ") AND ROW(" + join(t_cols, ", ") +
                                                ")::pg_catalog.text IS DISTINCT FROM ROW(" +
                                                join(s_cols, ", ") + ")::pg_catalog.text")));
    }
  }
  std::sort(skipped_.begin(), skipped_.end());
  DBSYNC_RETURN_IF_ERROR(conn_.exec("COMMIT"));
  temp_uncommitted_ = false;
  return Status::ok();
}

}  // namespace dbsync::pg
