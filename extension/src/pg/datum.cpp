// Datums to engine values (see datum.hpp): numeric and jsonb decoded from their stored forms,
// timestamps and dates from their Datums, the rest through output functions.
#include "extension/src/pg/datum.hpp"

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "engine/decimal.hpp"
#include "engine/field_mapper.hpp"
#include "engine/timeutil.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
}

namespace dbsync::pg::spi {

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

// run_values (session.hpp) lives here, beside the converter it drives row by row, as it did in
// spi.cpp (the same translation unit: the same inlining for the per-row calls).
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

}  // namespace dbsync::pg::spi
