#include "extension/src/local_target.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_values.hpp"
#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/session.hpp"
#include "extension/src/pg/xact.hpp"

namespace dbsync::ext {
namespace {

using pg::spi::Param;
using pg::spi::TypedParam;

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// The rows of one statement, column by column as text (the layout's first `width` columns),
// with each row's expected fingerprint and its item's place in the batch.
struct Group {
  std::vector<std::vector<Param>> columns;
  std::vector<Param> fps;     // ChangeBatch::Item::expect_fp as text, null when unknown
  std::vector<size_t> items;  // indexes into the batch's items
  size_t rows = 0;
  explicit Group(size_t width) : columns(width) {}
};

}  // namespace

LocalTarget::LocalTarget(const pg::LocalTable& table, std::optional<std::string> filter)
    : table_(table), reader_(table, std::move(filter)) {}

Result<std::unique_ptr<RowReader>> LocalTarget::scan(const ScanRequest& request) {
  return reader_.scan(request);
}

Result<int64_t> LocalTarget::estimate_rows() { return reader_.estimate_rows(); }

Status LocalTarget::apply(const ChangeBatch& batch) {
  written_fp_ = 0;
  skipped_.clear();
  Status st = apply_batch(batch);
  // The rows just written carry this transaction's id as their xmin (nothing here runs in a
  // subtransaction). Reading the id needs no call that can fail.
  if (st.is_ok() && table_.relkind == 'r') written_fp_ = pg::xact::top_transaction_id_if_any();
  return st;
}

Status LocalTarget::apply_batch(const ChangeBatch& batch) {
  if (batch.items.empty()) return Status::ok();
  const Schema& schema = table_.schema;
  const size_t ncols = schema.columns.size();
  const std::string& name = table_.qualified;
  if (table_.relkind != 'r' && table_.relkind != 'p')
    return error(ErrorCode::kInvalidArgument,
                 "target " + name + " is not a table (a view or similar cannot be written)");
  if (batch.key_columns.empty())
    return error(ErrorCode::kInvalidArgument, "apply to " + name + ": no key columns");

  // Layout: the key columns, then the written columns that are not keys.
  const size_t nkeys = batch.key_columns.size();
  std::vector<size_t> layout = batch.key_columns;
  std::vector<size_t> value_pos;  // for layout[nkeys + j]: its index in Item::values
  for (size_t i = 0; i < batch.columns.size(); ++i)
    if (std::find(layout.begin(), layout.end(), batch.columns[i]) == layout.end()) {
      layout.push_back(batch.columns[i]);
      value_pos.push_back(i);
    }
  for (size_t c : layout)
    if (c >= ncols)
      return error(ErrorCode::kInvalidArgument,
                   "apply to " + name + ": no column " + std::to_string(c));
  if (batch.soft_delete_column >= static_cast<int>(ncols))
    return error(ErrorCode::kInvalidArgument, "apply to " + name + ": bad soft delete column");

  std::vector<std::string> key_names;
  for (size_t c : batch.key_columns) key_names.push_back(schema.columns[c].name);
  if (!table_.unique_on(key_names))
    return error(ErrorCode::kInvalidArgument,
                 "target " + name + " has no unique index on its key (" + join(key_names) +
                     "): its rows cannot be matched for writing");
  // ON CONFLICT infers its arbiter from a unique index on exactly the key columns.
  bool exact_index = false;
  for (const auto& index : table_.unique_indexes) {
    std::vector<std::string> a = index, b = key_names;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a == b) exact_index = true;
  }

  // Split the batch by operation, validating every item before anything is written.
  Group del(nkeys), soft(nkeys), upd(layout.size()), restore(nkeys), ins(layout.size());
  auto text_of = [&](const Value& v, size_t column) -> Param {
    if (v.is_null()) return std::nullopt;
    return pg::value_to_text(v, schema.columns[column].type);
  };
  // Row versions are compared by xmin, which the job read for tables (not partitioned ones).
  const bool versioned = table_.relkind == 'r';
  size_t item_index = 0;
  auto add = [&](Group& g, const ChangeBatch::Item& item, bool with_values) {
    for (size_t i = 0; i < nkeys; ++i) g.columns[i].push_back(text_of(item.key[i], layout[i]));
    if (with_values)
      for (size_t j = 0; j < value_pos.size(); ++j)
        g.columns[nkeys + j].push_back(text_of(item.values[value_pos[j]], layout[nkeys + j]));
    g.fps.push_back(versioned && item.expect_fp != 0 ? Param(std::to_string(item.expect_fp))
                                                     : Param(std::nullopt));
    g.items.push_back(item_index);
    ++g.rows;
  };
  for (; item_index < batch.items.size(); ++item_index) {
    const ChangeBatch::Item& item = batch.items[item_index];
    if (item.op == RowOp::kNone) continue;
    if (item.key.size() != nkeys)
      return error(ErrorCode::kInvalidArgument,
                   "apply to " + name + ": a change with " + std::to_string(item.key.size()) +
                       " key values, expected " + std::to_string(nkeys));
    const bool with_values = item.op == RowOp::kInsert || item.op == RowOp::kUpdate;
    if (with_values && item.values.size() != batch.columns.size())
      return error(ErrorCode::kInvalidArgument,
                   "apply to " + name + ": a change for key " + key_to_string(item.key) + " has " +
                       std::to_string(item.values.size()) + " values, expected " +
                       std::to_string(batch.columns.size()));
    if ((item.op == RowOp::kSoftDelete || item.restore) && batch.soft_delete_column < 0)
      return error(ErrorCode::kInvalidArgument,
                   "apply to " + name + ": a soft delete or restore without a soft delete column");
    switch (item.op) {
      case RowOp::kDelete:
        add(del, item, false);
        break;
      case RowOp::kSoftDelete:
        add(soft, item, false);
        break;
      case RowOp::kUpdate:
        add(upd, item, true);
        if (item.restore) add(restore, item, false);
        break;
      case RowOp::kInsert:
        add(ins, item, true);
        break;
      case RowOp::kNone:
        break;
    }
  }

  // SQL pieces: the bound rows are u(c0, c1, ...), cast to the columns' types.
  std::vector<std::string> quoted, casts, declared, current;
  for (size_t i = 0; i < layout.size(); ++i) {
    quoted.push_back(pg::quote_ident(schema.columns[layout[i]].name));
    casts.push_back("CAST(u.c" + std::to_string(i) + " AS " + table_.base_types[layout[i]] + ")");
    // The value as the column stores it (padded, rounded), to compare with a stored row.
    declared.push_back("CAST(" + casts.back() + " AS " + table_.sql_types[layout[i]] + ")");
    current.push_back("t." + quoted.back());
  }
  std::vector<std::string> match_parts, sets;
  for (size_t i = 0; i < nkeys; ++i) match_parts.push_back("t." + quoted[i] + " = " + casts[i]);
  for (size_t i = nkeys; i < layout.size(); ++i) sets.push_back(quoted[i] + " = " + casts[i]);
  const std::string match = join(match_parts, " AND ");
  const std::vector<std::string> key_quoted(quoted.begin(),
                                            quoted.begin() + static_cast<std::ptrdiff_t>(nkeys));
  std::string soft_name, soft_type;
  if (batch.soft_delete_column >= 0) {
    const size_t sc = static_cast<size_t>(batch.soft_delete_column);
    soft_name = pg::quote_ident(schema.columns[sc].name);
    soft_type = table_.base_types[sc];
  }

  MemoryContext cxt = pg::spi::create_context("dbsync apply");
  // `ROWS FROM (unnest($i::text[]), ...) WITH ORDINALITY AS u(c0, ..., f, n)` over the group's
  // first `width` columns, f its rows' expected fingerprints, n their place in the group; the
  // arrays are appended to `params`.
  auto rows_of = [&](const Group& g, size_t width, std::vector<TypedParam>& params) {
    std::vector<std::string> args, names;
    auto add_array = [&](const std::vector<Param>& items, std::string name) {
      params.push_back(
          {pg::spi::kTextArrayOid, pg::spi::varlena_array(items, pg::spi::kTextOid, cxt), false});
      args.push_back("pg_catalog.unnest($" + std::to_string(params.size()) +
                     "::pg_catalog.text[])");
      names.push_back(std::move(name));
    };
    for (size_t i = 0; i < width; ++i) add_array(g.columns[i], "c" + std::to_string(i));
    add_array(g.fps, "f");
    names.push_back("n");
    return "ROWS FROM (" + join(args) + ") WITH ORDINALITY AS u(" + join(names) + ")";
  };
  // The write contract (engine/endpoints.hpp): the row is still the version the job read.
  const std::string as_read =
      versioned ? "(u.f IS NULL OR t.xmin OPERATOR(pg_catalog.=) CAST(u.f AS pg_catalog.xid))"
                : "true";
  // The row was written by this transaction (the statement just run).
  const std::string ours =
      versioned ? "t.xmin OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id()::pg_catalog.xid"
                : "true";
  // After a statement wrote fewer rows than its group has: the group's rows that `left` (a
  // condition on u and t) says were left unwritten go to skipped_.
  auto find_left = [&](const Group& g, size_t width, const std::string& left) {
    std::vector<TypedParam> p;
    std::string from = rows_of(g, width, p);
    pg::spi::Rows r = pg::spi::execute_typed_rows("SELECT u.n FROM " + from + " WHERE " + left, p);
    for (size_t i = 0; i < r.size(); ++i) {
      const size_t n = std::stoul(r.text(i, 0));
      if (n >= 1 && n <= g.items.size()) skipped_.push_back(g.items[n - 1]);
    }
  };
  auto row_here = [&](const std::string& also) {
    return "EXISTS (SELECT 1 FROM " + name + " AS t WHERE " + match + " AND " + also + ")";
  };
  auto value_of = [&](const Value& v, std::vector<TypedParam>& params) {
    Param text = text_of(v, static_cast<size_t>(batch.soft_delete_column));
    params.push_back(pg::spi::text_param(text, cxt));
    return "CAST($" + std::to_string(params.size()) + " AS " + soft_type + ")";
  };

  Status st = pg::spi::with_safe_search_path([&]() -> Status {
    // Each statement writes only the rows as the job read them; when it writes fewer rows than
    // it was given, a query on the same rows finds those left (rare: only then is it paid for).
    if (del.rows) {
      std::vector<TypedParam> p;
      std::string from = rows_of(del, nkeys, p);
      uint64_t n = pg::spi::execute_typed(
          "DELETE FROM " + name + " AS t USING " + from + " WHERE " + match + " AND " + as_read, p);
      if (n < del.rows) find_left(del, nkeys, row_here("true"));  // a row gone already is done
    }
    if (soft.rows) {
      std::vector<TypedParam> p;
      std::string from = rows_of(soft, nkeys, p);
      std::string value = value_of(batch.soft_delete_value, p);
      uint64_t n =
          pg::spi::execute_typed("UPDATE " + name + " AS t SET " + soft_name + " = " + value +
                                     " FROM " + from + " WHERE " + match + " AND " + as_read,
                                 p);
      if (n < soft.rows) find_left(soft, nkeys, row_here("NOT (" + ours + ")"));
    }
    if (upd.rows && !sets.empty()) {
      std::vector<TypedParam> p;
      std::string from = rows_of(upd, layout.size(), p);
      uint64_t n = pg::spi::execute_typed("UPDATE " + name + " AS t SET " + join(sets) + " FROM " +
                                              from + " WHERE " + match + " AND " + as_read,
                                          p);
      // Left: changed since the read, or deleted since.
      if (n < upd.rows) find_left(upd, layout.size(), "NOT " + row_here(ours));
    }
    if (restore.rows) {
      std::vector<TypedParam> p;
      std::string from = rows_of(restore, nkeys, p);
      std::string value = value_of(batch.soft_restore_value, p);
      // Only rows the updates above wrote (a restore goes with its row's update).
      pg::spi::execute_typed("UPDATE " + name + " AS t SET " + soft_name + " = " + value +
                                 " FROM " + from + " WHERE " + match + " AND " + ours,
                             p);
    }
    if (ins.rows) {
      std::vector<TypedParam> p;
      std::string from = rows_of(ins, layout.size(), p);
      // OVERRIDING SYSTEM VALUE: a key synced into a GENERATED ALWAYS identity column keeps the
      // source's value (without identity columns the clause changes nothing). A key that exists
      // is never overwritten.
      std::string insert = "INSERT INTO " + name + " AS t (" + join(quoted) +
                           ") OVERRIDING SYSTEM VALUE SELECT " + join(casts) + " FROM " + from;
      if (exact_index)
        insert += " ON CONFLICT (" + join(key_quoted) + ") DO NOTHING";
      else
        insert += " WHERE NOT EXISTS (SELECT 1 FROM " + name + " AS t WHERE " + match + ")";
      uint64_t n = pg::spi::execute_typed(insert, p);
      // Left: a key that exists with other values (the same values: a batch applied again).
      if (n < ins.rows)
        find_left(ins, layout.size(),
                  row_here("NOT (" + ours + ") AND ROW(" + join(current) +
                           ")::pg_catalog.text IS DISTINCT FROM ROW(" + join(declared) +
                           ")::pg_catalog.text"));
    }
    std::sort(skipped_.begin(), skipped_.end());
    return Status::ok();
  });
  pg::spi::delete_context(cxt);
  return st;
}

}  // namespace dbsync::ext
