// Issue 12, section 5 and the value items of section 6: every value PostgreSQL accepts is a
// Value (numeric NaN and infinities, date/timestamp infinities, BC and years after 9999), it
// orders, compares and hashes as PostgreSQL orders and compares it, and a target type that cannot
// hold it refuses it as a row error (a Status), never anything worse.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "engine/decimal.hpp"
#include "engine/row_codec.hpp"
#include "engine/sync_types.hpp"
#include "engine/timeutil.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"
#include "engine/value_json.hpp"

namespace dbsync {
namespace {

TypeSpec pg(std::string_view declared) {
  auto t = parse_type(declared, Dialect::kPostgres);
  EXPECT_TRUE(t.is_ok()) << declared;
  return t.is_ok() ? *t : TypeSpec{};
}

TypeSpec my(std::string_view declared) {
  auto t = parse_type(declared, Dialect::kMySQL);
  EXPECT_TRUE(t.is_ok()) << declared;
  return t.is_ok() ? *t : TypeSpec{};
}

Value from_text(std::string_view text, const TypeSpec& t) {
  auto v = value_from_text(text, t);
  EXPECT_TRUE(v.is_ok()) << text << " as " << t.name << ": " << v.status().to_string();
  return v.is_ok() ? *v : Value();
}

Status refused(std::string_view text, const TypeSpec& t) {
  auto v = value_from_text(text, t);
  EXPECT_FALSE(v.is_ok()) << text << " as " << t.name << " gave "
                          << (v.is_ok() ? v->to_string() : "");
  return v.status();
}

TEST(SpecialNumeric, ParsesAsPostgresPrintsAndReadsThem) {
  EXPECT_EQ(*decimal::parse("NaN"), "NaN");
  EXPECT_EQ(*decimal::parse("nan"), "NaN");
  EXPECT_EQ(*decimal::parse(" Infinity "), "Infinity");
  EXPECT_EQ(*decimal::parse("+infinity"), "Infinity");
  EXPECT_EQ(*decimal::parse("-Infinity"), "-Infinity");
  EXPECT_EQ(*decimal::parse("-inf"), "-Infinity");
  EXPECT_TRUE(decimal::is_canonical("NaN"));
  EXPECT_TRUE(decimal::is_canonical("-Infinity"));
  EXPECT_FALSE(decimal::is_canonical("nan"));
  EXPECT_EQ(from_text("NaN", pg("numeric")).str(), "NaN");
  EXPECT_EQ(from_text("Infinity", pg("numeric")).str(), "Infinity");
  EXPECT_EQ(from_text("-Infinity", pg("numeric")).to_string(), "-Infinity");
}

TEST(SpecialNumeric, OrdersAndComparesAsPostgres) {
  // -Infinity < every number < Infinity < NaN, and NaN = NaN (numeric's btree order).
  const char* ordered[] = {"-Infinity", "-1e300", "-1", "0", "0.5", "1e300", "Infinity", "NaN"};
  for (size_t i = 0; i < std::size(ordered); ++i) {
    for (size_t j = 0; j < std::size(ordered); ++j) {
      Value a = *Value::decimal(ordered[i]), b = *Value::decimal(ordered[j]);
      int expected = i < j ? -1 : (i > j ? 1 : 0);
      EXPECT_EQ(compare_values(a, b), expected) << ordered[i] << " vs " << ordered[j];
      EXPECT_EQ(decimal::compare(a.str(), b.str()), expected) << ordered[i] << " vs " << ordered[j];
      EXPECT_EQ(a == b, i == j);
      EXPECT_EQ(hash_value(a) == hash_value(b), i == j) << ordered[i] << " vs " << ordered[j];
      // The sortable key encoding keeps the order.
      std::string ka = encode_sortable_key({a}), kb = encode_sortable_key({b});
      EXPECT_EQ(ka < kb, i < j) << ordered[i] << " vs " << ordered[j];
      auto back = decode_sortable_key(ka);
      ASSERT_TRUE(back.is_ok());
      EXPECT_EQ((*back)[0], a);
    }
  }
  Value nan = *Value::decimal("NaN"), inf = *Value::decimal("Infinity");
  EXPECT_EQ(compare_values(nan, Value::floating(std::nan(""))), 0);
  EXPECT_EQ(compare_values(inf, Value::floating(std::numeric_limits<double>::infinity())), 0);
  EXPECT_EQ(compare_values(inf, Value::floating(1e308)), 1);
  EXPECT_EQ(compare_values(inf, Value::integer(INT64_MAX)), 1);
  EXPECT_EQ(compare_values(*Value::decimal("-Infinity"), Value::integer(INT64_MIN)), -1);
}

TEST(SpecialNumeric, ComputesAsPostgres) {
  EXPECT_EQ(decimal::add("Infinity", "1"), "Infinity");
  EXPECT_EQ(decimal::add("Infinity", "-Infinity"), "NaN");
  EXPECT_EQ(decimal::sub("Infinity", "Infinity"), "NaN");
  EXPECT_EQ(decimal::sub("1", "Infinity"), "-Infinity");
  EXPECT_EQ(decimal::add("NaN", "1"), "NaN");
  EXPECT_EQ(decimal::mul("-Infinity", "-2"), "Infinity");
  EXPECT_EQ(decimal::mul("Infinity", "0"), "NaN");
  EXPECT_EQ(*decimal::div("1", "Infinity"), "0");
  EXPECT_EQ(*decimal::div("-Infinity", "2"), "-Infinity");
  EXPECT_EQ(*decimal::div("NaN", "0"), "NaN");
  EXPECT_FALSE(decimal::div("Infinity", "0").is_ok());
  EXPECT_EQ(*decimal::mod("5", "Infinity"), "5");
  EXPECT_EQ(decimal::negate("Infinity"), "-Infinity");
  EXPECT_EQ(decimal::negate("NaN"), "NaN");
  EXPECT_EQ(decimal::round("NaN", 2), "NaN");
  EXPECT_TRUE(std::isnan(decimal::to_double("NaN")));
  EXPECT_EQ(decimal::to_double("-Infinity"), -std::numeric_limits<double>::infinity());
  int64_t i;
  EXPECT_FALSE(decimal::to_int64("Infinity", i));
}

TEST(SpecialNumeric, RenderedAsJsonStrings) {
  // preview and conflict records render values as JSON: JSON has no NaN or infinity.
  EXPECT_EQ(render_value(*Value::decimal("NaN")), "\"NaN\"");
  EXPECT_EQ(render_value(*Value::decimal("-Infinity")), "\"-Infinity\"");
  EXPECT_EQ(render_value(*Value::decimal("-1.50")), "-1.50");
  EXPECT_EQ(render_value(Value::timestamp(kTimestampInfinity)), "\"infinity\"");
  EXPECT_EQ(render_value(Value::date(kDateMinusInfinity)), "\"-infinity\"");
}

TEST(SpecialNumeric, TargetsThatCannotHoldThemRefuseTheValue) {
  // numeric(p,s) holds NaN but no infinity (PostgreSQL: "numeric field overflow").
  Value nan = *Value::decimal("NaN"), inf = *Value::decimal("Infinity");
  EXPECT_EQ(coerce(nan, pg("numeric(10,2)"))->str(), "NaN");
  EXPECT_EQ(coerce(inf, pg("numeric"))->str(), "Infinity");
  EXPECT_EQ(coerce(inf, pg("numeric(10,2)")).status().code(), ErrorCode::kOutOfRange);
  // MySQL's DECIMAL holds neither: a row error.
  EXPECT_EQ(coerce(nan, my("decimal(10,2)")).status().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce(inf, my("decimal(10,2)")).status().code(), ErrorCode::kOutOfRange);
  // Into other types, as PostgreSQL casts them.
  EXPECT_TRUE(std::isnan(coerce(nan, pg("double precision"))->as_float()));
  EXPECT_EQ(coerce(Value::floating(-std::numeric_limits<double>::infinity()), pg("numeric"))->str(),
            "-Infinity");
  EXPECT_EQ(coerce(nan, pg("bigint")).status().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce(nan, pg("text"))->str(), "NaN");
  EXPECT_FALSE(coerce(nan, pg("jsonb")).is_ok());
  EXPECT_FALSE(coerce(nan, my("double")).is_ok());
}

TEST(SpecialTime, InfinitiesAreValuesThatOrderAtTheEnds) {
  const TypeSpec ts = pg("timestamp"), tstz = pg("timestamptz"), date = pg("date");
  Value inf = from_text("infinity", tstz), minf = from_text("-infinity", tstz);
  EXPECT_EQ(inf, Value::timestamp(kTimestampInfinity));
  EXPECT_EQ(minf, Value::timestamp(kTimestampMinusInfinity));
  EXPECT_EQ(from_text("Infinity", ts), inf);
  EXPECT_EQ(inf.to_string(), "infinity");
  EXPECT_EQ(minf.to_string(), "-infinity");
  Value bc = from_text("4714-11-24 00:00:00+00 BC", tstz);
  Value late = from_text("294246-12-31 23:59:59.999999+00", tstz);
  EXPECT_LT(compare_values(minf, bc), 0);
  EXPECT_LT(compare_values(bc, late), 0);
  EXPECT_LT(compare_values(late, inf), 0);
  EXPECT_NE(hash_value(inf), hash_value(minf));
  EXPECT_NE(hash_value(inf), hash_value(late));
  EXPECT_LT(encode_sortable_key({minf}), encode_sortable_key({bc}));
  EXPECT_LT(encode_sortable_key({late}), encode_sortable_key({inf}));

  Value dinf = from_text("infinity", date), dminf = from_text("-infinity", date);
  EXPECT_EQ(dinf, Value::date(kDateInfinity));
  EXPECT_EQ(dminf, Value::date(kDateMinusInfinity));
  EXPECT_EQ(dinf.to_string(), "infinity");
  EXPECT_LT(compare_values(dminf, from_text("4714-11-24 BC", date)), 0);
  EXPECT_LT(compare_values(from_text("5874897-12-31", date), dinf), 0);
  // Across types, as PostgreSQL casts: date infinity <-> timestamp infinity.
  EXPECT_EQ(*coerce(dinf, tstz), inf);
  EXPECT_EQ(*coerce(minf, date), dminf);
  EXPECT_FALSE(coerce(inf, pg("time")).is_ok());
  // Rounding to a precision keeps them.
  EXPECT_EQ(*coerce(inf, pg("timestamp(0)")), inf);
}

TEST(SpecialTime, BcAndLateYearsRoundTripThroughText) {
  const TypeSpec ts = pg("timestamp"), tstz = pg("timestamptz"), date = pg("date");
  // As PostgreSQL prints them (DateStyle ISO, TimeZone UTC): the era after the zone.
  for (const char* text :
       {"0044-03-15 10:00:00.5+00 BC", "0001-12-31 23:59:59+00 BC", "4714-11-24 00:00:00+00 BC",
        "10000-01-01 00:00:00+00", "294246-12-31 23:59:59.999999+00", "0001-01-01 00:00:00+00"}) {
    Value v = from_text(text, tstz);
    if (std::string_view(text).find('.') == std::string_view::npos) {
      EXPECT_EQ(format_timestamp_pg(v.micros(), true), text);  // (fractions as 6 digits)
    }
    EXPECT_EQ(from_text(format_timestamp_pg(v.micros(), true), tstz), v) << text;
    EXPECT_EQ(from_text(v.to_string(), tstz), v) << v.to_string();
  }
  for (const char* text :
       {"0044-03-15 10:00:00 BC", "12345-06-07 08:09:10.123456", "0044-03-15 10:00:00.500000 BC"}) {
    Value v = from_text(text, ts);
    EXPECT_EQ(format_timestamp_pg(v.micros(), false), text);
  }
  EXPECT_EQ(from_text("0001-12-31 23:59:59+00 BC", tstz).micros() + kMicrosPerSecond,
            from_text("0001-01-01 00:00:00+00", tstz).micros());  // 1 BC is followed by AD 1
  for (const char* text : {"0044-03-15 BC", "4714-11-24 BC", "0001-01-01", "10000-01-01",
                           "5874897-12-31", "infinity", "-infinity"}) {
    Value v = from_text(text, date);
    EXPECT_EQ(v.to_string(), text);
    EXPECT_EQ(format_date(v.days()), text);
  }
  EXPECT_EQ(from_text("0005-02-29 BC", date).to_string(), "0005-02-29 BC");  // 5 BC: leap (year -4)
  EXPECT_EQ(from_text("0001-02-29 BC", date).to_string(), "0001-02-29 BC");  // 1 BC: year 0
  EXPECT_EQ(refused("0004-02-29 BC", date).code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(refused("4714-11-23 BC", date).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(refused("5874898-01-01", date).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(refused("294247-01-01 00:00:00+00", tstz).code(), ErrorCode::kOutOfRange);
  // MySQL's DATETIME and DATE hold years 0001..9999 and no infinity: row errors.
  EXPECT_EQ(coerce(from_text("0044-03-15 BC", date), my("date")).status().code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce(from_text("infinity", tstz), my("datetime(6)")).status().code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce(from_text("10000-01-01", date), my("datetime")).status().code(),
            ErrorCode::kOutOfRange);
}

TEST(TimestampPrecision, RoundsAsPostgresOnItsOwnEpoch) {
  // PostgreSQL rounds half away from zero on microseconds since 2000-01-01: a tie before 2000
  // goes down, after 2000 up (AdjustTimestampForTypmod).
  const TypeSpec ms = pg("timestamptz(3)"), s0 = pg("timestamp(0)");
  auto at = [&](const char* text) { return from_text(text, pg("timestamptz")); };
  EXPECT_EQ(*coerce(at("1990-06-01 12:00:00.0005+00"), ms), at("1990-06-01 12:00:00+00"));
  EXPECT_EQ(*coerce(at("1990-06-01 12:00:00.0015+00"), ms), at("1990-06-01 12:00:00.001+00"));
  EXPECT_EQ(*coerce(at("2010-06-01 12:00:00.0005+00"), ms), at("2010-06-01 12:00:00.001+00"));
  EXPECT_EQ(*coerce(at("1960-06-01 12:00:00.0005+00"), ms), at("1960-06-01 12:00:00+00"));
  EXPECT_EQ(*coerce(at("1999-12-31 23:59:59.5+00"), s0), at("1999-12-31 23:59:59+00"));
  EXPECT_EQ(*coerce(at("2000-01-01 00:00:00.5+00"), s0), at("2000-01-01 00:00:01+00"));
  EXPECT_EQ(*coerce(at("0044-03-15 10:00:00.5+00 BC"), s0), at("0044-03-15 10:00:00+00 BC"));
  // Not a tie: nearest either way.
  EXPECT_EQ(*coerce(at("1990-06-01 12:00:00.0006+00"), ms), at("1990-06-01 12:00:00.001+00"));
}

TEST(JsonAsWritten, TextReachesTheTargetAsTheSourceHoldsIt) {
  // A json column's text is not reordered or reformatted, jsonb's numbers keep their scale; the
  // canonical form is what equality and hashes use.
  const TypeSpec json = pg("json"), jsonb = pg("jsonb");
  const char* text = "{\"b\": 1,  \"a\": [1.0, 2.50, \"x\"], \"b\": 2}";
  Value v = from_text(text, json);
  EXPECT_EQ(v.str(), text);
  EXPECT_EQ(coerce(v, jsonb)->str(), text);
  EXPECT_EQ(coerce(v, pg("text"))->str(), text);
  Value canonical = *Value::json("{\"a\":[1,2.5,\"x\"],\"b\":2}");
  EXPECT_TRUE(canonical.json_is_canonical());
  EXPECT_EQ(v, canonical);
  EXPECT_EQ(hash_value(v), hash_value(canonical));
  EXPECT_EQ(compare_values(v, canonical), 0);
  EXPECT_EQ(hash_row({Value::integer(1), v}, 2), hash_row({Value::integer(1), canonical}, 2));
  std::string a, b;
  v.append_canonical(a);
  canonical.append_canonical(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(render_value(v), text);
  EXPECT_EQ(from_text("{\"x\": 1.0}", jsonb).str(), "{\"x\": 1.0}");
  EXPECT_NE(from_text("{\"x\": 1.5}", jsonb), from_text("{\"x\": 1.0}", jsonb));
  // Stages and baselines keep it as written.
  PlannedChange change;
  change.key = {Value::integer(1)};
  change.target_values = Row{v, canonical};
  auto back = decode_change(encode_change(change));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  ASSERT_EQ(back->target_values.size(), 2u);
  EXPECT_EQ(back->target_values[0].str(), text);
  EXPECT_FALSE(back->target_values[0].json_is_canonical());
  EXPECT_TRUE(back->target_values[1].json_is_canonical());
  // As a key, ordered by the canonical form.
  EXPECT_EQ(encode_sortable_key({v}), encode_sortable_key({canonical}));
}

TEST(CharToText, DropsThePaddingAsPostgresCastDoes) {
  // A char(n) column's value (read as PostgreSQL prints it, blank-padded) mapped into text or
  // varchar arrives without the padding, as 'ab  '::char(4)::text gives 'ab'.
  Value v = from_text("ab  ", pg("char(4)"));
  EXPECT_EQ(*coerce(v, pg("text")), Value::text("ab"));
  EXPECT_EQ(*coerce(v, pg("varchar(10)")), Value::text("ab"));
  EXPECT_EQ(*coerce(v, pg("char(4)")), v);
  EXPECT_EQ(from_text("    ", pg("char(4)")), Value::text(""));
  // Inner and leading spaces stay.
  EXPECT_EQ(from_text(" a b  ", pg("char(6)")), Value::text(" a b"));
}

}  // namespace
}  // namespace dbsync
