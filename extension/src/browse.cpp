// Browsing a datasource from SQL (and through dbsyncd, which calls these): its tables, a table's
// columns and primary key, and its rows in keyset pages by the primary key.
//
//   dbsync.tables(datasource, after_schema, after_name, lim)   schema, name, kind, estimated rows
//   dbsync.columns(datasource, table)                           position, name, type, nullable,
//                                                               key_position, default
//   dbsync.rows(datasource, table, after jsonb, lim)            one jsonb object per row
//
// Written once against the introspection interface (engine/introspection.hpp), PostgreSQL's
// (adapters/postgres/pg_introspection) for both: the master itself ('local') read through SPI as
// the caller (its privileges apply), a remote PostgreSQL-family datasource through the
// extension's non-blocking libpq connection (open_remote_table: decrypted conninfo, the latch
// served while waiting). Values are bound, the table name is the one PostgreSQL resolved and
// quoted. Answers are bounded by `lim` (at most 1000 rows per call).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

constexpr int64_t kMaxLimit = 1000;

using TextRow = std::vector<std::optional<std::string>>;

// One datasource opened for browsing: its introspector (the master's over SPI, a remote server's
// over the remote table's libpq connection) and, with a table, the table described.
class Browser {
 public:
  // Inside an spi::session. `table`: empty to list tables only.
  Browser(const std::string& datasource, const std::string& table) {
    pg::spi::Rows r =
        pg::spi::query("SELECT kind FROM dbsync.datasources WHERE name = $1", {datasource});
    if (r.empty())
      throw PgError(ERRCODE_UNDEFINED_OBJECT, "datasource \"" + datasource + "\" does not exist",
                    "", "dbsync.datasource_list shows the datasources.");
    if (is_master_kind(r.text(0, 0))) {
      reader_ = std::make_unique<pg::SpiCatalogReader>();
      if (!table.empty()) table_ = pg::describe_master_table(table);
    } else {
      if (!is_postgres_family(r.text(0, 0)))
        throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                      "datasource \"" + datasource + "\" (" + r.text(0, 0) +
                          ") is not a PostgreSQL server: the extension cannot browse it");
      // A connection comes with a table: pg_catalog.pg_class exists everywhere (listing tables
      // needs no table of the user's). Opening it describes the table.
      remote_ = pg::open_remote_table(datasource, table.empty() ? "pg_catalog.pg_class" : table,
                                      !pg::caller_is_superuser());
      reader_ = std::make_unique<pg::PqCatalogReader>(remote_->connection());
      if (!table.empty()) table_ = remote_->info().described;
      where_ = "datasource \"" + datasource + "\"";
    }
    introspector_.emplace(*reader_);
  }

  Introspector& introspector() { return *introspector_; }
  const pg::PgTableDescription& table() const { return table_; }

  // The value of an introspector's answer, or its error as an SQL error naming the datasource.
  template <typename T>
  T value(Result<T> r) {
    if (r.is_ok()) return std::move(r).value();
    throw PgError(pg::sqlstate_for(r.status().code()),
                  where_.empty() ? r.status().message() : where_ + ": " + r.status().message());
  }

 private:
  std::unique_ptr<pg::PgTable> remote_;
  std::unique_ptr<pg::CatalogReader> reader_;
  std::optional<pg::PgIntrospector> introspector_;
  pg::PgTableDescription table_;
  std::string where_;
};

std::optional<std::string> number(int64_t v) { return std::to_string(v); }

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

// Puts one row of Datums built from text into the SRF's tuplestore. `types`: per column, 't'
// text, 'i' int4, 'b' bool, 'l' int8, 'j' jsonb.
void put_text_row(ReturnSetInfo* rsinfo, MemoryContext scratch, const TextRow& row,
                  const char* types) {
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
  std::optional<TablePosition> after;
  if (!PG_ARGISNULL(1)) after = TablePosition{pg::text_arg(fcinfo, 1), pg::text_arg(fcinfo, 2)};
  int64_t lim = ext::limit_arg(fcinfo, 3);
  return ext::materialize(fcinfo, [&](ReturnSetInfo* rsinfo, MemoryContext scratch) {
    pg::spi::session([&] {
      ext::Browser b(datasource, "");
      for (const TableEntry& t : b.value(b.introspector().list_tables(after, lim)))
        ext::put_text_row(rsinfo, scratch,
                          {t.schema, t.name, t.kind, ext::number(t.estimated_rows)}, "tttl");
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
      for (const ColumnDescription& c : b.table().columns)
        ext::put_text_row(
            rsinfo, scratch,
            {ext::number(c.position), c.name, c.declared_type, std::string(c.nullable ? "t" : "f"),
             c.key_position ? ext::number(*c.key_position) : std::nullopt, c.default_expression},
            "ittbit");
    });
  });
}

// dbsync.rows(datasource text, "table" text, after jsonb, lim integer) RETURNS SETOF jsonb:
// the rows (to_jsonb) in primary key order, after the key given in `after` (an object with the
// key columns, e.g. the last row of the previous page; other fields are ignored).
DBSYNC_FUNCTION(dbsync_rows) {
  std::string datasource = ext::required_text(fcinfo, 0, "datasource");
  std::string table = ext::required_text(fcinfo, 1, "table");
  std::optional<std::string> after;
  if (!PG_ARGISNULL(2)) after = pg::jsonb_arg_text(fcinfo, 2);
  int64_t lim = ext::limit_arg(fcinfo, 3);
  return ext::materialize(fcinfo, [&](ReturnSetInfo* rsinfo, MemoryContext scratch) {
    pg::spi::session([&] {
      ext::Browser b(datasource, table);
      if (b.table().key_columns().empty())
        throw pg::PgError(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            "table " + b.table().qualified + " has no primary key: its rows cannot be paged", "",
            "dbsync.rows pages by the primary key.");
      dbsync::Result<std::vector<std::string>> rows =
          b.introspector().page_rows(b.table(), after, lim);
      // Refusals of `after` (not an object, a key column missing) are the caller's mistake.
      if (!rows.is_ok() && rows.status().code() == ErrorCode::kInvalidArgument)
        throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE, rows.status().message());
      if (!rows.is_ok() && rows.status().code() == ErrorCode::kNotFound)
        throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE, rows.status().message(), "",
                          "after is an object with every primary key column.");
      for (const std::string& row : b.value(std::move(rows)))
        ext::put_text_row(rsinfo, scratch, {row}, "j");
    });
  });
}
