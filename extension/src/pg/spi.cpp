#include "extension/src/pg/spi.hpp"

#include <cstring>
#include <memory>
#include <optional>

#include "engine/decimal.hpp"
#include "engine/field_mapper.hpp"
#include "engine/timeutil.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
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

namespace {
// The rows SPI_tuptable holds, as text (the table is freed).
Rows rows_of_tuptable();
}  // namespace

Rows execute(const std::string& sql, const std::vector<Param>& params, long limit) {
  run_with_text_params(sql, params, limit);
  return rows_of_tuptable();
}

namespace {
Rows rows_of_tuptable() {
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
}  // namespace

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
  return rows_of_tuptable();
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

namespace {

// numeric as stored (numeric.c keeps the struct private; the layout is the on-disk format, which
// pg_upgrade carries over): after the varlena header a 16-bit word whose top two bits say the form.
//  - 0x8000 short: bit 0x2000 the sign, bits 0x1F80 the display scale, bits 0x007F the weight
//    (a 7-bit two's complement number), then the digits;
//  - 0x0000 / 0x4000 long (positive / negative): the low 14 bits the display scale, then an
//    int16 weight, then the digits;
//  - 0xC000 special: NaN and the infinities (read through the output text).
// The digits are int16 in base 10000, most significant first; the first has weight `weight`
// (a power of 10000). Stored values have no leading zero digit (zero has no digits at all).
struct NumericParts {
  const char* digits;  // ndigits int16 values, possibly unaligned
  int ndigits;
  int weight;
  int dscale;
  bool negative;
};

constexpr uint16_t kNumericFormMask = 0xC000, kNumericNegative = 0x4000, kNumericShort = 0x8000,
                   kNumericSpecial = 0xC000;
constexpr int kNumericBase = 10000;

int16_t numeric_digit(const char* digits, int i) {
  int16_t d;
  memcpy(&d, digits + 2 * i, sizeof d);
  return d;
}

// The parts of a finite numeric whose bytes (after the varlena header) are `data`; false for a
// special value or anything that is not a well-formed stored numeric.
bool numeric_parts(const char* data, size_t len, NumericParts* out) {
  uint16_t header;
  if (len < sizeof header) return false;
  memcpy(&header, data, sizeof header);
  size_t header_len = sizeof header;
  const uint16_t form = header & kNumericFormMask;
  if (form == kNumericSpecial) return false;
  if (form == kNumericShort) {
    out->negative = (header & 0x2000) != 0;
    out->dscale = (header & 0x1F80) >> 7;
    out->weight = (header & 0x0040) ? static_cast<int>(header & 0x003F) - 64 : header & 0x003F;
  } else {
    int16_t weight;
    if (len < header_len + sizeof weight) return false;
    memcpy(&weight, data + header_len, sizeof weight);
    header_len += sizeof weight;
    out->negative = form == kNumericNegative;
    out->dscale = header & 0x3FFF;
    out->weight = weight;
  }
  if ((len - header_len) % 2 != 0) return false;
  out->digits = data + header_len;
  out->ndigits = static_cast<int>((len - header_len) / 2);
  return true;
}

// Whether numeric_text() prints `n` as numeric_out does (then decimal::parse would give the same
// canonical text): digits in range, no leading zero digit, within the engine's limits.
bool numeric_direct(const NumericParts& n) {
  for (int i = 0; i < n.ndigits; ++i) {
    const int16_t d = numeric_digit(n.digits, i);
    if (d < 0 || d >= kNumericBase || (i == 0 && d == 0)) return false;
  }
  if (n.dscale > decimal::kMaxScale) return false;
  if (n.ndigits > 0 && n.weight >= 0) {
    const int16_t first = numeric_digit(n.digits, 0);
    const int first_len = first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1;
    if (first_len + 4 * static_cast<int64_t>(n.weight) > decimal::kMaxIntegerDigits) return false;
  }
  return true;
}

// Base-10000 digit group `g` of `n` (0 past the stored digits) as its 4 characters into `out`;
// with `strip_leading`, without its leading zeros (the first group). Returns the characters
// written. Plain C (jsonb numbers inside a pg_call, numeric_text).
int numeric_group(const NumericParts& n, int g, bool strip_leading, char* out) {
  int d = g >= 0 && g < n.ndigits ? numeric_digit(n.digits, g) : 0;
  char group[4];
  for (int i = 3; i >= 0; --i, d /= 10) group[i] = static_cast<char>('0' + d % 10);
  int from = 0;
  if (strip_leading)
    while (from < 3 && group[from] == '0') ++from;
  memcpy(out, group + from, static_cast<size_t>(4 - from));
  return 4 - from;
}

// jsonb straight to the engine's canonical JSON text (engine/json_canonical: compact, object keys
// in byte order), for the documents its fast form covers: strings that need no escaping, whole
// numbers of at most 18 digits, true, false, null, at most 32 levels deep. Anything else returns
// false and is read through jsonb's output text, as before, so both give the same text. Plain C
// (called inside a pg_call); allocates in the current (row) context.
constexpr int kJsonbMaxDepth = 32;

struct JsonbMember {
  const char* key;
  int key_len;
  JsonbValue value;  // a scalar, or jbvBinary: a nested container, read when it is written
};

int jsonb_member_order(const void* a, const void* b) {
  const auto* x = static_cast<const JsonbMember*>(a);
  const auto* y = static_cast<const JsonbMember*>(b);
  const int n = x->key_len < y->key_len ? x->key_len : y->key_len;
  const int c = memcmp(x->key, y->key, static_cast<size_t>(n));
  if (c != 0) return c;
  return x->key_len < y->key_len ? -1 : (x->key_len > y->key_len ? 1 : 0);
}

bool jsonb_plain_string(const char* s, int len) {
  for (int i = 0; i < len; ++i) {
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x20 || ch == '"' || ch == '\\') return false;
  }
  return true;  // the database's encoding (UTF-8, checked by the caller) is valid by construction
}

bool jsonb_canonical_value(JsonbValue* v, StringInfo out, int depth);

bool jsonb_canonical_container(JsonbContainer* container, StringInfo out, int depth) {
  if (depth > kJsonbMaxDepth) return false;
  JsonbIterator* it = JsonbIteratorInit(container);
  JsonbValue v;
  JsonbIteratorToken tok = JsonbIteratorNext(&it, &v, true);
  if (tok == WJB_BEGIN_ARRAY) {
    const bool raw_scalar = v.val.array.rawScalar;
    if (!raw_scalar) appendStringInfoChar(out, '[');
    bool first = true;
    while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_ELEM) {
      if (!first) appendStringInfoChar(out, ',');
      first = false;
      if (!jsonb_canonical_value(&v, out, depth)) return false;
    }
    if (!raw_scalar) appendStringInfoChar(out, ']');
    return true;
  }
  if (tok != WJB_BEGIN_OBJECT) return false;
  const int pairs = v.val.object.nPairs;
  auto* members = static_cast<JsonbMember*>(palloc(sizeof(JsonbMember) * (pairs > 0 ? pairs : 1)));
  int n = 0;
  // The members first (their values point into the document), then written in order.
  while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_KEY) {
    if (n >= pairs || !jsonb_plain_string(v.val.string.val, v.val.string.len)) return false;
    JsonbMember& m = members[n++];
    m.key = v.val.string.val;
    m.key_len = v.val.string.len;
    if (JsonbIteratorNext(&it, &m.value, true) != WJB_VALUE) return false;
  }
  // jsonb keeps keys shortest first; the canonical form wants byte order (jsonb's are unique).
  // Often the two agree already (keys of one length, or lengths and bytes ascending together).
  bool in_order = true;
  for (int i = 1; i < n && in_order; ++i)
    in_order = jsonb_member_order(&members[i - 1], &members[i]) < 0;
  if (!in_order) qsort(members, static_cast<size_t>(n), sizeof(JsonbMember), jsonb_member_order);
  appendStringInfoChar(out, '{');
  for (int i = 0; i < n; ++i) {
    if (i > 0) appendStringInfoChar(out, ',');
    appendStringInfoChar(out, '"');
    appendBinaryStringInfo(out, members[i].key, members[i].key_len);
    appendBinaryStringInfo(out, "\":", 2);
    if (!jsonb_canonical_value(&members[i].value, out, depth)) return false;
  }
  appendStringInfoChar(out, '}');
  pfree(members);
  return true;
}

bool jsonb_canonical_value(JsonbValue* v, StringInfo out, int depth) {
  switch (v->type) {
    case jbvBinary:
      return jsonb_canonical_container(v->val.binary.data, out, depth + 1);
    case jbvNull:
      appendBinaryStringInfo(out, "null", 4);
      return true;
    case jbvBool:
      if (v->val.boolean)
        appendBinaryStringInfo(out, "true", 4);
      else
        appendBinaryStringInfo(out, "false", 5);
      return true;
    case jbvString:
      if (!jsonb_plain_string(v->val.string.val, v->val.string.len)) return false;
      appendStringInfoChar(out, '"');
      appendBinaryStringInfo(out, v->val.string.val, v->val.string.len);
      appendStringInfoChar(out, '"');
      return true;
    case jbvNumeric: {
      // As jsonb prints it (numeric_out), from the stored digits; only a whole number (display
      // scale 0) of at most 18 digits.
      const auto* num = reinterpret_cast<const struct varlena*>(v->val.numeric);
      NumericParts n{};
      if (VARATT_IS_EXTERNAL(num) || VARATT_IS_COMPRESSED(num) ||
          !numeric_parts(VARDATA_ANY(num), VARSIZE_ANY_EXHDR(num), &n) || !numeric_direct(n) ||
          n.dscale != 0 || n.weight >= 5 || n.ndigits > n.weight + 1)
        return false;
      if (n.ndigits == 0) {  // zero (stored without digits or sign)
        appendStringInfoChar(out, '0');
        return true;
      }
      char buf[24];
      int len = 0;
      if (n.negative) buf[len++] = '-';
      const int first = len;
      for (int g = 0; g <= n.weight; ++g)  // base-10000 groups; missing ones are zeros
        len += numeric_group(n, g, g == 0, buf + len);
      if (len - first > 18) return false;
      appendBinaryStringInfo(out, buf, len);
      return true;
    }
    default:
      return false;
  }
}

// Days and microseconds between PostgreSQL's epoch (2000-01-01) and the Unix epoch.
constexpr int32_t kPgEpochDays = 10957;
constexpr int64_t kPgEpochMicros = int64_t{kPgEpochDays} * 86400 * 1000000;

// The engine's canonical decimal text of `n` (see engine/decimal.hpp): numeric_out's digits (the
// integer part, then exactly dscale fraction digits: trailing zeros kept, digits past the scale
// cut off), no sign on zero. C++ only (convert()).
std::string numeric_text(const NumericParts& n) {
  std::string out;
  const int int_groups = n.ndigits > 0 && n.weight >= 0 ? n.weight + 1 : 0;
  const int frac_groups = (n.dscale + 3) / 4;
  out.reserve(2 + 4 * static_cast<size_t>(int_groups + frac_groups));
  out.push_back('-');  // dropped again below for a positive value or one that prints as zero
  bool nonzero = false;
  auto put_group = [&](int g, bool strip_leading) {
    char group[4];
    out.append(group, static_cast<size_t>(numeric_group(n, g, strip_leading, group)));
  };
  if (int_groups == 0) {
    out.push_back('0');
  } else {
    nonzero = true;  // the first digit is not zero (numeric_direct)
    for (int g = 0; g < int_groups; ++g) put_group(g, g == 0);
  }
  if (n.dscale > 0) {
    out.push_back('.');
    const size_t point = out.size();
    for (int j = 0; j < frac_groups; ++j) put_group(n.weight + 1 + j, false);
    out.resize(point + static_cast<size_t>(n.dscale));
    if (!nonzero) nonzero = out.find_first_not_of('0', point) != std::string::npos;
  }
  if (!n.negative || !nonzero) out.erase(0, 1);
  return out;
}

}  // namespace

RowConverter::ReadAs RowConverter::read_as(Oid type, const TypeSpec& spec, bool utf8) {
  switch (type) {
    case INT2OID:
      return spec.kind == TypeKind::kInt ? ReadAs::kInt2 : ReadAs::kOutput;
    case INT4OID:
      return spec.kind == TypeKind::kInt ? ReadAs::kInt4 : ReadAs::kOutput;
    case INT8OID:
      return spec.kind == TypeKind::kInt ? ReadAs::kInt8 : ReadAs::kOutput;
    case FLOAT4OID:
      // The engine keeps a single-precision column's values rounded to float (precision 24):
      // the float4 itself, widened, is what its printed text parses back to.
      return spec.kind == TypeKind::kFloat && spec.precision == 24 ? ReadAs::kFloat4
                                                                   : ReadAs::kOutput;
    case FLOAT8OID:
      return spec.kind == TypeKind::kFloat ? ReadAs::kFloat8 : ReadAs::kOutput;
    case BOOLOID:
      return spec.kind == TypeKind::kBool ? ReadAs::kBool : ReadAs::kOutput;
    case TEXTOID:
    case VARCHAROID:
      return ReadAs::kText;  // the Datum's bytes are the output text
    case TIMESTAMPTZOID:
      return spec.kind == TypeKind::kTimestamp && spec.with_time_zone ? ReadAs::kTimestamp
                                                                      : ReadAs::kOutput;
    case TIMESTAMPOID:
      // The wall time's microseconds as if in UTC: what its printed text parses back to.
      return spec.kind == TypeKind::kTimestamp && !spec.with_time_zone ? ReadAs::kTimestamp
                                                                       : ReadAs::kOutput;
    case DATEOID:
      return spec.kind == TypeKind::kDate ? ReadAs::kDate : ReadAs::kOutput;
    case JSONBOID:
      return spec.kind == TypeKind::kJson && utf8 ? ReadAs::kJsonb : ReadAs::kOutput;
    case NUMERICOID:
      return spec.kind == TypeKind::kDecimal ? ReadAs::kNumeric : ReadAs::kOutput;
    default:
      return ReadAs::kOutput;
  }
}

void RowConverter::begin(const Oid* types, const std::vector<const Column*>& columns,
                         size_t key_text_columns) {
  columns_ = &columns;
  const size_t ncols = columns.size();
  how_.assign(ncols, ReadAs::kOutput);
  output_.assign(ncols, FmgrInfo{});
  text_.assign(ncols, nullptr);
  text_len_.assign(ncols, 0);
  canonical_.assign(ncols, 0);
  page_cxt_ = create_context("dbsync page");
  row_cxt_ = create_context("dbsync page row", page_cxt_);
  MemoryContext page_cxt = page_cxt_;
  const bool utf8 = pg_call([] { return GetDatabaseEncoding() == PG_UTF8; });
  for (size_t c = 0; c < ncols; ++c) {
    Oid type = types[c];
    how_[c] = read_as(type, columns[c]->type, utf8);
    // The output function too for values read through their text (the kinds read from the
    // Datum fall back to it for what they do not cover).
    if (how_[c] >= ReadAs::kTimestamp || c < key_text_columns) {
      FmgrInfo* f = &output_[c];
      pg_call([&] {
        Oid func;
        bool varlena;
        getTypeOutputInfo(type, &func, &varlena);
        fmgr_info_cxt(func, f, page_cxt);
      });
    }
  }
}

void RowConverter::extract(const Datum* datums, const bool* isnull) {
  const size_t ncols = how_.size();
  const ReadAs* how = how_.data();
  FmgrInfo* output = output_.data();
  const char** text = text_.data();
  int* text_len = text_len_.data();
  MemoryContextReset(row_cxt_);
  MemoryContext old = MemoryContextSwitchTo(row_cxt_);
  uint8_t* canonical = canonical_.data();
  for (size_t c = 0; c < ncols; ++c) {
    text[c] = nullptr;
    canonical[c] = 0;
    if (isnull[c]) continue;
    bool through_text = false;
    switch (how[c]) {
      case ReadAs::kText: {
        struct varlena* t = pg_detoast_datum_packed(reinterpret_cast<struct varlena*>(datums[c]));
        text[c] = VARDATA_ANY(t);
        text_len[c] = static_cast<int>(VARSIZE_ANY_EXHDR(t));
        break;
      }
      case ReadAs::kTimestamp: {
        // The last years of PostgreSQL's range, past the engine's: as text (which refuses them).
        const Timestamp t = DatumGetTimestamp(datums[c]);
        through_text = !TIMESTAMP_NOT_FINITE(t) && t > INT64_MAX - kPgEpochMicros;
        break;
      }
      case ReadAs::kDate: {
        const DateADT d = DatumGetDateADT(datums[c]);
        through_text = !DATE_NOT_FINITE(d) && d > INT32_MAX - kPgEpochDays;
        break;
      }
      case ReadAs::kJsonb: {
        Jsonb* jb = DatumGetJsonbP(datums[c]);
        StringInfoData buf;
        initStringInfo(&buf);
        if (jsonb_canonical_container(&jb->root, &buf, 0)) {
          text[c] = buf.data;
          text_len[c] = buf.len;
          canonical[c] = 1;
        } else {
          through_text = true;
        }
        break;
      }
      case ReadAs::kNumeric: {
        // The digits straight from the Datum; NaN and the infinities through the text.
        struct varlena* v = pg_detoast_datum_packed(reinterpret_cast<struct varlena*>(datums[c]));
        NumericParts parts{};
        if (numeric_parts(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &parts) && numeric_direct(parts)) {
          text[c] = VARDATA_ANY(v);
          text_len[c] = static_cast<int>(VARSIZE_ANY_EXHDR(v));
          canonical[c] = 1;
        } else {
          through_text = true;
        }
        break;
      }
      case ReadAs::kOutput:
        through_text = true;
        break;
      default:
        break;
    }
    if (through_text) {
      text[c] = OutputFunctionCall(&output[c], datums[c]);
      text_len[c] = static_cast<int>(strlen(text[c]));
    }
  }
  MemoryContextSwitchTo(old);
}

const char* RowConverter::print_key(size_t c, Datum value) {
  MemoryContext old = MemoryContextSwitchTo(row_cxt_);
  const char* s = OutputFunctionCall(&output_[c], value);
  MemoryContextSwitchTo(old);
  return s;
}

Status RowConverter::convert(const Datum* datums, const bool* isnull, Row& row) const {
  const std::vector<const Column*>& columns = *columns_;
  row.resize(columns.size());
  // Column c's value from its output text (text_[c]).
  auto from_text = [&](size_t c) {
    return value_from_text(std::string_view(text_[c], static_cast<size_t>(text_len_[c])),
                           columns[c]->type);
  };
  // Column c's text (kText) or canonical JSON (kJson) into the row's own value, whose string
  // keeps its storage from page to page; coerced as the text path would (a varchar's length).
  auto into_row = [&](size_t c, ValueType type) {
    row[c].assign_str(type, std::string_view(text_[c], static_cast<size_t>(text_len_[c])));
    return coerce_in_place(row[c], columns[c]->type, {});
  };
  for (size_t c = 0; c < columns.size(); ++c) {
    if (isnull[c]) {
      row[c] = Value::null();
      continue;
    }
    Result<Value> v = Value::null();
    std::optional<Status> in_place;  // set when the value was read into row[c] itself
    switch (how_[c]) {
      case ReadAs::kInt2:
        v = coerce(Value::integer(DatumGetInt16(datums[c])), columns[c]->type);
        break;
      case ReadAs::kInt4:
        v = coerce(Value::integer(DatumGetInt32(datums[c])), columns[c]->type);
        break;
      case ReadAs::kInt8:
        v = coerce(Value::integer(DatumGetInt64(datums[c])), columns[c]->type);
        break;
      case ReadAs::kFloat4:
        v = coerce(Value::floating(static_cast<double>(DatumGetFloat4(datums[c]))),
                   columns[c]->type);
        break;
      case ReadAs::kFloat8:
        v = coerce(Value::floating(DatumGetFloat8(datums[c])), columns[c]->type);
        break;
      case ReadAs::kBool:
        v = coerce(Value::boolean(DatumGetBool(datums[c])), columns[c]->type);
        break;
      case ReadAs::kTimestamp:
        if (text_[c] != nullptr) {
          v = from_text(c);
        } else {
          // The infinities (DT_NOBEGIN, DT_NOEND) are the engine's too: the extremes of int64.
          const Timestamp t = DatumGetTimestamp(datums[c]);
          static_assert(DT_NOBEGIN == kTimestampMinusInfinity && DT_NOEND == kTimestampInfinity);
          v = coerce(Value::timestamp(TIMESTAMP_NOT_FINITE(t) ? t : t + kPgEpochMicros),
                     columns[c]->type);
        }
        break;
      case ReadAs::kDate:
        if (text_[c] != nullptr)
          v = from_text(c);
        else {
          const DateADT d = DatumGetDateADT(datums[c]);
          static_assert(DATEVAL_NOBEGIN == kDateMinusInfinity && DATEVAL_NOEND == kDateInfinity);
          v = coerce(Value::date(DATE_NOT_FINITE(d) ? d : d + kPgEpochDays), columns[c]->type);
        }
        break;
      case ReadAs::kJsonb:
        if (canonical_[c]) {
          in_place = into_row(c, ValueType::kJson);
          break;
        }
        v = from_text(c);
        break;
      case ReadAs::kNumeric:
        if (canonical_[c]) {
          NumericParts parts{};
          (void)numeric_parts(text_[c], static_cast<size_t>(text_len_[c]), &parts);  // as extract
          v = coerce(Value::decimal_unchecked(numeric_text(parts)), columns[c]->type);
        } else {
          v = from_text(c);
        }
        break;
      case ReadAs::kText:
        if (columns[c]->type.kind == TypeKind::kText) {
          in_place = into_row(c, ValueType::kText);
          break;
        }
        v = from_text(c);
        break;
      case ReadAs::kOutput:
        v = from_text(c);
        break;
    }
    if (in_place) {
      if (!in_place->is_ok()) return in_place->with_context("column '" + columns[c]->name + "'");
      continue;
    }
    if (!v.is_ok()) return v.status().with_context("column '" + columns[c]->name + "'");
    row[c] = std::move(v).value();
  }
  return Status::ok();
}

void RowConverter::end() {
  if (page_cxt_ == nullptr) return;
  MemoryContext cxt = page_cxt_;
  page_cxt_ = row_cxt_ = nullptr;
  delete_context(cxt);
}

void run_values(KeptPlan& plan, const std::vector<Param>& params, long limit,
                const std::vector<const Column*>& columns, size_t key_text_columns, ValuePage& out,
                bool fingerprint_column) {
  out.errors.clear();  // rows are kept: their storage is reused by the next page
  out.last_key_text.clear();
  out.fingerprints.clear();
  const uint64_t n = plan.run(params, limit);
  SPITupleTable* table = SPI_tuptable;
  if (table == nullptr) {
    out.rows.clear();
    return;
  }
  TupleDesc desc = table->tupdesc;
  const int natts = desc->natts;
  const int ncols = natts - (fingerprint_column ? 1 : 0);
  if (static_cast<size_t>(ncols) != columns.size() ||
      (fingerprint_column && TupleDescAttr(desc, ncols)->atttypid != XIDOID))
    throw PgError(ERRCODE_INTERNAL_ERROR,
                  "a page query returned " + std::to_string(natts) + " columns, expected " +
                      std::to_string(columns.size()) + (fingerprint_column ? " and an xid" : ""));

  std::vector<Oid> types(columns.size());
  for (int c = 0; c < ncols; ++c) types[c] = TupleDescAttr(desc, c)->atttypid;
  RowConverter conv;
  conv.begin(types.data(), columns, key_text_columns);

  std::vector<Datum> datums(static_cast<size_t>(natts));
  std::unique_ptr<bool[]> isnull(new bool[static_cast<size_t>(natts) + 1]);
  Datum* datums_p = datums.data();
  bool* isnull_p = isnull.get();
  RowConverter* conv_p = &conv;

  out.rows.resize(n);
  out.errors.resize(n);
  if (fingerprint_column) out.fingerprints.resize(n);
  for (uint64_t r = 0; r < n; ++r) {
    HeapTuple tuple = table->vals[r];
    pg_call([&] {
      heap_deform_tuple(tuple, desc, datums_p, isnull_p);
      conv_p->extract(datums_p, isnull_p);
    });
    if (fingerprint_column)
      out.fingerprints[r] = isnull[ncols] ? 0 : DatumGetTransactionId(datums[ncols]);
    out.errors[r] = conv.convert(datums_p, isnull_p, out.rows[r]);
  }

  // The last row's key as printed, for the next page's bound.
  if (n > 0 && key_text_columns > 0) {
    HeapTuple tuple = table->vals[n - 1];
    for (size_t c = 0; c < key_text_columns && c < columns.size(); ++c) {
      const int attnum = static_cast<int>(c) + 1;
      const char* printed = pg_call([&] {
        bool null;
        Datum d = SPI_getbinval(tuple, desc, attnum, &null);
        if (null) return static_cast<const char*>(nullptr);
        return conv_p->print_key(c, d);
      });
      if (printed == nullptr)
        out.last_key_text.emplace_back(std::nullopt);
      else
        out.last_key_text.emplace_back(std::string(printed));
    }
  }
  pg_call([&] { SPI_freetuptable(table); });
  conv.end();
}

std::string bytea_hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<std::string> bytea_from_hex(const std::string& text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
    return error(ErrorCode::kInternal, "bytea not in hex output form");
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return error(ErrorCode::kInternal, "bytea not in hex output form");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
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
