#include "extension/src/local_source.hpp"

#include <utility>
#include <vector>

#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "engine/value_json.hpp"
#include "extension/src/pg/index_scan.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::ext {
namespace {

using pg::spi::Param;

// One stream of pages. The two page queries (the first page, and "after the previous page's
// last key") are prepared once per scan and kept, so committing between pages (the job runner
// does) does not lose them; they are freed when the scan ends or the reader is destroyed.
// With fingerprints (a table's rows: their xmin), a light reader's pages hold only the key
// columns, and lookup() reads full rows by key (json_populate_recordset over the table's own
// row type turns the keys' text back into the key columns' types).
struct Fingerprints {
  bool on = false;         // pages read xmin
  bool light = false;      // pages read only the key columns
  std::string lookup_sql;  // $1: a JSON array of key objects
  std::vector<const Column*> full_columns;
  std::vector<std::string> key_names;
};

class LocalRowReader final : public RowReader {
 public:
  // `direct`: pages are read straight from an index (pg::index_scan) while it can serve them,
  // through SPI from the first page it cannot on. The bounds are then in their columns' output
  // forms.
  LocalRowReader(std::string first_sql, std::string next_sql,
                 std::optional<std::vector<Param>> after, std::optional<std::vector<Param>> upto,
                 std::vector<const Column*> columns, size_t key_count, size_t page_rows,
                 Fingerprints fps, std::optional<pg::index_scan::Spec> direct)
      : first_sql_(std::move(first_sql)),
        next_sql_(std::move(next_sql)),
        has_after_(after.has_value()),
        has_upto_(upto.has_value()),
        first_params_(after ? std::move(*after) : std::vector<Param>{}),
        upto_params_(upto ? std::move(*upto) : std::vector<Param>{}),
        columns_(std::move(columns)),
        key_count_(key_count),
        page_rows_(page_rows),
        fps_(std::move(fps)),
        direct_(std::move(direct)) {}

  uint64_t fingerprint() const override { return fp_; }
  bool light() const override { return fps_.light; }

  Status lookup(const std::vector<Row>& keys,
                const std::function<Status(const Row&, uint64_t)>& fn) override {
    if (!fps_.light) return RowReader::lookup(keys, fn);
    if (keys.empty()) return Status::ok();
    std::string json =
        keys_json(fps_.key_names, keys, [](size_t, const Value& v) { return v.to_string(); });
    pg::spi::with_safe_search_path([&] {
      if (!lookup_plan_.prepared()) lookup_plan_.prepare(fps_.lookup_sql, 1);
      pg::spi::run_values(lookup_plan_, {Param(std::move(json))}, 0, fps_.full_columns, 0,
                          lookup_page_, true);
    });
    for (size_t r = 0; r < lookup_page_.size(); ++r) {
      if (!lookup_page_.errors[r].is_ok()) return lookup_page_.errors[r];
      DBSYNC_RETURN_IF_ERROR(fn(lookup_page_.rows[r], lookup_page_.fingerprints[r]));
    }
    return Status::ok();
  }

  Status next(const Row*& row) override {
    row = nullptr;
    if (pos_ >= page_.size()) {
      if (done_) return Status::ok();
      fetch();
      if (page_.size() == 0) return Status::ok();
    }
    const size_t r = pos_++;
    const Row& values = page_.rows[r];
    // A null key column (a nullable unique key) is passed on: the differ makes the row a row
    // error and the job goes on. Nulls sort last, so paging after one misses nothing else.
    if (!page_.errors[r].is_ok()) return page_.errors[r];
    fp_ = fps_.on ? page_.fingerprints[r] : 0;
    row = &values;
    return Status::ok();
  }

 private:
  void fetch() {
    std::vector<Param> params;
    pg::spi::KeptPlan* plan = &first_plan_;
    const std::string* sql = &first_sql_;
    const bool has_after = started_ || has_after_;
    if (started_) {
      // The last key of the previous page, as PostgreSQL printed it: it reads back exactly.
      params = page_.last_key_text;
      plan = &next_plan_;
      sql = &next_sql_;
    } else {
      params = first_params_;
    }
    started_ = true;
    pos_ = 0;
    // A bound with a null (the previous page ended on a null key) is for SQL's row comparison.
    for (const Param& p : params)
      if (!p) direct_.reset();
    if (direct_) {
      bool read = pg::spi::with_safe_search_path([&] {
        return pg::index_scan::read_page(*direct_, has_after ? &params : nullptr,
                                         has_upto_ ? &upto_params_ : nullptr, page_rows_, columns_,
                                         fps_.on, page_);
      });
      if (read) {
        if (page_.size() < page_rows_) done_ = true;
        return;
      }
      direct_.reset();  // the index cannot serve this page (any more): SPI from here on
    }
    params.insert(params.end(), upto_params_.begin(), upto_params_.end());
    pg::spi::with_safe_search_path([&] {
      if (!plan->prepared()) plan->prepare(*sql, static_cast<int>(params.size()));
      pg::spi::run_values(*plan, params, 0, columns_, key_count_, page_, fps_.on);
    });
    if (page_.size() < page_rows_) {
      done_ = true;
      first_plan_.free();
      next_plan_.free();
    }
  }

  std::string first_sql_, next_sql_;
  bool has_after_, has_upto_;
  std::vector<Param> first_params_, upto_params_;
  std::vector<const Column*> columns_;
  size_t key_count_;
  size_t page_rows_;
  Fingerprints fps_;
  std::optional<pg::index_scan::Spec> direct_;
  pg::spi::KeptPlan first_plan_, next_plan_, lookup_plan_;
  pg::spi::ValuePage page_, lookup_page_;
  uint64_t fp_ = 0;
  size_t pos_ = 0;
  bool started_ = false, done_ = false;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

// A key bound from the engine (a range's end) as text parameters; NULL stays NULL.
std::vector<Param> key_params(const Row& key, size_t key_count) {
  std::vector<Param> out;
  for (size_t i = 0; i < key_count && i < key.size(); ++i) {
    if (key[i].is_null())
      out.emplace_back(std::nullopt);
    else
      out.emplace_back(key[i].to_string());
  }
  return out;
}

}  // namespace

LocalSource::LocalSource(const pg::LocalTable& table, std::optional<std::string> filter)
    : table_(table), filter_(std::move(filter)) {
  if (filter_ && filter_->empty()) filter_.reset();
}

Result<std::unique_ptr<RowReader>> LocalSource::scan(const ScanRequest& request) {
  const Schema& schema = table_.schema;
  const size_t k = request.key_count;
  if (k == 0 || k > request.columns.size())
    return error(ErrorCode::kInternal, "a scan needs its key columns first");
  for (size_t idx : request.columns)
    if (idx >= schema.columns.size())
      return error(ErrorCode::kInternal,
                   "scan of " + table_.qualified + ": no column " + std::to_string(idx));
  for (const auto* end : {&request.range.after, &request.range.upto})
    if (*end && (*end)->size() < k)
      return error(ErrorCode::kInternal, "scan of " + table_.qualified + ": a short range key");

  // Row versions of a table or materialized view carry an xmin: the fingerprint.
  Fingerprints fps;
  fps.on = table_.relkind == 'r' || table_.relkind == 'm';
  fps.light = fps.on && request.light;
  std::vector<const Column*> columns;
  std::vector<std::string> select, full_select, key_exprs, key_names, key_cols;
  for (size_t i = 0; i < request.columns.size(); ++i) {
    size_t idx = request.columns[i];
    std::string q = pg::quote_ident(schema.columns[idx].name);
    fps.full_columns.push_back(&schema.columns[idx]);
    full_select.push_back(q);
    if (i < k || !fps.light) {
      columns.push_back(&schema.columns[idx]);
      select.push_back(q);
    }
    if (i < k) {
      key_exprs.push_back(q + (table_.collatable[idx] ? " COLLATE \"C\"" : ""));
      key_cols.push_back(q);
      fps.key_names.push_back(schema.columns[idx].name);
    }
  }
  if (fps.on) select.push_back("xmin");
  // ($1, $2, ...) cast to the key columns' own types, compared in the keys' collations.
  auto bound_key = [&](size_t first_param) {
    std::vector<std::string> items;
    for (size_t i = 0; i < k; ++i) {
      size_t idx = request.columns[i];
      items.push_back("CAST($" + std::to_string(first_param + i) + " AS " + table_.sql_types[idx] +
                      ")" + (table_.collatable[idx] ? " COLLATE \"C\"" : ""));
    }
    return "ROW(" + join(items) + ")";
  };
  const std::string key_row = "ROW(" + join(key_exprs) + ")";
  const size_t page_rows = request.batch_hint ? request.batch_hint : 1000;

  // The parameters: the lower bound (k of them) when there is one, then the upper bound.
  auto build = [&](bool has_after) {
    std::vector<std::string> where;
    if (filter_) where.push_back("(\n" + *filter_ + "\n)");
    size_t next_param = 1;
    if (has_after) {
      where.push_back(key_row + " > " + bound_key(next_param));
      next_param += k;
    }
    if (request.range.upto) where.push_back(key_row + " <= " + bound_key(next_param));
    std::string sql = "SELECT " + join(select) + " FROM " + table_.qualified;
    if (!where.empty()) {
      sql += " WHERE ";
      for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : "") + where[i];
    }
    return sql + " ORDER BY " + join(key_exprs) + " LIMIT " + std::to_string(page_rows);
  };

  if (filter_) {
    // A filter that ends the statement it is spliced into would run SQL of its own.
    std::string check = "SELECT 1 FROM " + table_.qualified + " WHERE (\n" + *filter_ + "\n)";
    pg::spi::with_safe_search_path([&] { pg::spi::check_single_statement(check); });
  }
  if (fps.light) {
    // Per key (its text back into the key columns' own types through the table's row type), the
    // row by its key and then the filter: OFFSET 0 keeps the planner from filtering the whole
    // table first.
    std::vector<std::string> u_cols, order;
    for (size_t i = 0; i < k; ++i) {
      const size_t idx = request.columns[i];
      u_cols.push_back("\"dbsync$keys\"." + key_cols[i]);
      order.push_back("\"dbsync$row\"." + key_cols[i] +
                      (table_.collatable[idx] ? " COLLATE \"C\"" : ""));
    }
    fps.lookup_sql =
        "SELECT \"dbsync$row\".* FROM pg_catalog.json_populate_recordset(NULL::" +
        table_.qualified + ", $1::pg_catalog.json) AS \"dbsync$keys\" CROSS JOIN LATERAL (SELECT " +
        join(full_select) + ", xmin FROM " + table_.qualified + " WHERE (" + join(key_cols) +
        ") = (" + join(u_cols) + ")" + (filter_ ? " AND (\n" + *filter_ + "\n)" : "") +
        " OFFSET 0) AS \"dbsync$row\" ORDER BY " + join(order);
  }
  std::optional<std::vector<Param>> after, upto;
  if (request.range.after) after = key_params(*request.range.after, k);
  if (request.range.upto) upto = key_params(*request.range.upto, k);

  // The direct index scan, when it gives exactly the SPI query's rows in its order.
  std::optional<pg::index_scan::Spec> direct;
  if (pg::index_scan::mode != pg::index_scan::kOff) {
    std::string why;
    auto has_null = [](const std::optional<std::vector<Param>>& bound) {
      if (!bound) return false;
      for (const Param& p : *bound)
        if (!p) return true;
      return false;
    };
    if (filter_)
      why = "the sync has a filter";
    else if (!fps.on)
      why = "not a table or a materialized view";
    else if (has_null(after) || has_null(upto))
      why = "a range bound holds NULL";
    else if ((direct = pg::index_scan::make_spec(static_cast<Oid>(std::stoul(table_.oid)), columns,
                                                 k, why)))
      why = pg::index_scan::unsuitable(*direct);
    if (!why.empty()) direct.reset();
    if (!direct && pg::index_scan::mode == pg::index_scan::kRequire)
      throw pg::PgError(pg::sqlstate("55000"),
                        "dbsync.direct_scan is \"require\" but " + table_.qualified +
                            " cannot be read from an index: " + why);
    if (direct) {
      // Range bounds cast to the key columns' types as the SPI query casts them (type modifiers
      // included), printed back: the index scan reads its bounds with the types' input functions.
      std::vector<std::string> casts;
      for (size_t i = 0; i < k; ++i)
        casts.push_back("CAST($" + std::to_string(i + 1) + " AS " +
                        table_.sql_types[request.columns[i]] + ")");
      for (auto* bound : {&after, &upto}) {
        if (!*bound) continue;
        pg::spi::Rows r = pg::spi::with_safe_search_path(
            [&] { return pg::spi::execute("SELECT " + join(casts), **bound); });
        if (r.size() != 1) throw pg::PgError(pg::sqlstate("XX000"), "a range bound did not cast");
        **bound = r.rows[0];
      }
    }
  }
  return std::unique_ptr<RowReader>(new LocalRowReader(
      build(request.range.after.has_value()), build(true), std::move(after), std::move(upto),
      std::move(columns), k, page_rows, std::move(fps), std::move(direct)));
}

Result<int64_t> LocalSource::estimate_rows() {
  if (!table_.indexable()) return int64_t{-1};  // a view or a foreign table: no statistics
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute("SELECT reltuples::bigint FROM pg_class WHERE oid = $1::oid",
                            {table_.oid});
  });
  if (r.empty() || !r.at(0, 0)) return int64_t{-1};
  int64_t n = std::stoll(*r.at(0, 0));
  return n < 0 ? int64_t{-1} : n;
}

}  // namespace dbsync::ext
