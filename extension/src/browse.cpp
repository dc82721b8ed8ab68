// Browsing a datasource from SQL (and through dbsyncd, which calls these): its tables, a table's
// columns and primary key, and its rows in keyset pages by the primary key.
//
//   dbsync.tables(datasource, after_schema, after_name, lim)   schema, name, kind, estimated rows
//   dbsync.columns(datasource, table)                           position, name, type, nullable,
//                                                               key_position, default
//   dbsync.rows(datasource, table, after jsonb, lim)            one jsonb object per row
//
// The master itself ('local') is read through SPI as the caller (its privileges apply); a remote
// PostgreSQL-family datasource through the extension's non-blocking libpq connection
// (open_remote_table: decrypted conninfo, the latch served while waiting). The same catalog
// queries run on both; values are bound, the table name is the one PostgreSQL resolved and
// quoted. Answers are bounded by `lim` (at most 1000 rows per call).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_table.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/local_table.hpp"
#include "extension/src/pg/remote.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/syncs.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;
using pg::spi::Param;

constexpr int64_t kMaxLimit = 1000;

using TextRows = std::vector<std::vector<std::optional<std::string>>>;

// One datasource opened for browsing: the master through SPI, or a remote server through
// libpq. run() executes the same SQL text on either.
class Browser {
 public:
  // Inside an spi::session. `table`: empty to list tables only.
  Browser(const std::string& datasource, const std::string& table) {
    pg::spi::Rows r =
        pg::spi::query("SELECT kind FROM dbsync.datasources WHERE name = $1", {datasource});
    if (r.empty())
      throw PgError(ERRCODE_UNDEFINED_OBJECT, "datasource \"" + datasource + "\" does not exist",
                    "", "dbsync.datasource_list shows the datasources.");
    local_ = is_master_kind(r.text(0, 0));
    if (local_) {
      if (!table.empty()) qualified_ = pg::describe_local_table(table).qualified;
      return;
    }
    if (!is_postgres_family(r.text(0, 0)))
      throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "datasource \"" + datasource + "\" (" + r.text(0, 0) +
                        ") is not a PostgreSQL server: the extension cannot browse it");
    // A connection comes with a table: pg_catalog.pg_class exists everywhere (listing tables
    // needs no table of the user's).
    remote_ = pg::open_remote_table(datasource, table.empty() ? "pg_catalog.pg_class" : table,
                                    !pg::caller_is_superuser());
    if (!table.empty()) qualified_ = remote_->info().qualified;
    where_ = "datasource \"" + datasource + "\"";
  }

  const std::string& qualified() const { return qualified_; }

  TextRows run(const std::string& sql, const std::vector<Param>& params) {
    if (local_) return pg::spi::query(sql, params).rows;
    std::vector<pg::PgParam> p;
    for (const Param& v : params) p.push_back(v ? pg::PgParam::text(*v) : pg::PgParam::null());
    Result<pg::PgResult> res = remote_->connection().query(sql, p);
    if (!res.is_ok())
      throw PgError(pg::sqlstate_for(res.status().code()), where_ + ": " + res.status().message());
    TextRows out(static_cast<size_t>(res->rows()));
    for (int i = 0; i < res->rows(); ++i)
      for (int c = 0; c < res->cols(); ++c)
        out[i].push_back(res->is_null(i, c) ? std::nullopt
                                            : std::optional<std::string>(res->get(i, c)));
    return out;
  }

 private:
  bool local_ = false;
  std::unique_ptr<pg::PgTable> remote_;
  std::string qualified_;
  std::string where_;
};

int64_t limit_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return 100;
  int64_t lim = PG_GETARG_INT32(n);
  if (lim < 1 || lim > kMaxLimit)
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                  "lim must be from 1 to " + std::to_string(kMaxLimit));
  return lim;
}

std::string required_text(FunctionCallInfo fcinfo, int n, const char* what) {
  if (PG_ARGISNULL(n))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(what) + " must not be null");
  return pg::text_arg(fcinfo, n);
}

// Columns: position, name, type, nullable, key_position (in the primary key), default.
const char* const kColumnsSql =
    "SELECT a.attnum::pg_catalog.int4, a.attname::pg_catalog.text, "
    "pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
    "(SELECT k.i::pg_catalog.int4 FROM pg_catalog.pg_index x, "
    "  pg_catalog.unnest(x.indkey::pg_catalog.int2[]) WITH ORDINALITY k(att, i) "
    "  WHERE x.indrelid = a.attrelid AND x.indisprimary AND k.att OPERATOR(pg_catalog.=) "
    "a.attnum), "
    "pg_catalog.pg_get_expr(d.adbin, d.adrelid) "
    "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
    "  ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid AND d.adnum OPERATOR(pg_catalog.=) a.attnum "
    "WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
    "  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Key columns (primary key order) of a described table.
std::vector<std::string> key_columns(const TextRows& columns) {
  std::vector<std::pair<long, std::string>> keyed;
  for (const auto& c : columns)
    if (c[4]) keyed.emplace_back(std::stol(*c[4]), *c[1]);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  for (auto& [pos, name] : keyed) out.push_back(std::move(name));
  return out;
}

// Puts one row of Datums built from text into the SRF's tuplestore. `types`: per column, 't'
// text, 'i' int4, 'b' bool, 'l' int8, 'j' jsonb.
void put_text_row(ReturnSetInfo* rsinfo, MemoryContext scratch,
                  const std::vector<std::optional<std::string>>& row, const char* types) {
  const size_t n = row.size();
  std::vector<const char*> cells(n, nullptr);
  for (size_t i = 0; i < n; ++i)
    if (row[i]) cells[i] = row[i]->c_str();
  const char* const* data = cells.data();
  pg::pg_call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * n));
    bool* nulls = static_cast<bool*>(palloc0(sizeof(bool) * n));
    for (size_t i = 0; i < n; ++i) {
      nulls[i] = data[i] == nullptr;
      if (nulls[i]) continue;
      switch (types[i]) {
        case 'i':
          values[i] = DirectFunctionCall1(int4in, CStringGetDatum(data[i]));
          break;
        case 'l':
          values[i] = DirectFunctionCall1(int8in, CStringGetDatum(data[i]));
          break;
        case 'b':
          values[i] = DirectFunctionCall1(boolin, CStringGetDatum(data[i]));
          break;
        case 'j':
          values[i] = DirectFunctionCall1(jsonb_in, CStringGetDatum(data[i]));
          break;
        default:
          values[i] = CStringGetTextDatum(data[i]);
      }
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch);
  });
}

// Runs `body(rsinfo, scratch)` as a materialized set-returning function.
template <typename F>
Datum materialize(FunctionCallInfo fcinfo, F&& body) {
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  MemoryContext scratch = pg::pg_call([&] {
    return AllocSetContextCreate(CurrentMemoryContext, "dbsync browse row", ALLOCSET_SMALL_SIZES);
  });
  body(rsinfo, scratch);
  pg::pg_call([&] { MemoryContextDelete(scratch); });
  return Datum(0);
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;  // NOLINT: SQL entry points below

// dbsync.tables(datasource text, after_schema text, after_name text, lim integer)
//   RETURNS TABLE(schema text, name text, kind text, estimated_rows bigint)
// Tables, views, materialized views and foreign tables the caller (local) or the datasource's
// user (remote) may read, by schema and name (byte order), after (after_schema, after_name).
DBSYNC_FUNCTION(dbsync_tables) {
  std::string datasource = ext::required_text(fcinfo, 0, "datasource");
  if (PG_ARGISNULL(1) != PG_ARGISNULL(2))
    throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "after_schema and after_name go together (both or neither)");
  pg::spi::Param after_schema, after_name;
  if (!PG_ARGISNULL(1)) {
    after_schema = pg::text_arg(fcinfo, 1);
    after_name = pg::text_arg(fcinfo, 2);
  }
  int64_t lim = ext::limit_arg(fcinfo, 3);
  return ext::materialize(fcinfo, [&](ReturnSetInfo* rsinfo, MemoryContext scratch) {
    pg::spi::session([&] {
      ext::Browser b(datasource, "");
      ext::TextRows rows = b.run(
          "SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text, "
          "CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
          "  WHEN 'f' THEN 'foreign table' ELSE 'table' END, "
          "pg_catalog.float4larger(c.reltuples, 0)::pg_catalog.int8 "
          "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
          "  ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
          "WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f}'::pg_catalog.\"char\"[]) "
          "  AND NOT c.relispartition "
          "  AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{information_schema,dbsync}') "
          "  AND n.nspname::pg_catalog.text OPERATOR(pg_catalog.!~) '^pg_' "
          "  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') "
          "  AND ($1::pg_catalog.text IS NULL OR (n.nspname::pg_catalog.text COLLATE \"C\", "
          "       c.relname::pg_catalog.text COLLATE \"C\") OPERATOR(pg_catalog.>) "
          "($1::pg_catalog.text, $2::pg_catalog.text)) "
          "ORDER BY n.nspname::pg_catalog.text COLLATE \"C\", "
          "  c.relname::pg_catalog.text COLLATE \"C\" LIMIT $3::pg_catalog.int8",
          {after_schema, after_name, std::to_string(lim)});
      for (const auto& r : rows) ext::put_text_row(rsinfo, scratch, r, "tttl");
    });
  });
}

// dbsync.columns(datasource text, "table" text) RETURNS TABLE(position integer, name text,
//   type text, nullable boolean, key_position integer, "default" text)
DBSYNC_FUNCTION(dbsync_columns) {
  std::string datasource = ext::required_text(fcinfo, 0, "datasource");
  std::string table = ext::required_text(fcinfo, 1, "table");
  return ext::materialize(fcinfo, [&](ReturnSetInfo* rsinfo, MemoryContext scratch) {
    pg::spi::session([&] {
      ext::Browser b(datasource, table);
      ext::TextRows rows = b.run(ext::kColumnsSql, {b.qualified()});
      for (const auto& r : rows) ext::put_text_row(rsinfo, scratch, r, "ittbit");
    });
  });
}

// dbsync.rows(datasource text, "table" text, after jsonb, lim integer) RETURNS SETOF jsonb:
// the rows (to_jsonb) in primary key order, after the key given in `after` (an object with the
// key columns, e.g. the last row of the previous page; other fields are ignored).
DBSYNC_FUNCTION(dbsync_rows) {
  std::string datasource = ext::required_text(fcinfo, 0, "datasource");
  std::string table = ext::required_text(fcinfo, 1, "table");
  std::optional<nlohmann::json> after;
  if (!PG_ARGISNULL(2)) {
    after = nlohmann::json::parse(pg::jsonb_arg_text(fcinfo, 2), nullptr, false);
    if (!after->is_object())
      throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                        "after must be a JSON object of the primary key columns");
  }
  int64_t lim = ext::limit_arg(fcinfo, 3);
  return ext::materialize(fcinfo, [&](ReturnSetInfo* rsinfo, MemoryContext scratch) {
    pg::spi::session([&] {
      ext::Browser b(datasource, table);
      std::vector<std::string> key = ext::key_columns(b.run(ext::kColumnsSql, {b.qualified()}));
      if (key.empty())
        throw pg::PgError(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            "table " + b.qualified() + " has no primary key: its rows cannot be paged", "",
            "dbsync.rows pages by the primary key.");
      std::string cols, after_cols, order;
      nlohmann::json after_key = nlohmann::json::object();
      for (const std::string& k : key) {
        std::string q = pg::quote_ident(k);
        cols += (cols.empty() ? "" : ", ") + std::string("t.") + q;
        after_cols += (after_cols.empty() ? "" : ", ") + std::string("a.") + q;
        if (after) {
          if (!after->contains(k) || (*after)[k].is_null())
            throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                              "after lacks the key column \"" + k + "\"", "",
                              "after is an object with every primary key column.");
          after_key[k] = (*after)[k];
        }
      }
      std::string sql = "SELECT pg_catalog.to_jsonb(t) FROM " + b.qualified() + " t";
      std::vector<pg::spi::Param> params{std::to_string(lim)};
      if (after) {
        sql += " WHERE (" + cols + ") OPERATOR(pg_catalog.>) (SELECT " + after_cols +
               " FROM pg_catalog.jsonb_populate_record(NULL::" + b.qualified() +
               ", $2::pg_catalog.jsonb) a)";
        params.push_back(after_key.dump());
      }
      sql += " ORDER BY " + cols + " LIMIT $1::pg_catalog.int8";
      ext::TextRows rows = b.run(sql, params);
      for (const auto& r : rows) ext::put_text_row(rsinfo, scratch, r, "j");
    });
  });
}
