#include "engine/types.hpp"

#include <gtest/gtest.h>

namespace dbsync {
namespace {

TypeSpec parsed(std::string_view declared, Dialect dialect) {
  auto t = parse_type(declared, dialect);
  EXPECT_TRUE(t.is_ok()) << declared << ": " << t.status().to_string();
  return t.is_ok() ? *t : TypeSpec{};
}

TypeSpec pg(std::string_view declared) { return parsed(declared, Dialect::kPostgres); }
TypeSpec my(std::string_view declared) { return parsed(declared, Dialect::kMySQL); }

void expect_int(const TypeSpec& t, int bits, bool is_unsigned) {
  EXPECT_EQ(t.kind, TypeKind::kInt) << t.name;
  EXPECT_EQ(t.int_bits, bits) << t.name;
  EXPECT_EQ(t.is_unsigned, is_unsigned) << t.name;
}

TEST(TypeParsePostgres, Integers) {
  for (const char* n : {"smallint", "int2", "SMALLINT", "smallserial"})
    expect_int(pg(n), 16, false);
  for (const char* n : {"integer", "int", "int4", "serial", " Integer "})
    expect_int(pg(n), 32, false);
  for (const char* n : {"bigint", "int8", "bigserial", "pg_catalog.int8"})
    expect_int(pg(n), 64, false);
}

TEST(TypeParsePostgres, FloatsAndNumerics) {
  EXPECT_EQ(pg("real").kind, TypeKind::kFloat);
  EXPECT_EQ(pg("real").precision, 24);
  EXPECT_EQ(pg("float4").precision, 24);
  EXPECT_EQ(pg("double precision").precision, 53);
  EXPECT_EQ(pg("DOUBLE   PRECISION").precision, 53);
  EXPECT_EQ(pg("float8").precision, 53);
  EXPECT_EQ(pg("float(10)").precision, 24);
  TypeSpec n = pg("numeric(10,2)");
  EXPECT_EQ(n.kind, TypeKind::kDecimal);
  EXPECT_EQ(n.precision, 10);
  EXPECT_EQ(n.scale, 2);
  EXPECT_EQ(pg("numeric ( 12 , 4 )").scale, 4);
  EXPECT_EQ(pg("numeric(7)").scale, 0);
  EXPECT_EQ(pg("numeric").precision, -1);
  EXPECT_EQ(pg("numeric").scale, -1);
  EXPECT_EQ(pg("decimal(5,1)").kind, TypeKind::kDecimal);
  EXPECT_EQ(pg("numeric(10,2)").name, "numeric(10,2)");
}

TEST(TypeParsePostgres, Text) {
  for (const char* n : {"text", "varchar", "character varying", "citext", "name"}) {
    TypeSpec t = pg(n);
    EXPECT_EQ(t.kind, TypeKind::kText) << n;
    EXPECT_EQ(t.max_length, -1) << n;
    EXPECT_TRUE(t.note.empty()) << n;
  }
  EXPECT_EQ(pg("varchar(40)").max_length, 40);
  EXPECT_EQ(pg("character varying(40)").max_length, 40);
  TypeSpec c = pg("character(10)");
  EXPECT_EQ(c.max_length, 10);
  EXPECT_TRUE(c.fixed_length);
  EXPECT_TRUE(pg("char(3)").fixed_length);
  EXPECT_EQ(pg("character").max_length, 1);
  EXPECT_EQ(pg("bpchar").max_length, -1);
  EXPECT_TRUE(pg("bpchar(5)").fixed_length);
  TypeSpec u = pg("uuid");
  EXPECT_EQ(u.kind, TypeKind::kText);
  EXPECT_TRUE(u.is_uuid);
}

TEST(TypeParsePostgres, OtherKinds) {
  EXPECT_EQ(pg("bytea").kind, TypeKind::kBytes);
  EXPECT_EQ(pg("boolean").kind, TypeKind::kBool);
  EXPECT_EQ(pg("bool").kind, TypeKind::kBool);
  EXPECT_EQ(pg("date").kind, TypeKind::kDate);
  EXPECT_EQ(pg("json").kind, TypeKind::kJson);
  EXPECT_EQ(pg("jsonb").kind, TypeKind::kJson);
  TypeSpec t = pg("time");
  EXPECT_EQ(t.kind, TypeKind::kTime);
  EXPECT_EQ(t.fractional_digits, 6);
  EXPECT_EQ(pg("time(3) without time zone").fractional_digits, 3);
}

TEST(TypeParsePostgres, Timestamps) {
  TypeSpec plain = pg("timestamp");
  EXPECT_EQ(plain.kind, TypeKind::kTimestamp);
  EXPECT_FALSE(plain.with_time_zone);
  EXPECT_EQ(plain.fractional_digits, 6);
  EXPECT_FALSE(pg("timestamp without time zone").with_time_zone);
  EXPECT_TRUE(pg("timestamp with time zone").with_time_zone);
  EXPECT_TRUE(pg("TIMESTAMP  WITH  TIME  ZONE").with_time_zone);
  EXPECT_TRUE(pg("timestamptz").with_time_zone);
  TypeSpec p = pg("timestamp(3) with time zone");
  EXPECT_TRUE(p.with_time_zone);
  EXPECT_EQ(p.fractional_digits, 3);
  EXPECT_EQ(pg("timestamp(0) without time zone").fractional_digits, 0);
  EXPECT_EQ(pg("timestamptz(2)").fractional_digits, 2);
}

TEST(TypeParsePostgres, ArraysAndUnknownTypesAreTextWithANote) {
  for (const char* n :
       {"integer[]", "text[][]", "ARRAY", "_int4", "interval", "inet", "money", "USER-DEFINED",
        "public.mood", "time with time zone", "timetz", "point", "interval(3)",
        "interval day to second(2)", "interval year to month", "interval hour"}) {
    auto r = parse_type(n, Dialect::kPostgres);
    ASSERT_TRUE(r.is_ok()) << n << ": " << r.status().to_string();
    EXPECT_EQ(r->kind, TypeKind::kText) << n;
    EXPECT_FALSE(r->note.empty()) << n;
  }
}

TEST(TypeParseMySQL, BooleansAndIntegers) {
  for (const char* n : {"tinyint(1)", "bool", "BOOLEAN", "TINYINT(1)"}) {
    EXPECT_EQ(my(n).kind, TypeKind::kBool) << n;
  }
  expect_int(my("tinyint"), 8, false);
  expect_int(my("tinyint(4)"), 8, false);
  expect_int(my("tinyint(3) unsigned"), 8, true);
  expect_int(my("smallint(6)"), 16, false);
  expect_int(my("mediumint"), 24, false);
  expect_int(my("int"), 32, false);
  expect_int(my("int(11)"), 32, false);
  expect_int(my("integer"), 32, false);
  expect_int(my("int(10) unsigned"), 32, true);
  expect_int(my("INT(10) UNSIGNED ZEROFILL"), 32, true);
  expect_int(my("int zerofill"), 32, true);
  expect_int(my("bigint(20)"), 64, false);
  expect_int(my("bigint unsigned"), 64, true);
  expect_int(my("year"), 16, false);
}

TEST(TypeParseMySQL, DecimalsAndFloats) {
  TypeSpec d = my("decimal(10,2)");
  EXPECT_EQ(d.kind, TypeKind::kDecimal);
  EXPECT_EQ(d.precision, 10);
  EXPECT_EQ(d.scale, 2);
  TypeSpec def = my("decimal");
  EXPECT_EQ(def.precision, 10);
  EXPECT_EQ(def.scale, 0);
  EXPECT_EQ(my("numeric(8)").scale, 0);
  EXPECT_TRUE(my("decimal(10,2) unsigned").is_unsigned);
  EXPECT_EQ(my("float").precision, 24);
  EXPECT_EQ(my("float(30)").precision, 53);
  EXPECT_EQ(my("float(7,4)").precision, 24);
  EXPECT_EQ(my("double").precision, 53);
  EXPECT_EQ(my("double precision").precision, 53);
  EXPECT_EQ(my("real").precision, 53);  // REAL is DOUBLE unless REAL_AS_FLOAT
}

TEST(TypeParseMySQL, TextAndBytes) {
  TypeSpec c = my("char(10)");
  EXPECT_EQ(c.kind, TypeKind::kText);
  EXPECT_EQ(c.max_length, 10);
  EXPECT_TRUE(c.fixed_length);
  TypeSpec v = my("varchar(255)");
  EXPECT_EQ(v.max_length, 255);
  EXPECT_FALSE(v.max_length_in_bytes);
  struct Expected {
    const char* name;
    int64_t bytes;
  };
  for (Expected e : {Expected{"tinytext", 255}, Expected{"text", 65535},
                     Expected{"mediumtext", 16777215}, Expected{"longtext", 4294967295LL}}) {
    TypeSpec t = my(e.name);
    EXPECT_EQ(t.kind, TypeKind::kText) << e.name;
    EXPECT_EQ(t.max_length, e.bytes) << e.name;
    EXPECT_TRUE(t.max_length_in_bytes) << e.name;
  }
  EXPECT_EQ(my("varchar(50) character set utf8mb4 collate utf8mb4_bin").max_length, 50);
  TypeSpec b = my("binary(16)");
  EXPECT_EQ(b.kind, TypeKind::kBytes);
  EXPECT_TRUE(b.fixed_length);
  EXPECT_EQ(b.max_length, 16);
  EXPECT_EQ(my("varbinary(64)").max_length, 64);
  EXPECT_EQ(my("tinyblob").max_length, 255);
  EXPECT_EQ(my("blob").max_length, 65535);
  EXPECT_EQ(my("mediumblob").max_length, 16777215);
  EXPECT_EQ(my("longblob").kind, TypeKind::kBytes);
}

TEST(TypeParseMySQL, TimeTypes) {
  TypeSpec dt = my("datetime");
  EXPECT_EQ(dt.kind, TypeKind::kTimestamp);
  EXPECT_FALSE(dt.with_time_zone);
  EXPECT_EQ(dt.fractional_digits, 0);
  EXPECT_EQ(my("datetime(6)").fractional_digits, 6);
  TypeSpec ts = my("timestamp");
  EXPECT_EQ(ts.kind, TypeKind::kTimestamp);
  EXPECT_TRUE(ts.with_time_zone);
  EXPECT_EQ(ts.fractional_digits, 0);
  EXPECT_EQ(my("timestamp(3)").fractional_digits, 3);
  EXPECT_EQ(my("date").kind, TypeKind::kDate);
  EXPECT_EQ(my("time").kind, TypeKind::kTime);
  EXPECT_EQ(my("time").fractional_digits, 0);
  EXPECT_EQ(my("time(2)").fractional_digits, 2);
  EXPECT_EQ(my("json").kind, TypeKind::kJson);
}

TEST(TypeParseMySQL, EnumAndSet) {
  TypeSpec e = my("enum('a','b')");
  EXPECT_EQ(e.kind, TypeKind::kText);
  EXPECT_EQ(e.enum_values, (std::vector<std::string>{"a", "b"}));
  TypeSpec quoted = my("ENUM( 'It''s' , 'x,y', 'Big' )");
  EXPECT_EQ(quoted.enum_values, (std::vector<std::string>{"It's", "x,y", "Big"}));
  TypeSpec s = my("set('r','w','x')");
  EXPECT_EQ(s.kind, TypeKind::kText);
  EXPECT_TRUE(s.enum_values.empty());
}

TEST(TypeParseMySQL, UnknownTypesAreTextWithANote) {
  for (const char* n : {"geometry", "bit(1)", "point"}) {
    TypeSpec t = my(n);
    EXPECT_EQ(t.kind, TypeKind::kText) << n;
    EXPECT_FALSE(t.note.empty()) << n;
  }
}

TEST(TypeParse, GarbageIsAnErrorNotACrash) {
  const char* garbage[] = {"",
                           "   ",
                           "(",
                           ")",
                           "int(",
                           "int)",
                           "numeric(10,",
                           "numeric(,2)",
                           "numeric(a,b)",
                           "int(10)(2)",
                           "varchar(-1)",
                           "123abc",
                           "int; drop",
                           "enum('a",
                           "numeric(10,2) foo",
                           "int(10) unsigned banana",
                           "*",
                           "numeric(0)",
                           "varchar(0)",
                           "int unsigned",  // UNSIGNED is MySQL-only
                           "timestamp(3) with time",
                           "integer with time zone"};
  for (const char* g : garbage) {
    auto r = parse_type(g, Dialect::kPostgres);
    EXPECT_FALSE(r.is_ok()) << "'" << g << "'";
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << g;
    }
  }
  const char* mysql_garbage[] = {"",
                                 "enum(1,2)",
                                 "decimal(70,2)",
                                 "decimal(10,20)",
                                 "varchar",
                                 "datetime(7)",
                                 "text unsigned",
                                 "enum()",
                                 "int(10",
                                 "timestamp with time zone"};
  for (const char* g : mysql_garbage) {
    auto r = parse_type(g, Dialect::kMySQL);
    EXPECT_FALSE(r.is_ok()) << "'" << g << "'";
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << g;
    }
  }
}

TEST(TypeParse, NameAndDialectRecorded) {
  TypeSpec t = my("  int(10) unsigned ");
  EXPECT_EQ(t.name, "int(10) unsigned");
  EXPECT_EQ(t.dialect, Dialect::kMySQL);
  EXPECT_EQ(pg("text").dialect, Dialect::kPostgres);
}

}  // namespace
}  // namespace dbsync

namespace dbsync {
namespace {

// Random strings over the characters type names are made of: parse_type must answer every one
// with a type or kInvalidArgument (under the sanitizers this also catches out-of-bounds reads).
TEST(TypeParse, RandomInputNeverCrashes) {
  const std::string alphabet = "abcdeintvrhmslupzfgy()',_ 0123456789[].\"\\-";
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t accepted = 0;
  for (int k = 0; k < 20000; ++k) {
    std::string text;
    size_t length = next() % 24;
    for (size_t c = 0; c < length; ++c) text.push_back(alphabet[next() % alphabet.size()]);
    for (Dialect d : {Dialect::kPostgres, Dialect::kMySQL}) {
      auto r = parse_type(text, d);
      if (r.is_ok()) {
        ++accepted;
        // Whatever was accepted can coerce a value without crashing.
        (void)coerce(Value::text(text), *r);
      } else {
        ASSERT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << text;
      }
    }
  }
  EXPECT_GT(accepted, 0u);
}

// Text is checked for valid UTF-8 and measured in characters wherever the bad byte or the
// multi-byte character sits: before, inside or after a long ASCII run (read eight bytes at a
// time).
TEST(CoerceText, Utf8CheckedAroundAsciiRuns) {
  const std::string ascii(37, 'a');
  for (const std::string& bad : {std::string("\xff"), std::string("\xc3"),
                                 std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    for (const std::string& text : {bad + ascii, ascii + bad, ascii + bad + ascii}) {
      Result<Value> r = coerce(Value::text(text), pg("text"));
      ASSERT_FALSE(r.is_ok()) << "accepted invalid UTF-8 at byte " << text.find(bad);
      EXPECT_NE(r.status().message().find("not valid UTF-8"), std::string::npos)
          << r.status().message();
    }
  }
  // 40 characters in 43 bytes: fits varchar(40), not varchar(39).
  const std::string mixed = std::string(20, 'x') + "\xc3\xa9\xe2\x80\xa6" + std::string(18, 'y');
  ASSERT_EQ(mixed.size(), 43u);
  EXPECT_TRUE(coerce(Value::text(mixed), pg("varchar(40)")).is_ok());
  EXPECT_FALSE(coerce(Value::text(mixed), pg("varchar(39)")).is_ok());
}

}  // namespace
}  // namespace dbsync
