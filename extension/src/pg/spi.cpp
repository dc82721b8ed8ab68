#include "extension/src/pg/spi.hpp"

#include <cstring>
#include <memory>
#include <optional>

#include "engine/field_mapper.hpp"
#include "engine/hex.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace dbsync::pg::spi {

// session.hpp names these types for files that see no PostgreSQL header.
static_assert(kTextOid == TEXTOID && kTextArrayOid == TEXTARRAYOID);
static_assert(kByteaOid == BYTEAOID && kByteaArrayOid == BYTEAARRAYOID);

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
    // Our reads are keyset pages (ORDER BY the key LIMIT n after the last key): they must walk
    // an index in key order and stop after a page. Without statistics (a table just filled, such
    // as the baseline after a first sync) the planner may guess a handful of rows and pick a
    // bitmap scan plus a sort, which reads every remaining row for every page: quadratic.
    (void)set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    (void)set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    return level;
  });
}

void pop_search_path(int nest_level, bool ok) {
  pg_call([&] { AtEOXact_GUC(ok, nest_level); });
}

SavedUser become_owner_of(const char* schema, const char* table) {
  SavedUser saved;
  pg_call([&] {
    GetUserIdAndSecContext(&saved.user, &saved.sec_context);
    Oid relid = RangeVarGetRelid(makeRangeVar(pstrdup(schema), pstrdup(table), -1), NoLock, false);
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
    Oid owner = ((Form_pg_class)GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    SetUserIdAndSecContext(owner, saved.sec_context | SECURITY_LOCAL_USERID_CHANGE);
  });
  return saved;
}

void restore_user(const SavedUser& saved) {
  pg_call([&] { SetUserIdAndSecContext(saved.user, saved.sec_context); });
}

namespace {
// Text parameters as Datums in the current memory context (SPI's, freed with the session).
void text_datums(const std::vector<Param>& params, std::vector<Datum>& values, std::string& nulls) {
  values.assign(params.size(), Datum(0));
  nulls.assign(params.size(), ' ');
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) {
      nulls[i] = 'n';
      continue;
    }
    const char* data = params[i]->data();
    int len = static_cast<int>(params[i]->size());
    values[i] = pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(data, len)); });
  }
}

// Runs `sql` with text parameters: SPI_tuptable and SPI_processed hold the answer.
void run_with_text_params(const std::string& sql, const std::vector<Param>& params, long limit) {
  std::vector<Oid> types(params.size(), TEXTOID);
  std::vector<Datum> values;
  std::string nulls;
  text_datums(params, values, nulls);
  int rc = pg_call([&] {
    return SPI_execute_with_args(sql.c_str(), static_cast<int>(params.size()), types.data(),
                                 values.data(), nulls.c_str(), false, limit);
  });
  if (rc < 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_execute failed: ") + SPI_result_code_string(rc));
}

}  // namespace

Rows execute(const std::string& sql, const std::vector<Param>& params, long limit) {
  run_with_text_params(sql, params, limit);
  return take_tuptable();
}

Rows take_tuptable(bool column_names) {
  Rows out;
  out.processed = SPI_processed;
  SPITupleTable* table = SPI_tuptable;
  if (table == nullptr) return out;
  TupleDesc desc = table->tupdesc;
  const int ncols = desc->natts;
  for (int c = 0; column_names && c < ncols; ++c) {
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

namespace {

Datum build_varlena_array(const char* const* data, const int* lens, const bool* nulls, int n,
                          Oid elem_type, MemoryContext cxt) {
  return pg_call([&] {
    MemoryContext old = MemoryContextSwitchTo(cxt ? cxt : CurrentMemoryContext);
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * static_cast<size_t>(n ? n : 1)));
    bool* isnull = static_cast<bool*>(palloc(sizeof(bool) * static_cast<size_t>(n ? n : 1)));
    for (int i = 0; i < n; ++i) {
      isnull[i] = nulls[i];
      elems[i] = nulls[i] ? Datum(0) : PointerGetDatum(cstring_to_text_with_len(data[i], lens[i]));
    }
    int dims[1] = {n};
    int lbs[1] = {1};
    ArrayType* a =
        construct_md_array(elems, isnull, 1, dims, lbs, elem_type, -1, false, TYPALIGN_INT);
    // The array holds copies: the elements go now, so a batch costs one copy of its values.
    for (int i = 0; i < n; ++i)
      if (!isnull[i]) pfree(DatumGetPointer(elems[i]));
    pfree(elems);
    pfree(isnull);
    MemoryContextSwitchTo(old);
    return PointerGetDatum(a);
  });
}

}  // namespace

Datum varlena_array(const std::vector<std::optional<std::string>>& items, Oid elem_type,
                    MemoryContext cxt) {
  std::vector<const char*> data(items.size(), nullptr);
  std::vector<int> lens(items.size(), 0);
  std::unique_ptr<bool[]> nulls(new bool[items.size() + 1]);
  for (size_t i = 0; i < items.size(); ++i) {
    nulls[i] = !items[i].has_value();
    if (items[i]) {
      data[i] = items[i]->data();
      lens[i] = static_cast<int>(items[i]->size());
    }
  }
  return build_varlena_array(data.data(), lens.data(), nulls.get(), static_cast<int>(items.size()),
                             elem_type, cxt);
}

Datum varlena_array(const std::vector<std::string>& items, Oid elem_type, MemoryContext cxt) {
  std::vector<const char*> data(items.size(), nullptr);
  std::vector<int> lens(items.size(), 0);
  std::unique_ptr<bool[]> nulls(new bool[items.size() + 1]());
  for (size_t i = 0; i < items.size(); ++i) {
    data[i] = items[i].data();
    lens[i] = static_cast<int>(items[i].size());
  }
  return build_varlena_array(data.data(), lens.data(), nulls.get(), static_cast<int>(items.size()),
                             elem_type, cxt);
}

TypedParam text_param(const Param& value, MemoryContext cxt) {
  TypedParam p;
  p.type = TEXTOID;
  if (!value) {
    p.is_null = true;
    return p;
  }
  const char* data = value->data();
  int len = static_cast<int>(value->size());
  p.value = pg_call([&] {
    MemoryContext old = MemoryContextSwitchTo(cxt ? cxt : CurrentMemoryContext);
    Datum d = PointerGetDatum(cstring_to_text_with_len(data, len));
    MemoryContextSwitchTo(old);
    return d;
  });
  return p;
}

namespace {
void run_typed(const std::string& sql, const std::vector<TypedParam>& params) {
  const int n = static_cast<int>(params.size());
  std::vector<Oid> types(params.size());
  std::vector<Datum> values(params.size());
  std::string nulls(params.size(), ' ');
  for (size_t i = 0; i < params.size(); ++i) {
    types[i] = params[i].type;
    values[i] = params[i].value;
    if (params[i].is_null) nulls[i] = 'n';
  }
  int rc = pg_call([&] {
    return SPI_execute_with_args(sql.c_str(), n, types.data(), values.data(), nulls.c_str(), false,
                                 0);
  });
  if (rc < 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_execute failed: ") + SPI_result_code_string(rc));
}
}  // namespace

uint64_t execute_typed(const std::string& sql, const std::vector<TypedParam>& params) {
  run_typed(sql, params);
  uint64_t processed = SPI_processed;
  if (SPI_tuptable != nullptr) pg_call([&] { SPI_freetuptable(SPI_tuptable); });
  return processed;
}

Rows execute_typed_rows(const std::string& sql, const std::vector<TypedParam>& params) {
  run_typed(sql, params);
  return take_tuptable();
}

MemoryContext create_context(const char* name, MemoryContext parent) {
  return pg_call([&] {
    // (the name is a string literal at every call: the macro's check cannot see through this)
    return AllocSetContextCreateInternal(parent ? parent : CurrentMemoryContext, name,
                                         ALLOCSET_DEFAULT_SIZES);
  });
}

void delete_context(MemoryContext cxt) {
  pg_call([&] { MemoryContextDelete(cxt); });
}

namespace {
// Plans whose execution an ERROR cut off (see KeptPlan). Freed by the next prepare(): by then the
// failed (sub)transaction has been aborted, which released its references to them.
std::vector<SPIPlanPtr> g_orphaned_plans;
}  // namespace

KeptPlan::~KeptPlan() {
  if (plan_ == nullptr) return;
  SPIPlanPtr plan = plan_;
  plan_ = nullptr;
  if (executing_) {
    try {
      g_orphaned_plans.push_back(plan);
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory: the plan stays leaked
    }
    return;
  }
  try {
    pg_call([&] { SPI_freeplan(plan); });
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; see the header
  }
}

void KeptPlan::prepare(const std::string& sql, int text_params) {
  free();
  while (!g_orphaned_plans.empty()) {
    SPIPlanPtr orphan = g_orphaned_plans.back();
    g_orphaned_plans.pop_back();
    pg_call([&] { SPI_freeplan(orphan); });
  }
  std::vector<Oid> types(static_cast<size_t>(text_params), TEXTOID);
  SPIPlanPtr plan = pg_call([&] { return SPI_prepare(sql.c_str(), text_params, types.data()); });
  if (plan == nullptr)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_prepare failed: ") + SPI_result_code_string(SPI_result));
  int rc = pg_call([&] { return SPI_keepplan(plan); });
  if (rc != 0) {
    pg_call([&] { SPI_freeplan(plan); });
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_keepplan failed: ") + SPI_result_code_string(rc));
  }
  plan_ = plan;
}

void KeptPlan::free() {
  if (plan_ == nullptr) return;
  SPIPlanPtr plan = plan_;
  plan_ = nullptr;
  executing_ = false;
  pg_call([&] { SPI_freeplan(plan); });
}

uint64_t KeptPlan::run(const std::vector<Param>& params, long limit) {
  if (plan_ == nullptr) throw PgError(ERRCODE_INTERNAL_ERROR, "a kept plan run before prepare");
  std::vector<Datum> values;
  std::string nulls;
  text_datums(params, values, nulls);
  SPIPlanPtr plan = plan_;
  executing_ = true;  // stays set if an ERROR cuts the execution off (see the destructor)
  int rc =
      pg_call([&] { return SPI_execute_plan(plan, values.data(), nulls.c_str(), false, limit); });
  executing_ = false;
  if (rc < 0)
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  std::string("SPI_execute_plan failed: ") + SPI_result_code_string(rc));
  return SPI_processed;
}

std::string bytea_hex(const std::string& bytes) { return hex::encode_bytea(bytes); }

Result<std::string> bytea_from_hex(const std::string& text) {
  std::optional<std::string> bytes = hex::decode_bytea(text);
  if (!bytes) return error(ErrorCode::kInternal, "bytea not in hex output form");
  return std::move(*bytes);
}

Rows execute_bytes(const std::string& sql, const std::vector<Param>& params) {
  run_with_text_params(sql, params, 0);
  Rows out;
  out.processed = SPI_processed;
  SPITupleTable* table = SPI_tuptable;
  if (table == nullptr) return out;
  TupleDesc desc = table->tupdesc;
  const int ncols = desc->natts;
  for (int c = 0; c < ncols; ++c)
    if (TupleDescAttr(desc, c)->atttypid != BYTEAOID)
      throw PgError(ERRCODE_INTERNAL_ERROR, "execute_bytes: a column is not bytea");
  out.rows.resize(SPI_processed);
  // Per row: the detoasted values' pointers and lengths, copied out after the call.
  std::vector<const char*> ptrs(static_cast<size_t>(ncols));
  std::vector<int> lens(static_cast<size_t>(ncols));
  for (uint64_t r = 0; r < SPI_processed; ++r) {
    HeapTuple tuple = table->vals[r];
    pg_call([&] {
      for (int c = 0; c < ncols; ++c) {
        bool isnull = false;
        Datum d = SPI_getbinval(tuple, desc, c + 1, &isnull);
        if (isnull) {
          ptrs[c] = nullptr;
          continue;
        }
        bytea* b = DatumGetByteaPP(d);
        ptrs[c] = VARDATA_ANY(b);
        lens[c] = static_cast<int>(VARSIZE_ANY_EXHDR(b));
      }
    });
    auto& row = out.rows[r];
    row.reserve(static_cast<size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (ptrs[c])
        row.emplace_back(std::string(ptrs[c], static_cast<size_t>(lens[c])));
      else
        row.emplace_back(std::nullopt);
    }
  }
  pg_call([&] { SPI_freetuptable(table); });
  return out;
}

namespace {

// SPI_tuptable (bytea columns only) into `out`, then freed.
void read_bytes_page(BytesPage& out) {
  SPITupleTable* table = SPI_tuptable;
  if (table == nullptr) return;
  TupleDesc desc = table->tupdesc;
  const int ncols = desc->natts;
  for (int c = 0; c < ncols; ++c)
    if (TupleDescAttr(desc, c)->atttypid != BYTEAOID)
      throw PgError(ERRCODE_INTERNAL_ERROR, "execute_bytes: a column is not bytea");
  out.ncols = static_cast<size_t>(ncols);
  const uint64_t n = SPI_processed;
  out.cells.reserve(n * out.ncols);
  out.nulls.reserve(n * out.ncols);
  std::vector<Datum> datums(out.ncols);
  std::unique_ptr<bool[]> isnull(new bool[out.ncols]);
  std::vector<const char*> ptrs(out.ncols);
  std::vector<size_t> lens(out.ncols);
  Datum* datums_p = datums.data();
  bool* isnull_p = isnull.get();
  const char** ptrs_p = ptrs.data();
  size_t* lens_p = lens.data();
  for (uint64_t r = 0; r < n; ++r) {
    HeapTuple tuple = table->vals[r];
    pg_call([&] {
      heap_deform_tuple(tuple, desc, datums_p, isnull_p);
      for (int c = 0; c < ncols; ++c) {
        ptrs_p[c] = nullptr;
        if (isnull_p[c]) continue;
        bytea* b = DatumGetByteaPP(datums_p[c]);
        ptrs_p[c] = VARDATA_ANY(b);
        lens_p[c] = VARSIZE_ANY_EXHDR(b);
      }
    });
    for (size_t c = 0; c < out.ncols; ++c) {
      out.nulls.push_back(ptrs[c] == nullptr);
      out.cells.emplace_back(out.data.size(), ptrs[c] ? lens[c] : 0);
      if (ptrs[c]) out.data.append(ptrs[c], lens[c]);
    }
  }
  pg_call([&] { SPI_freetuptable(table); });
}

void clear_bytes_page(BytesPage& out) {
  out.data.clear();
  out.cells.clear();
  out.nulls.clear();
  out.ncols = 0;
}

}  // namespace

void execute_bytes_into(const std::string& sql, const std::vector<Param>& params, BytesPage& out) {
  clear_bytes_page(out);
  run_with_text_params(sql, params, 0);
  read_bytes_page(out);
}

void run_bytes_into(KeptPlan& plan, const std::vector<Param>& params, BytesPage& out) {
  clear_bytes_page(out);
  plan.run(params);
  read_bytes_page(out);
}

Rows query(const std::string& sql, const std::vector<Param>& params) {
  return with_safe_search_path([&] { return execute(sql, params); });
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
