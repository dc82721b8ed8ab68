#include "engine/value.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <xxhash.h>

#include "engine/types.hpp"

namespace dbsync {
namespace {

Value dec(std::string_view digits) {
  auto r = Value::decimal(digits);
  EXPECT_TRUE(r.is_ok()) << digits;
  return r.is_ok() ? *r : Value();
}

Value js(std::string_view text) {
  auto r = Value::json(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : Value();
}

std::string canonical(const Value& v) {
  std::string out;
  v.append_canonical(out);
  return out;
}

TypeSpec pg(std::string_view declared) {
  auto t = parse_type(declared, Dialect::kPostgres);
  EXPECT_TRUE(t.is_ok()) << declared << ": " << t.status().to_string();
  return t.is_ok() ? *t : TypeSpec{};
}

TypeSpec my(std::string_view declared) {
  auto t = parse_type(declared, Dialect::kMySQL);
  EXPECT_TRUE(t.is_ok()) << declared << ": " << t.status().to_string();
  return t.is_ok() ? *t : TypeSpec{};
}

Value coerced(const Value& v, const TypeSpec& t, const CoerceOptions& opts = {}) {
  auto r = coerce(v, t, opts);
  EXPECT_TRUE(r.is_ok()) << v.to_string() << " -> " << t.name << ": " << r.status().to_string();
  return r.is_ok() ? *r : Value();
}

// Both coerced into `t`: equal Values and equal hashes, or neither.
void expect_same_in(const TypeSpec& t, const Value& a, const Value& b, bool same,
                    const CoerceOptions& opts = {}) {
  Value ca = coerced(a, t, opts), cb = coerced(b, t, opts);
  EXPECT_EQ(ca == cb, same) << a.to_string() << " vs " << b.to_string() << " in " << t.name;
  EXPECT_EQ(hash_value(ca) == hash_value(cb), same) << a.to_string() << " vs " << b.to_string();
}

Status coerce_error(const Value& v, const TypeSpec& t, const CoerceOptions& opts = {}) {
  auto r = coerce(v, t, opts);
  EXPECT_FALSE(r.is_ok()) << v.to_string() << " -> " << t.name << " gave "
                          << (r.is_ok() ? r->to_string() : "");
  return r.status();
}

// ---------------- construction and printing ----------------

TEST(ValueBasics, TypesAndAccessors) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_EQ(Value::boolean(true).type(), ValueType::kBool);
  EXPECT_EQ(Value::integer(-5).as_int(), -5);
  EXPECT_EQ(Value::floating(2.5).as_float(), 2.5);
  EXPECT_EQ(dec("1e2").str(), "100");
  EXPECT_TRUE(Value::integer(1).is_number());
  EXPECT_FALSE(Value::text("1").is_number());
  EXPECT_STREQ(value_type_name(ValueType::kDecimal), "decimal");
  EXPECT_EQ(Value::decimal("x1").status().code(), ErrorCode::kParseError);
}

TEST(ValueBasics, ToDouble) {
  EXPECT_EQ(Value::integer(3).to_double(), 3.0);
  EXPECT_EQ(dec("2.5").to_double(), 2.5);
  EXPECT_EQ(Value::text("7").to_double(), 0.0);
}

TEST(ValueBasics, ToString) {
  EXPECT_EQ(Value().to_string(), "");
  EXPECT_EQ(Value::boolean(false).to_string(), "false");
  EXPECT_EQ(Value::integer(-42).to_string(), "-42");
  EXPECT_EQ(Value::floating(1.5).to_string(), "1.5");
  EXPECT_EQ(Value::floating(std::numeric_limits<double>::infinity()).to_string(), "Infinity");
  EXPECT_EQ(dec("10.50").to_string(), "10.50");
  EXPECT_EQ(Value::bytes(std::string("\x00\xff"
                                     "A",
                                     3))
                .to_string(),
            "\\x00ff41");
  EXPECT_EQ(Value::timestamp(1714557600LL * 1000000).to_string(), "2024-05-01T10:00:00Z");
  EXPECT_EQ(Value::timestamp(1714557600LL * 1000000 + 250000).to_string(),
            "2024-05-01T10:00:00.250000Z");
  EXPECT_EQ(Value::date(19844).to_string(), "2024-05-01");
  EXPECT_EQ(Value::time_of_day(3723LL * 1000000).to_string(), "01:02:03");
  // JSON as written (its canonical form is for comparing).
  EXPECT_EQ(js("{\"b\": 1, \"a\": [true, null]}").to_string(), "{\"b\": 1, \"a\": [true, null]}");
}

TEST(ValueBasics, Truthy) {
  EXPECT_FALSE(Value().truthy());
  EXPECT_FALSE(Value::boolean(false).truthy());
  EXPECT_FALSE(Value::integer(0).truthy());
  EXPECT_FALSE(Value::floating(0.0).truthy());
  EXPECT_FALSE(dec("0.00").truthy());
  EXPECT_FALSE(Value::text("").truthy());
  EXPECT_FALSE(js("{}").truthy());
  EXPECT_FALSE(js("[]").truthy());
  EXPECT_TRUE(js("[0]").truthy());
  EXPECT_TRUE(Value::text("0").truthy());
  EXPECT_TRUE(dec("0.01").truthy());
  EXPECT_TRUE(Value::date(0).truthy());
}

// ---------------- JSON ----------------

TEST(ValueJson, KeyOrderAndWhitespaceDoNotMatter) {
  Value a = js("{\"b\":1,\"a\":{\"y\":2,\"x\":[1,2]}}");
  Value b = js("  {  \"a\" : { \"x\" : [ 1 , 2 ] , \"y\" : 2 } ,\n \"b\" : 1 }  ");
  EXPECT_EQ(a, b);
  EXPECT_EQ(hash_value(a), hash_value(b));
  std::string scratch;
  EXPECT_EQ(a.canonical_json(scratch), "{\"a\":{\"x\":[1,2],\"y\":2},\"b\":1}");
  EXPECT_EQ(a.str(), "{\"b\":1,\"a\":{\"y\":2,\"x\":[1,2]}}");  // kept as written
  EXPECT_FALSE(a.json_is_canonical());
  EXPECT_TRUE(js("{\"a\":1}").json_is_canonical());
  // Array order does matter.
  EXPECT_NE(js("[1,2]"), js("[2,1]"));
}

TEST(ValueJson, IntegralFloatsEqualIntegers) {
  EXPECT_EQ(js("1.0"), js("1"));
  EXPECT_EQ(js("{\"n\":2.50}"), js("{\"n\":2.5}"));
  EXPECT_NE(js("1.5"), js("1"));
}

TEST(ValueJson, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '[');
  auto r = Value::json(deep + std::string(100000, ']'));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kParseError);
  std::string ok_depth = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(Value::json(ok_depth).is_ok());
  // Brackets inside strings do not count.
  EXPECT_TRUE(Value::json("\"" + std::string(1000, '[') + "\"").is_ok());
}

TEST(ValueJson, InvalidJsonNamesThePosition) {
  auto r = Value::json("{\"a\": tru}");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kParseError);
  EXPECT_NE(r.status().message().find("position"), std::string::npos) << r.status().message();
  EXPECT_FALSE(Value::json("").is_ok());
  EXPECT_FALSE(Value::json("{\"a\":1} x").is_ok());
}

// ---------------- equality, canonical bytes, hashing ----------------

TEST(ValueHash, DecimalsIgnoreTrailingZeros) {
  EXPECT_EQ(dec("10.5"), dec("10.50"));
  EXPECT_EQ(canonical(dec("10.50")), "10.5");
  EXPECT_EQ(canonical(dec("10.00")), "10");
  EXPECT_EQ(hash_value(dec("10.5")), hash_value(dec("10.50")));
  EXPECT_NE(dec("10.5"), dec("10.51"));
  EXPECT_NE(hash_value(dec("105")), hash_value(dec("10.5")));
}

TEST(ValueHash, FloatsCanonical) {
  double nan1 = std::numeric_limits<double>::quiet_NaN();
  double nan2 = -std::nan("7");
  EXPECT_EQ(Value::floating(0.0), Value::floating(-0.0));
  EXPECT_EQ(hash_value(Value::floating(0.0)), hash_value(Value::floating(-0.0)));
  EXPECT_EQ(Value::floating(nan1), Value::floating(nan2));
  EXPECT_EQ(hash_value(Value::floating(nan1)), hash_value(Value::floating(nan2)));
  EXPECT_NE(hash_value(Value::floating(1.0)), hash_value(Value::floating(1.0000000000000002)));
}

TEST(ValueHash, TypeTagSeparatesLookalikes) {
  EXPECT_NE(hash_value(Value()), hash_value(Value::text("")));
  EXPECT_NE(Value(), Value::text(""));
  EXPECT_NE(hash_value(Value::integer(1)), hash_value(Value::text("1")));
  EXPECT_NE(hash_value(Value::integer(1)), hash_value(Value::boolean(true)));
  EXPECT_NE(hash_value(Value::text("ab")), hash_value(Value::bytes("ab")));
  EXPECT_NE(hash_value(Value::timestamp(0)), hash_value(Value::integer(0)));
  EXPECT_NE(Value::integer(1), dec("1"));  // no cross-type equality without coercion
}

TEST(ValueHash, EqualValuesEqualHashes) {
  EXPECT_EQ(hash_value(Value::text("héllo")), hash_value(Value::text(std::string("héllo"))));
  EXPECT_EQ(hash_value(Value::integer(123456789)), hash_value(Value::integer(123456789)));
  EXPECT_NE(hash_value(Value::integer(1)), hash_value(Value::integer(2)));
  // Long text goes through the streaming path; it must agree with itself and differ on change.
  std::string long_text(5000, 'x');
  std::string other = long_text;
  other.back() = 'y';
  EXPECT_EQ(hash_value(Value::text(long_text)), hash_value(Value::text(long_text)));
  EXPECT_NE(hash_value(Value::text(long_text)), hash_value(Value::text(other)));
}

TEST(ValueHash, IsXxh3OverTagAndCanonicalBytes) {
  auto expected = [](const Value& v) {
    std::string input(1, static_cast<char>(v.type()));
    v.append_canonical(input);
    return static_cast<uint64_t>(XXH3_64bits(input.data(), input.size()));
  };
  // Short values use a stack buffer, long text the streaming API: both must match the definition.
  for (const Value& v :
       {Value(), Value::boolean(true), Value::integer(-7), Value::floating(-0.0),
        Value::timestamp(123456789), Value::date(-3), Value::time_of_day(5),
        Value::decimal_unchecked("10.50"), Value::text("abc"), Value::text(std::string(255, 'a')),
        Value::text(std::string(256, 'a')), Value::bytes(std::string(100000, '\x01')),
        Value::json_unchecked("{\"a\":1}")}) {
    EXPECT_EQ(hash_value(v), expected(v)) << value_type_name(v.type()) << " " << v.str().size();
  }
}

TEST(ValueHash, CanonicalBytesFixedWidth) {
  EXPECT_EQ(canonical(Value::integer(1)), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(canonical(Value::integer(-1)), std::string(8, '\xff'));
  EXPECT_EQ(canonical(Value::date(1)).size(), 4u);
  EXPECT_EQ(canonical(Value::timestamp(5)).size(), 8u);
  EXPECT_EQ(canonical(Value::time_of_day(5)).size(), 8u);
  EXPECT_EQ(canonical(Value()), "");
  EXPECT_EQ(canonical(Value::text("abc")), "abc");
}

// ---------------- ordering ----------------

TEST(ValueCompare, OrderAcrossTypes) {
  std::vector<Value> ordered = {
      Value(),          Value::boolean(false), Value::boolean(true),  Value::integer(-5),
      dec("0.5"),       Value::floating(1.5),  Value::integer(2),     Value::text(""),
      Value::text("a"), Value::date(0),        Value::time_of_day(0), Value::timestamp(0),
      js("1")};
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      int c = compare_values(ordered[i], ordered[j]);
      int expected = i < j ? -1 : (i > j ? 1 : 0);
      EXPECT_EQ(c, expected) << i << " vs " << j;
    }
  }
}

TEST(ValueCompare, NumbersByExactValue) {
  EXPECT_EQ(compare_values(Value::integer(1), dec("1.00")), 0);
  EXPECT_EQ(compare_values(Value::integer(1), Value::floating(1.0)), 0);
  EXPECT_EQ(compare_values(dec("2.5"), Value::floating(2.5)), 0);
  // Beyond double precision: 2^53 + 1 as int and decimal vs the double 2^53.
  EXPECT_GT(compare_values(Value::integer(9007199254740993LL), Value::floating(9007199254740992.0)),
            0);
  EXPECT_LT(compare_values(Value::floating(9007199254740992.0), Value::integer(9007199254740993LL)),
            0);
  EXPECT_GT(compare_values(dec("9223372036854775807.1"), Value::integer(INT64_MAX)), 0);
  EXPECT_LT(compare_values(Value::integer(INT64_MAX), dec("9223372036854775807.1")), 0);
  EXPECT_LT(compare_values(Value::integer(INT64_MAX), Value::floating(9223372036854775808.0)), 0);
  EXPECT_GT(compare_values(Value::integer(INT64_MIN), Value::floating(-1e300)), 0);
  // The double 0.1 is above the decimal 0.1.
  EXPECT_LT(compare_values(dec("0.1"), Value::floating(0.1)), 0);
  EXPECT_GT(compare_values(Value::floating(0.1), dec("0.1")), 0);
  EXPECT_LT(compare_values(Value::integer(-1), dec("-0.5")), 0);
  EXPECT_LT(compare_values(Value::floating(-0.5), Value::integer(0)), 0);
  EXPECT_GT(compare_values(Value::floating(0.5), Value::integer(0)), 0);
}

TEST(ValueCompare, NaNAboveAllNumbers) {
  Value nan = Value::floating(std::numeric_limits<double>::quiet_NaN());
  Value inf = Value::floating(std::numeric_limits<double>::infinity());
  EXPECT_EQ(compare_values(nan, nan), 0);
  EXPECT_GT(compare_values(nan, inf), 0);
  EXPECT_GT(compare_values(nan, Value::integer(INT64_MAX)), 0);
  EXPECT_LT(compare_values(dec("1e300"), nan), 0);
  EXPECT_LT(compare_values(dec("1e300"), inf), 0);
  EXPECT_GT(
      compare_values(dec("-1e300"), Value::floating(-std::numeric_limits<double>::infinity())), 0);
}

TEST(ValueCompare, TextBytewise) {
  EXPECT_LT(compare_values(Value::text("B"), Value::text("a")), 0);
  EXPECT_LT(compare_values(Value::text("a"), Value::text("ab")), 0);
  // UTF-8 bytes compare unsigned: "é" (0xC3...) sorts after "z".
  EXPECT_GT(compare_values(Value::text("é"), Value::text("z")), 0);
  EXPECT_LT(compare_values(Value::text("x"), Value::bytes("x")), 0);
  EXPECT_GT(compare_values(Value::bytes("y"), Value::text("x")), 0);
}

// ---------------- coercion: values that must compare equal or different ----------------

TEST(ValueCoerce, NumericScaleRounding) {
  TypeSpec t = pg("numeric(10,2)");
  expect_same_in(t, dec("10.5"), dec("10.50"), true);
  expect_same_in(t, dec("10.504"), dec("10.50"), true);
  expect_same_in(t, dec("10.505"), dec("10.50"), false);
  EXPECT_EQ(coerced(dec("10.505"), t).str(), "10.51");
  EXPECT_EQ(coerced(dec("10.5"), t).str(), "10.50");
  expect_same_in(t, Value::integer(10), Value::text("10.00"), true);
  expect_same_in(t, Value::floating(10.5), dec("10.50"), true);
  expect_same_in(my("decimal(10,2)"), dec("-2.345"), dec("-2.35"), true);
  EXPECT_EQ(coerced(dec("-2.345"), my("decimal(10,2)")).str(), "-2.35");
}

TEST(ValueCoerce, NumericOverflowAndBadInput) {
  Status s = coerce_error(dec("12345.6"), pg("numeric(4,1)"));
  EXPECT_EQ(s.code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(s.message(), "numeric field overflow: 12345.6 does not fit numeric(4,1)");
  // Rounding can push a value over the limit: 999.95 -> 1000.0.
  EXPECT_EQ(coerce_error(dec("999.95"), pg("numeric(4,1)")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(dec("999.94"), pg("numeric(4,1)")).str(), "999.9");
  EXPECT_EQ(coerced(Value::floating(std::nan("")), pg("numeric")).str(), "NaN");
  EXPECT_EQ(coerce_error(Value::floating(std::nan("")), my("decimal(10,2)")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::text("12abc"), pg("numeric")).code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(coerce_error(dec("-1"), my("decimal(5,2) unsigned")).code(), ErrorCode::kOutOfRange);
  // MySQL DECIMAL defaults to (10,0).
  EXPECT_EQ(coerced(dec("2.5"), my("decimal")).str(), "3");
  EXPECT_EQ(coerce_error(dec("12345678901"), my("decimal")).code(), ErrorCode::kOutOfRange);
}

TEST(ValueCoerce, UnconstrainedNumericKeepsValue) {
  TypeSpec t = pg("numeric");
  EXPECT_EQ(coerced(dec("10.50"), t).str(), "10.50");
  expect_same_in(t, dec("10.50"), dec("10.5"), true);
  EXPECT_EQ(coerced(Value::integer(7), t).str(), "7");
  EXPECT_EQ(coerced(Value::text(" 1e2 "), t).str(), "100");
}

TEST(ValueCoerce, BooleansAcrossDatabases) {
  TypeSpec mysql_bool = my("tinyint(1)");
  expect_same_in(mysql_bool, Value::boolean(true), Value::integer(1), true);
  expect_same_in(mysql_bool, Value::boolean(false), Value::integer(0), true);
  expect_same_in(mysql_bool, Value::boolean(true), Value::integer(0), false);
  EXPECT_EQ(coerced(Value::integer(1), mysql_bool).type(), ValueType::kBool);
  EXPECT_EQ(coerced(Value::integer(5), mysql_bool), Value::boolean(true));  // nonzero is true
  EXPECT_EQ(coerce_error(Value::integer(300), mysql_bool).code(), ErrorCode::kOutOfRange);

  TypeSpec pg_bool = pg("boolean");
  EXPECT_EQ(coerced(Value::text("t"), pg_bool), Value::boolean(true));
  for (const char* yes : {"t", "TRUE", "yes", "On", "1", " true "}) {
    EXPECT_EQ(coerced(Value::text(yes), pg_bool), Value::boolean(true)) << yes;
  }
  for (const char* no : {"f", "False", "NO", "off", "0"}) {
    EXPECT_EQ(coerced(Value::text(no), pg_bool), Value::boolean(false)) << no;
  }
  EXPECT_EQ(coerced(Value::integer(1), pg_bool), Value::boolean(true));
  EXPECT_EQ(coerce_error(Value::integer(2), pg_bool).code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(coerce_error(Value::text("maybe"), pg_bool).code(), ErrorCode::kTypeMismatch);
  // Into a MySQL plain int column a boolean is 0/1; PostgreSQL refuses it.
  EXPECT_EQ(coerced(Value::boolean(true), my("int")), Value::integer(1));
  EXPECT_EQ(coerce_error(Value::boolean(true), pg("integer")).code(), ErrorCode::kTypeMismatch);
}

TEST(ValueCoerce, IntegerRanges) {
  EXPECT_EQ(coerced(Value::integer(127), my("tinyint")), Value::integer(127));
  EXPECT_EQ(coerce_error(Value::integer(128), my("tinyint")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::integer(-129), my("tinyint(4)")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(Value::integer(255), my("tinyint unsigned")), Value::integer(255));
  EXPECT_EQ(coerce_error(Value::integer(256), my("tinyint unsigned")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::integer(-1), my("int(10) unsigned")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::integer(8388608), my("mediumint")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(Value::integer(32767), pg("smallint")), Value::integer(32767));
  Status s = coerce_error(Value::integer(32768), pg("smallint"));
  EXPECT_EQ(s.code(), ErrorCode::kOutOfRange);
  EXPECT_NE(s.message().find("32768"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("smallint"), std::string::npos) << s.message();
  EXPECT_EQ(coerce_error(Value::integer(2147483648LL), pg("integer")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(Value::integer(INT64_MIN), pg("bigint")), Value::integer(INT64_MIN));
}

TEST(ValueCoerce, IntegersFromOtherKinds) {
  EXPECT_EQ(coerced(Value::floating(2.5), pg("integer")), Value::integer(3));
  EXPECT_EQ(coerced(Value::floating(-2.5), pg("integer")), Value::integer(-3));
  EXPECT_EQ(coerced(dec("-7.5"), my("int")), Value::integer(-8));
  EXPECT_EQ(coerced(Value::text(" 42 "), pg("integer")), Value::integer(42));
  EXPECT_EQ(coerced(Value::text("4.5"), my("int")),
            Value::integer(5));  // MySQL rounds numeric text
  Status s = coerce_error(Value::text("abc"), pg("integer"));
  EXPECT_EQ(s.code(), ErrorCode::kTypeMismatch);
  EXPECT_NE(s.message().find("'abc'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("integer"), std::string::npos) << s.message();
  EXPECT_EQ(coerce_error(Value::text("4.5"), pg("integer")).code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(coerce_error(Value::text("99999999999999999999"), pg("bigint")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::floating(1e19), pg("bigint")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::floating(std::nan("")), pg("bigint")).code(),
            ErrorCode::kOutOfRange);
}

TEST(ValueCoerce, Floats) {
  Value single = coerced(Value::floating(0.1), pg("real"));
  EXPECT_EQ(single.as_float(), static_cast<double>(0.1f));
  expect_same_in(pg("real"), Value::floating(0.1), Value::text("0.1"), true);
  expect_same_in(my("float"), Value::floating(0.1), Value::floating(0.10000000149011612), true);
  expect_same_in(pg("double precision"), Value::floating(0.1), Value::floating(0.10000000149011612),
                 false);
  EXPECT_EQ(coerce_error(Value::floating(1e300), pg("real")).code(), ErrorCode::kOutOfRange);
  EXPECT_TRUE(std::isnan(coerced(Value::text("NaN"), pg("float8")).as_float()));
  EXPECT_EQ(coerce_error(Value::text("NaN"), my("double")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(dec("2.5"), pg("float8")), Value::floating(2.5));
}

TEST(ValueCoerce, TextLengthsAndPadding) {
  Status s = coerce_error(Value::text("abcdef"), pg("varchar(5)"));
  EXPECT_EQ(s.code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(s.message(), "value too long for varchar(5): 6 characters ('abcdef')");
  EXPECT_EQ(coerced(Value::text("abcde"), pg("varchar(5)")), Value::text("abcde"));
  // Length counts characters, not bytes.
  EXPECT_EQ(coerced(Value::text("ééééé"), pg("character varying(5)")), Value::text("ééééé"));
  // Excess trailing spaces are dropped, as both databases do.
  EXPECT_EQ(coerced(Value::text("abc   "), pg("varchar(4)")), Value::text("abc "));
  // char(n) values are kept without their padding (PostgreSQL pads on storing and ignores the
  // padding otherwise); MySQL returns CHAR without trailing spaces.
  EXPECT_EQ(coerced(Value::text("ab"), pg("char(4)")), Value::text("ab"));
  EXPECT_EQ(coerced(Value::text("ab  "), pg("char(4)")), Value::text("ab"));
  expect_same_in(pg("character(4)"), Value::text("ab"), Value::text("ab  "), true);
  EXPECT_EQ(coerced(Value::text("ab  "), my("char(4)")), Value::text("ab"));
  EXPECT_EQ(coerced(Value::integer(42), pg("text")), Value::text("42"));
  EXPECT_EQ(coerced(Value::boolean(true), pg("text")), Value::text("true"));
  EXPECT_EQ(coerce_error(Value::text("\xff\xfe"), pg("text")).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(coerce_error(Value::text("\xc0\xaf"), my("text")).code(),
            ErrorCode::kInvalidArgument);  // overlong
  EXPECT_EQ(coerce_error(Value::text(std::string(256, 'x')), my("tinytext")).code(),
            ErrorCode::kOutOfRange);
  // TEXT counts bytes: 200 two-byte characters exceed TINYTEXT's 255 bytes.
  std::string wide;
  for (int k = 0; k < 200; ++k) wide += "é";
  EXPECT_EQ(coerce_error(Value::text(wide), my("tinytext")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerced(Value::text(wide), my("varchar(200)")), Value::text(wide));
}

TEST(ValueCoerce, EnumsAndUuids) {
  TypeSpec e = my("enum('small','Large')");
  EXPECT_EQ(coerced(Value::text("small"), e), Value::text("small"));
  EXPECT_EQ(coerced(Value::text("LARGE"), e), Value::text("Large"));
  Status s = coerce_error(Value::text("medium"), e);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'medium'"), std::string::npos) << s.message();
  TypeSpec u = pg("uuid");
  expect_same_in(u, Value::text("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                 Value::text("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"), true);
  EXPECT_EQ(coerced(Value::text("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), u).str(),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(coerce_error(Value::text("not-a-uuid"), u).code(), ErrorCode::kTypeMismatch);
}

TEST(ValueCoerce, Bytes) {
  EXPECT_EQ(coerced(Value::text("AB"), pg("bytea")), Value::bytes("AB"));
  EXPECT_EQ(coerced(Value::bytes("a"), my("binary(3)")), Value::bytes(std::string("a\0\0", 3)));
  EXPECT_EQ(coerce_error(Value::bytes("abcd"), my("varbinary(3)")).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::integer(1), pg("bytea")).code(), ErrorCode::kTypeMismatch);
}

TEST(ValueCoerce, TimestampsWithZones) {
  TypeSpec tz = pg("timestamp with time zone");
  expect_same_in(tz, Value::text("2024-05-01 12:00:00+02:00"), Value::text("2024-05-01T10:00:00Z"),
                 true);
  expect_same_in(tz, Value::text("2024-05-01 12:00:00+02:00"), Value::text("2024-05-01T12:00:00Z"),
                 false);
  EXPECT_EQ(coerced(Value::text("2024-05-01T10:00:00Z"), tz),
            Value::timestamp(1714557600LL * 1000000));
}

TEST(ValueCoerce, ZonelessTextInBerlinVersusUtc) {
  auto berlin = TimeZone::find("Europe/Berlin");
  ASSERT_TRUE(berlin.is_ok()) << berlin.status().to_string();
  CoerceOptions in_berlin;
  in_berlin.zone = *berlin;
  TypeSpec t = pg("timestamp without time zone");
  Value summer = coerced(Value::text("2024-07-01 12:00:00"), t, in_berlin);
  EXPECT_EQ(summer, coerced(Value::text("2024-07-01T10:00:00Z"), t));
  Value winter = coerced(Value::text("2024-01-01 12:00:00"), t, in_berlin);
  EXPECT_EQ(winter, coerced(Value::text("2024-01-01T11:00:00Z"), t));
  EXPECT_NE(coerced(Value::text("2024-07-01 12:00:00"), t),
            summer);  // read in UTC: two hours apart
}

TEST(ValueCoerce, FractionalSecondsRounding) {
  Value with_fraction = Value::timestamp(1714557600LL * 1000000 + 500000);
  // MySQL DATETIME defaults to 0 fractional digits and rounds half up.
  EXPECT_EQ(coerced(with_fraction, my("datetime")), Value::timestamp(1714557601LL * 1000000));
  expect_same_in(my("datetime"), Value::text("2024-05-01 10:00:00.4"),
                 Value::text("2024-05-01 10:00:00"), true);
  expect_same_in(my("datetime(3)"), Value::text("2024-05-01 10:00:00.1234"),
                 Value::text("2024-05-01 10:00:00.123"), true);
  expect_same_in(my("datetime(3)"), Value::text("2024-05-01 10:00:00.1235"),
                 Value::text("2024-05-01 10:00:00.123"), false);
  EXPECT_EQ(coerced(with_fraction, pg("timestamp")), with_fraction);  // PostgreSQL keeps µs
  EXPECT_EQ(coerced(with_fraction, pg("timestamp(0)")), Value::timestamp(1714557601LL * 1000000));
  // Before 1970 rounding is still half away from zero.
  EXPECT_EQ(coerced(Value::timestamp(-1500000), pg("timestamp(0)")), Value::timestamp(-2000000));
}

TEST(ValueCoerce, TimestampRefusals) {
  Status s = coerce_error(Value::integer(1714557600), pg("timestamptz"));
  EXPECT_EQ(s.code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(coerce_error(Value::text("yesterday-ish"), pg("timestamp")).code(),
            ErrorCode::kTypeMismatch);
  EXPECT_EQ(coerce_error(Value::text("294247-01-01 00:00:00"), pg("timestamp")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::text("10000-01-01 00:00:00"), my("datetime")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(coerce_error(Value::text("2040-01-01 00:00:00Z"), my("timestamp")).code(),
            ErrorCode::kOutOfRange);
  EXPECT_TRUE(coerce(Value::text("2040-01-01 00:00:00Z"), my("datetime")).is_ok());
}

TEST(ValueCoerce, DatesAndTimes) {
  auto tokyo = TimeZone::find("Asia/Tokyo");
  ASSERT_TRUE(tokyo.is_ok());
  CoerceOptions in_tokyo;
  in_tokyo.zone = *tokyo;
  Value late_utc = coerced(Value::text("2024-05-01T20:00:00Z"), pg("timestamptz"));
  EXPECT_EQ(coerced(late_utc, pg("date")).to_string(), "2024-05-01");
  EXPECT_EQ(coerced(late_utc, pg("date"), in_tokyo).to_string(), "2024-05-02");
  EXPECT_EQ(coerced(late_utc, pg("time"), in_tokyo).to_string(), "05:00:00");
  EXPECT_EQ(coerced(Value::text("2024-05-01"), pg("date")), Value::date(19844));
  EXPECT_EQ(coerced(Value::text("2024-05-01 13:00:00"), my("date")), Value::date(19844));
  EXPECT_EQ(coerced(Value::date(19844), pg("timestamp"), in_tokyo),
            Value::timestamp((19844LL * 86400 - 9 * 3600) * 1000000));
  EXPECT_EQ(coerced(Value::text("13:45:10.6"), my("time")).to_string(), "13:45:11");
  EXPECT_EQ(coerce_error(Value::text("2024-02-30"), pg("date")).code(), ErrorCode::kTypeMismatch);
}

TEST(ValueCoerce, Json) {
  TypeSpec t = pg("jsonb");
  expect_same_in(t, Value::text("{\"b\":1, \"a\":2}"), Value::text("{\"a\":2,\"b\":1}"), true);
  expect_same_in(my("json"), js("{\"a\":[1,2]}"), Value::text(" { \"a\" : [1, 2] } "), true);
  expect_same_in(t, Value::text("{\"a\":1}"), Value::text("{\"a\":2}"), false);
  EXPECT_EQ(coerced(Value::integer(5), t).str(), "5");
  EXPECT_EQ(coerced(Value::boolean(true), t).str(), "true");
  EXPECT_EQ(coerced(dec("2.50"), t).str(), "2.50");  // the scale is kept, compared as 2.5
  expect_same_in(t, dec("2.50"), dec("2.5"), true);
  EXPECT_EQ(coerced(Value::date(0), t).str(), "\"1970-01-01\"");
  Status s = coerce_error(Value::text("{not json"), t);
  EXPECT_EQ(s.code(), ErrorCode::kTypeMismatch);
  EXPECT_NE(s.message().find("jsonb"), std::string::npos) << s.message();
}

TEST(ValueCoerce, NullStaysNull) {
  for (const char* type :
       {"integer", "numeric(4,1)", "text", "boolean", "timestamptz", "jsonb", "bytea"}) {
    EXPECT_TRUE(coerced(Value(), pg(type)).is_null()) << type;
  }
  EXPECT_TRUE(coerced(Value(), my("enum('a')")).is_null());
}

TEST(ValueCoerce, ErrorMessagesTruncateLongValues) {
  std::string long_text(500, 'z');
  Status s = coerce_error(Value::text(long_text), pg("integer"));
  EXPECT_LT(s.message().size(), 120u) << s.message();
  EXPECT_NE(s.message().find("..."), std::string::npos);
}

TEST(ValueCoerce, RvalueOverloadGivesSameResult) {
  TypeSpec t = pg("char(6)");
  Value source = Value::text("abc");
  auto from_copy = coerce(source, t);
  auto from_moved = coerce(Value::text("abc"), t);
  ASSERT_TRUE(from_copy.is_ok());
  ASSERT_TRUE(from_moved.is_ok());
  EXPECT_EQ(*from_copy, *from_moved);
  EXPECT_EQ(source, Value::text("abc"));  // the lvalue overload leaves its input alone
}

// ---------------- value_from_text ----------------

TEST(ValueFromText, DatabaseOutput) {
  EXPECT_EQ(*value_from_text("t", pg("boolean")), Value::boolean(true));
  EXPECT_EQ(*value_from_text("f", pg("bool")), Value::boolean(false));
  EXPECT_EQ(*value_from_text("1", my("tinyint(1)")), Value::boolean(true));
  EXPECT_EQ(*value_from_text("\\x4142ff", pg("bytea")), Value::bytes("AB\xff"));
  EXPECT_EQ(*value_from_text("a\\\\b\\001", pg("bytea")), Value::bytes(std::string("a\\b\x01", 4)));
  EXPECT_EQ(*value_from_text("raw\\x", my("blob")), Value::bytes("raw\\x"));
  EXPECT_EQ(value_from_text("10.50", pg("numeric(10,2)"))->str(), "10.50");
  EXPECT_EQ(*value_from_text("-17", pg("integer")), Value::integer(-17));
  EXPECT_EQ(*value_from_text("2024-01-01 10:00:00+00", pg("timestamptz")),
            *value_from_text("2024-01-01 11:00:00+01", pg("timestamptz")));
  auto berlin = TimeZone::find("Europe/Berlin");
  ASSERT_TRUE(berlin.is_ok());
  CoerceOptions opts;
  opts.zone = *berlin;
  EXPECT_EQ(value_from_text("2024-01-01 10:00:00", pg("timestamp"), opts)->to_string(),
            "2024-01-01T09:00:00Z");
  // jsonb holds a document: within the fast canonical subset its text is the canonical one; a
  // json column keeps its text as written.
  EXPECT_EQ(value_from_text("{\"b\": 1, \"a\": 2}", pg("jsonb"))->str(), "{\"a\":2,\"b\":1}");
  EXPECT_EQ(value_from_text("{\"b\": 1, \"a\": 2}", pg("json"))->str(), "{\"b\": 1, \"a\": 2}");
  EXPECT_EQ(*value_from_text("{\"b\": 1, \"a\": 2}", pg("jsonb")), js("{\"a\":2,\"b\":1}"));
  EXPECT_EQ(*value_from_text("ab  ", pg("character(4)")),
            *coerce(Value::text("ab"), pg("character(4)")));
  // A real's text output reads back as the same single-precision value.
  EXPECT_EQ(*value_from_text("0.1", pg("real")), *coerce(Value::floating(0.1), pg("real")));
  EXPECT_EQ(*value_from_text("2024-05-01", pg("date")), Value::date(19844));
  EXPECT_EQ(*value_from_text("01:02:03.5", pg("time")), Value::time_of_day(3723500000LL));
  EXPECT_FALSE(value_from_text("\\xZZ", pg("bytea")).is_ok());
  EXPECT_FALSE(value_from_text("abc", pg("numeric")).is_ok());
  EXPECT_FALSE(value_from_text("18446744073709551615", my("bigint unsigned")).is_ok());
}

}  // namespace
}  // namespace dbsync
