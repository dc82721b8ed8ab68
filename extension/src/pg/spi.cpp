#include "extension/src/pg/spi.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace dbsync::pg::spi {

void connect() {
  int rc = pg_call([&] { return SPI_connect(); });
  if (rc != SPI_OK_CONNECT)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_connect failed: ") + SPI_result_code_string(rc));
}

void finish() {
  int rc = pg_call([&] { return SPI_finish(); });
  if (rc != SPI_OK_FINISH)
    throw PostgresError(ERRCODE_INTERNAL_ERROR,
                        std::string("SPI_finish failed: ") + SPI_result_code_string(rc));
}

int push_safe_search_path() {
  return pg_call([&] {
    int level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    // Text output the engine parses the same way whatever the session's settings.
    (void)set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    (void)set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    (void)set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    (void)set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    return level;
  });
}

void pop_search_path(int nest_level, bool ok) {
  pg_call([&] { AtEOXact_GUC(ok, nest_level); });
}

Rows execute(const std::string& sql, const std::vector<Param>& params, long limit) {
  const int n = static_cast<int>(params.size());
  std::vector<Oid> types(params.size(), TEXTOID);
  std::vector<Datum> values(params.size(), Datum(0));
  std::string nulls(params.size(), ' ');
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) {
      nulls[i] = 'n';
      continue;
    }
    const char* data = params[i]->data();
    int len = static_cast<int>(params[i]->size());
    values[i] = pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(data, len)); });
  }
  int rc = pg_call([&] {
    return SPI_execute_with_args(sql.c_str(), n, types.data(), values.data(), nulls.c_str(), false,
                                 limit);
  });
  if (rc < 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_execute failed: ") + SPI_result_code_string(rc));

  Rows out;
  out.processed = SPI_processed;
  SPITupleTable* table = SPI_tuptable;
  if (table == nullptr) return out;
  TupleDesc desc = table->tupdesc;
  const int ncols = desc->natts;
  for (int c = 0; c < ncols; ++c) {
    char* name = pg_call([&] { return SPI_fname(desc, c + 1); });
    out.columns.emplace_back(name ? name : "");
  }
  out.rows.reserve(SPI_processed);
  for (uint64_t r = 0; r < SPI_processed; ++r) {
    HeapTuple tuple = table->vals[r];
    std::vector<std::optional<std::string>> row;
    row.reserve(static_cast<size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      char* v = pg_call([&] { return SPI_getvalue(tuple, desc, c + 1); });
      if (v == nullptr) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(v));
        pg_call([&] { pfree(v); });
      }
    }
    out.rows.push_back(std::move(row));
  }
  pg_call([&] { SPI_freetuptable(table); });
  return out;
}

void check_single_statement(const std::string& sql) {
  int statements = pg_call([&] {
    SPIPlanPtr plan = SPI_prepare(sql.c_str(), 0, nullptr);
    if (plan == nullptr) return -1;
    int count = list_length(SPI_plan_get_plan_sources(plan));
    SPI_freeplan(plan);
    return count;
  });
  if (statements < 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_prepare failed: ") + SPI_result_code_string(SPI_result));
  if (statements != 1)
    throw PgError(ERRCODE_SYNTAX_ERROR,
                  "the SQL fragment must not end the statement it is part of");
}

Status to_values(const std::vector<std::optional<std::string>>& text_row,
                 const std::vector<const Column*>& columns, Row& out) {
  out.resize(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!text_row[i]) {
      out[i] = Value::null();
      continue;
    }
    Result<Value> v = value_from_text(*text_row[i], columns[i]->type);
    if (!v.is_ok()) return v.status().with_context("column '" + columns[i]->name + "'");
    out[i] = std::move(v).value();
  }
  return Status::ok();
}

}  // namespace dbsync::pg::spi
