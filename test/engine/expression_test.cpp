#include "engine/expression.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "engine/timeutil.hpp"

namespace dbsync {
namespace {

Value dec(const char* digits) { return Value::decimal(digits).value(); }
Value json(const char* text) { return Value::json(text).value(); }

class ExpressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_names_ = {"id",     "title", "price", "first", "last",    "name",
                     "status", "meta",  "tags",  "nums",  "created", "col name",
                     "qty",    "ratio", "empty", "nul",   "when"};
    target_names_ = {"status", "title"};
    source_ = {Value::integer(7),
               Value::text("Hello Wörld"),
               dec("10.00"),
               Value::text("Ada"),
               Value::text("Lovelace"),
               Value::text("Ada"),
               Value::text("new"),
               json(R"({"color":"blue","size":42,"dims":{"w":1.5},"list":[1,2]})"),
               json(R"(["red","green","blue"])"),
               json("[3, 1.5, 2]"),
               Value::timestamp(parse_timestamp("2024-05-01T10:30:00Z", *TimeZone::utc()).value()),
               Value::text("odd"),
               Value::integer(3),
               Value::floating(0.25),
               Value::text(""),
               Value::null(),
               Value::text("2024-12-24 18:05:00")};
    target_ = {Value::text("published"), Value::text("Old title")};
    resolver_ = [this](RowSide side, std::string_view name) -> std::optional<size_t> {
      const auto& names = side == RowSide::kSource ? source_names_ : target_names_;
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return i;
      }
      return std::nullopt;
    };
  }

  Result<Expression> compile(std::string_view text) { return Expression::compile(text, resolver_); }

  Result<Value> eval(std::string_view text, bool with_target = true) {
    Result<Expression> e = compile(text);
    if (!e) return e.status();
    EvalContext ctx;
    ctx.source = &source_;
    ctx.target = with_target ? &target_ : nullptr;
    ctx.now_micros = 1714559400000000;
    return e->evaluate(ctx);
  }

  // The value of a rule that must compile and evaluate.
  Value ok(std::string_view text, bool with_target = true) {
    Result<Value> v = eval(text, with_target);
    EXPECT_TRUE(v.is_ok()) << text << " -> " << v.status().to_string();
    return v ? *v : Value::text("<error>");
  }

  Status failure(std::string_view text) {
    Result<Value> v = eval(text);
    EXPECT_FALSE(v.is_ok()) << text << " unexpectedly gave " << (v ? v->to_string() : "");
    return v.status();
  }

  Status parse_error(std::string_view text) {
    Result<Expression> e = compile(text);
    EXPECT_FALSE(e.is_ok()) << text << " unexpectedly compiled";
    return e.status();
  }

  std::vector<std::string> source_names_, target_names_;
  Row source_, target_;
  ColumnResolver resolver_;
};

void expect_text(const Value& v, const std::string& s) {
  EXPECT_EQ(v.type(), ValueType::kText) << v.to_string();
  EXPECT_EQ(v.str(), s);
}
void expect_int(const Value& v, int64_t i) {
  EXPECT_EQ(v.type(), ValueType::kInt) << v.to_string();
  EXPECT_EQ(v.as_int(), i);
}
void expect_decimal(const Value& v, const std::string& digits) {
  EXPECT_EQ(v.type(), ValueType::kDecimal) << v.to_string();
  EXPECT_EQ(v.str(), digits);
}
void expect_bool(const Value& v, bool b) {
  EXPECT_EQ(v.type(), ValueType::kBool) << v.to_string();
  EXPECT_EQ(v.as_bool(), b);
}
void expect_float(const Value& v, double d) {
  EXPECT_EQ(v.type(), ValueType::kFloat) << v.to_string();
  EXPECT_DOUBLE_EQ(v.as_float(), d);
}

// ---- rule forms (the seed's cases) ----

TEST_F(ExpressionTest, AtColumnIsAPlainCopy) {
  Result<Expression> e = compile("@title");
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  EXPECT_EQ(e->plain_source_column(), std::optional<size_t>(1));
  EXPECT_FALSE(e->reads_target());
  EXPECT_EQ(e->source_columns(), std::vector<size_t>{1});
  expect_text(ok("@title"), "Hello Wörld");
  expect_text(ok("  @title "), "Hello Wörld");
  // '@' takes a plain name; odd names go through m['...'].
  EXPECT_EQ(parse_error("@col name").code(), ErrorCode::kParseError);
}

TEST_F(ExpressionTest, BareIdentifierIsARename) {
  Result<Expression> e = compile("title");
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->plain_source_column(), std::optional<size_t>(1));
  expect_text(ok("first"), "Ada");
  Result<Expression> braces = compile("{{ m.title }}");
  ASSERT_TRUE(braces.is_ok());
  EXPECT_EQ(braces->plain_source_column(), std::optional<size_t>(1));
  Result<Expression> upper = compile("{{ m.title | upper }}");
  ASSERT_TRUE(upper.is_ok());
  EXPECT_FALSE(upper->plain_source_column().has_value());
}

TEST_F(ExpressionTest, LegacyTransforms) {
  auto run = [&](std::string_view column, std::string_view transform) {
    Result<Expression> e = Expression::compile_transform(column, transform, resolver_);
    EXPECT_TRUE(e.is_ok()) << transform << ": " << e.status().to_string();
    EvalContext ctx;
    ctx.source = &source_;
    Result<Value> v = e->evaluate(ctx);
    EXPECT_TRUE(v.is_ok()) << v.status().to_string();
    return v ? *v : Value();
  };
  expect_text(run("title", "upper"), "HELLO WÖRLD");
  expect_text(run("title", "lower"), "hello wörld");
  expect_text(run("title", "  UPPER "), "HELLO WÖRLD");
  source_[5] = Value::text("  Ada \n");
  expect_text(run("name", "trim"), "Ada");
  expect_text(run("nul", "default:draft"), "draft");
  expect_text(run("empty", "default:draft"), "draft");  // null or empty text
  expect_text(run("status", "default:draft"), "new");
  expect_int(run("qty", "default:5"), 3);
  expect_text(run("nul", "default:"), "");
  expect_text(run("title", ""), "Hello Wörld");
  EXPECT_TRUE(run("nul", "upper").is_null());

  Result<Expression> plain = Expression::compile_transform("title", "", resolver_);
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->plain_source_column(), std::optional<size_t>(1));

  Result<Expression> bad = Expression::compile_transform("title", "reverse", resolver_);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'reverse'"), std::string::npos);

  Result<Expression> missing = Expression::compile_transform("titel", "upper", resolver_);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("unknown source column 'titel'"), std::string::npos);
}

TEST_F(ExpressionTest, WholeExpressionKeepsItsType) {
  Value v = ok("{{ master.price * 1.2 }}");
  expect_decimal(v, "12.000");
  expect_decimal(ok("{{ source.price * 1.2 }}"), "12.000");
  expect_decimal(ok("  {{m.price*2}}  "), "20.00");
  expect_int(ok("{{ m.qty * 2 }}"), 6);
  expect_bool(ok("{{ m.qty > 2 }}"), true);
}

TEST_F(ExpressionTest, ConcatenationAndInterpolation) {
  expect_text(ok("{{ m.first ~ ' ' ~ m.last }}"), "Ada Lovelace");
  expect_text(ok("Hello {{ m.name }}!"), "Hello Ada!");
  expect_text(ok("{{ m.price }} EUR"), "10.00 EUR");
  expect_text(ok("{{m.first}} {{ m.last }}"), "Ada Lovelace");
  expect_text(ok("[{{ m.nul }}]"), "[]");  // null interpolates as empty
  expect_text(ok("{{ m.nul ~ 'x' }}"), "x");
  expect_text(ok("{{ \"}}\" }}"), "}}");
  expect_text(ok("{{ 'draft post' }}"), "draft post");
}

// Issue 12: a bare rule naming a column with a space is that column, never constant text.
TEST_F(ExpressionTest, BareRuleWithASpaceIsAColumnOrAnError) {
  expect_text(ok("col name"), "odd");
  Status unknown = parse_error("a b");
  EXPECT_EQ(unknown.code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown.message(),
            "unknown source column 'a b' at position 0 (a literal text is written {{ 'a b' }})");
  Status ab = parse_error("ab");
  EXPECT_EQ(ab.code(), ErrorCode::kNotFound);
  EXPECT_EQ(ab.message(),
            "unknown source column 'ab' at position 0 (a literal text is written {{ 'ab' }})");
  EXPECT_EQ(parse_error("it's").message(),
            "unknown source column 'it's' at position 0 (a literal text is written "
            "{{ \"it's\" }})");
}

TEST_F(ExpressionTest, TargetRow) {
  const char* rule = "{{ s.status if s.status else 'draft' }}";
  expect_text(ok(rule, true), "published");
  expect_text(ok(rule, false), "draft");  // no target row yet
  target_[0] = Value::null();
  expect_text(ok(rule, true), "draft");
  expect_text(ok("{{ slave.title ~ '/' ~ target.title }}"), "Old title/Old title");
  Result<Expression> e = compile(rule);
  ASSERT_TRUE(e.is_ok());
  EXPECT_TRUE(e->reads_target());
  EXPECT_TRUE(e->source_columns().empty());
  Result<Expression> two = compile("{{ m.last ~ m.first ~ m.last ~ s.title }}");
  ASSERT_TRUE(two.is_ok());
  EXPECT_EQ(two->source_columns(), (std::vector<size_t>{3, 4}));
}

// ---- operators ----

TEST_F(ExpressionTest, Arithmetic) {
  expect_int(ok("{{ 1 + 2 * 3 }}"), 7);
  expect_int(ok("{{ (1 + 2) * 3 }}"), 9);
  expect_int(ok("{{ 7 // 2 }}"), 3);
  expect_int(ok("{{ -7 // 2 }}"), -4);  // floored, as in Python
  expect_int(ok("{{ -7 % 3 }}"), 2);
  expect_int(ok("{{ 7 % -3 }}"), -2);
  expect_decimal(ok("{{ 10 / 4 }}"), "2.5");  // int / int is an exact decimal
  expect_decimal(ok("{{ 10 / 5 }}"), "2");
  expect_decimal(ok("{{ 1 / 3 }}"), "0.3333333333333333");
  expect_decimal(ok("{{ m.price / 4 }}"), "2.50");
  expect_decimal(ok("{{ -m.price }}"), "-10.00");
  expect_decimal(ok("{{ 0.1 + 0.2 }}"), "0.3");
  expect_decimal(ok("{{ 7.5 // 2 }}"), "3");
  expect_decimal(ok("{{ -7.5 % 2 }}"), "0.5");
  expect_decimal(ok("{{ 9223372036854775807 + 1 }}"), "9223372036854775808");
  expect_decimal(ok("{{ 99999999999999999999 }}"), "99999999999999999999");
  expect_decimal(ok("{{ -9223372036854775807 - 1 - 1 }}"), "-9223372036854775809");
  expect_int(ok("{{ -9223372036854775807 - 1 }}"), INT64_MIN);
  expect_float(ok("{{ 1.5e0 * 2 }}"), 3.0);
  expect_float(ok("{{ m.ratio + 1 }}"), 1.25);
  expect_float(ok("{{ m.ratio * m.price }}"), 2.5);
  expect_text(ok("{{ 'ab' + 'cd' }}"), "abcd");
  EXPECT_TRUE(ok("{{ m.nul + 1 }}").is_null());  // SQL-like: null in, null out
}

TEST_F(ExpressionTest, Comparison) {
  expect_bool(ok("{{ 1 == 1.0 }}"), true);
  expect_bool(ok("{{ m.price == 10 }}"), true);
  expect_bool(ok("{{ m.price == 10.0000 }}"), true);
  expect_bool(ok("{{ m.ratio < 0.3 }}"), true);
  expect_bool(ok("{{ 3 >= 3 }}"), true);
  expect_bool(ok("{{ 'a' < 'b' }}"), true);
  expect_bool(ok("{{ 'a' != 'a' }}"), false);
  expect_bool(ok("{{ '1' == 1 }}"), false);
  expect_bool(ok("{{ m.nul == none }}"), true);
  expect_bool(ok("{{ m.nul < 1 }}"), false);
  expect_bool(ok("{{ m.created == m.created }}"), true);
  expect_bool(ok("{{ 1 < 2 and 2 < 3 }}"), true);
}

TEST_F(ExpressionTest, LogicAndConditional) {
  expect_text(ok("{{ m.nul or 'x' }}"), "x");  // the deciding operand, like Jinja
  expect_text(ok("{{ m.name or 'x' }}"), "Ada");
  expect_text(ok("{{ m.name and 'x' }}"), "x");
  EXPECT_TRUE(ok("{{ m.nul and 'x' }}").is_null());
  expect_bool(ok("{{ not m.empty }}"), true);
  expect_bool(ok("{{ not not m.name }}"), true);
  expect_text(ok("{{ 'big' if m.qty > 2 else 'small' }}"), "big");
  expect_text(ok("{{ 'a' if false else 'b' if true else 'c' }}"), "b");
  EXPECT_TRUE(ok("{{ 'a' if false }}").is_null());
  expect_bool(ok("{{ true }}"), true);
  expect_bool(ok("{{ False }}"), false);
  EXPECT_TRUE(ok("{{ None }}").is_null());
  EXPECT_TRUE(ok("{{ null }}").is_null());
  // The branch not taken is not evaluated.
  expect_int(ok("{{ 1 if true else 1 / 0 }}"), 1);
  expect_text(ok("{{ 'x' or 1 / 0 }}"), "x");
}

TEST_F(ExpressionTest, StringLiterals) {
  expect_text(ok(R"({{ 'it\'s' }})"), "it's");
  expect_text(ok(R"({{ "say \"hi\"" }})"), "say \"hi\"");
  expect_text(ok(R"({{ 'a\tb\nc\\' }})"), "a\tb\nc\\");
  expect_text(ok(R"({{ '\u00e9' }})"), "é");
  expect_text(ok(R"({{ '\d' }})"), "\\d");  // unknown escapes are kept
  expect_text(ok("{{ m['col name'] }}"), "odd");
  expect_text(ok("{{ m[\"col name\"] }}"), "odd");
}

TEST_F(ExpressionTest, JsonMemberAccess) {
  expect_text(ok("{{ m.meta.color }}"), "blue");
  expect_int(ok("{{ m.meta['size'] }}"), 42);
  expect_decimal(ok("{{ m.meta.dims.w }}"), "1.5");
  expect_int(ok("{{ m.meta.list[1] }}"), 2);
  expect_text(ok("{{ m.tags[0] }}"), "red");
  expect_text(ok("{{ m.tags[-1] }}"), "blue");
  expect_text(ok("{{ m.tags.1 }}"), "green");
  EXPECT_TRUE(ok("{{ m.tags[7] }}").is_null());
  EXPECT_TRUE(ok("{{ m.meta.missing }}").is_null());
  EXPECT_TRUE(ok("{{ m.meta.missing.deeper }}").is_null());
  EXPECT_TRUE(ok("{{ m.nul.x }}").is_null());
  Value dims = ok("{{ m.meta.dims }}");
  EXPECT_EQ(dims.type(), ValueType::kJson);
  expect_text(ok("{{ m.meta.color | upper }}"), "BLUE");
  expect_int(ok("{{ m.meta.size + 1 }}"), 43);
  expect_text(ok("{{ m.title[0] }}"), "H");
  expect_text(ok("{{ m.title[7] }}"), "ö");
  Status s = failure("{{ m.qty.x }}");
  EXPECT_EQ(s.code(), ErrorCode::kEvaluation);
  EXPECT_NE(s.message().find("cannot access a member of int"), std::string::npos);
}

// ---- every filter and function, in both forms ----

TEST_F(ExpressionTest, CaseFilters) {
  expect_text(ok("{{ m.title | upper }}"), "HELLO WÖRLD");
  expect_text(ok("{{ upper(m.title) }}"), "HELLO WÖRLD");
  expect_text(ok("{{ m.title | lower }}"), "hello wörld");
  expect_text(ok("{{ lower('ÀÉÎ ŁŻ ΑΒΓ АБВ') }}"), "àéî łż αβγ абв");
  expect_text(ok("{{ 'straße' | upper }}"), "STRASSE");
  expect_text(ok("{{ 'hELLO wORLD' | capitalize }}"), "Hello world");
  expect_text(ok("{{ capitalize('élan') }}"), "Élan");
  expect_text(ok("{{ 'hello big-world (of) things' | title }}"), "Hello Big-World (Of) Things");
  expect_text(ok("{{ title(\"it's here\") }}"), "It's Here");
  expect_text(ok("{{ 12 | upper }}"), "12");
}

TEST_F(ExpressionTest, TrimDefaultCoalesce) {
  expect_text(ok("{{ '  x y \t' | trim }}"), "x y");
  expect_text(ok("{{ trim('xxaxx', 'x') }}"), "a");
  expect_text(ok("{{ m.nul | default('x') }}"), "x");
  expect_text(ok("{{ default(m.nul, 'y') }}"), "y");
  expect_text(ok("{{ m.empty | default('x') }}"), "");  // only null, unless boolean=true
  expect_text(ok("{{ m.empty | default('x', true) }}"), "x");
  expect_text(ok("{{ m.empty | default('x', boolean=true) }}"), "x");
  expect_text(ok("{{ m.nul | d('z') }}"), "z");
  expect_text(ok("{{ m.nul | default }}"), "");
  expect_int(ok("{{ m.qty | default(1 / 0) }}"), 3);  // lazy
  expect_text(ok("{{ coalesce(m.nul, m.empty, 'x') }}"), "");
  expect_text(ok("{{ coalesce(m.nul, m.name, 1 / 0) }}"), "Ada");
  expect_text(ok("{{ m.nul | coalesce('x') }}"), "x");
  EXPECT_TRUE(ok("{{ coalesce(m.nul) }}").is_null());
}

TEST_F(ExpressionTest, RoundIntFloatStringBool) {
  expect_decimal(ok("{{ 2.5 | round }}"), "3");
  expect_decimal(ok("{{ round(-2.5) }}"), "-3");  // half away from zero
  expect_decimal(ok("{{ round(2.345, 2) }}"), "2.35");
  expect_decimal(ok("{{ m.price | round(1) }}"), "10.0");
  expect_decimal(ok("{{ 1250.5 | round(-2) }}"), "1300");
  expect_int(ok("{{ round(1250, -2) }}"), 1300);
  expect_int(ok("{{ round(7) }}"), 7);
  expect_float(ok("{{ round(2.675e0, 2) }}"), 2.68);
  expect_float(ok("{{ m.ratio | round(1) }}"), 0.3);
  expect_float(ok("{{ round(m.ratio, precision=1) }}"), 0.3);
  EXPECT_TRUE(ok("{{ m.nul | round }}").is_null());

  expect_int(ok("{{ '12' | int }}"), 12);
  expect_int(ok("{{ int(' 12.7 ') }}"), 12);
  expect_int(ok("{{ m.price | int }}"), 10);
  expect_int(ok("{{ -2.9e0 | int }}"), -2);
  expect_int(ok("{{ true | int }}"), 1);
  expect_int(ok("{{ 'abc' | int(0) }}"), 0);
  EXPECT_TRUE(ok("{{ m.nul | int }}").is_null());
  Status bad_int = failure("{{ 'abc' | int }}");
  EXPECT_EQ(bad_int.code(), ErrorCode::kEvaluation);
  EXPECT_NE(bad_int.message().find("cannot convert text 'abc' to int"), std::string::npos);

  expect_float(ok("{{ '1.5' | float }}"), 1.5);
  expect_float(ok("{{ float(m.qty) }}"), 3.0);
  expect_float(ok("{{ 'x' | float(2.5e0) }}"), 2.5);
  expect_int(ok("{{ 'x' | float(2) }}"), 2);  // the default is returned as given

  expect_text(ok("{{ 12 | string }}"), "12");
  expect_text(ok("{{ string(m.nul) }}"), "");
  expect_text(ok("{{ m.price | string }}"), "10.00");

  expect_bool(ok("{{ 'yes' | bool }}"), true);
  expect_bool(ok("{{ bool(' TRUE ') }}"), true);
  expect_bool(ok("{{ 'nope' | bool }}"), false);
  expect_bool(ok("{{ 0 | bool }}"), false);
  expect_bool(ok("{{ m.price | bool }}"), true);
}

TEST_F(ExpressionTest, ReplaceTruncateSlugify) {
  expect_text(ok("{{ 'a-b-c' | replace('-', '+') }}"), "a+b+c");
  expect_text(ok("{{ replace('a-b-c', '-', '+', 1) }}"), "a+b-c");
  expect_text(ok("{{ 'ab' | replace('', '.') }}"), ".a.b.");
  expect_text(ok("{{ 'Hello world' | truncate(8) }}"), "Hello...");
  expect_text(ok("{{ truncate('Hello world', 8, end='!') }}"), "Hello w!");
  expect_text(ok("{{ 'Hello world' | truncate(8, '') }}"), "Hello wo");
  expect_text(ok("{{ 'Hello' | truncate(20) }}"), "Hello");
  expect_text(ok("{{ 'Wörld wide' | truncate(5) }}"), "Wö...");
  expect_text(ok("{{ 'Crème Brûlée & Straße!' | slugify }}"), "creme-brulee-strasse");
  expect_text(ok("{{ slugify('  Don\\'t  Panic -- 42 ') }}"), "dont-panic-42");
  expect_text(ok("{{ 'Łódź Żółć' | slugify }}"), "lodz-zolc");
}

TEST_F(ExpressionTest, LengthSplitJoinFirstLast) {
  expect_int(ok("{{ 'héllo' | length }}"), 5);
  expect_int(ok("{{ length(m.tags) }}"), 3);
  expect_int(ok("{{ m.meta | length }}"), 4);
  expect_int(ok("{{ m.tags | count }}"), 3);
  Value parts = ok("{{ 'a,b,c' | split(',') }}");
  EXPECT_EQ(parts.type(), ValueType::kJson);
  expect_int(ok("{{ 'a,b,c' | split(',') | length }}"), 3);
  // split writes canonical JSON itself: the same text Value::json makes of it.
  source_[5] = Value::text("a\"b\\c\n\x01/\xc3\xa9|x\xff");
  Value pieces = ok("{{ m.name | split('|') }}");
  EXPECT_EQ(pieces.type(), ValueType::kJson);
  EXPECT_EQ(pieces, Value::json(pieces.str()).value()) << pieces.str();
  EXPECT_EQ(pieces.str(), "[\"a\\\"b\\\\c\\n\\u0001/\u00e9\",\"x\xef\xbf\xbd\"]");
  expect_text(ok("{{ ' a b  c ' | split | join('-') }}"), "a-b-c");
  expect_text(ok("{{ join(m.tags, ', ') }}"), "red, green, blue");
  expect_text(ok("{{ m.nums | join('+') }}"), "3+1.5+2");
  expect_text(ok("{{ 'abc' | join('.') }}"), "a.b.c");
  expect_text(ok("{{ split('x;y', ';') | first }}"), "x");
  expect_text(ok("{{ m.tags | first }}"), "red");
  expect_text(ok("{{ last(m.tags) }}"), "blue");
  expect_text(ok("{{ 'wörld' | first }}"), "w");
  expect_text(ok("{{ 'wörö' | last }}"), "ö");
  EXPECT_TRUE(ok("{{ '' | first }}").is_null());
}

TEST_F(ExpressionTest, JsonDateNow) {
  expect_text(ok("{{ m.title | json }}"), "\"Hello Wörld\"");
  expect_text(ok("{{ json(12) }}"), "12");
  expect_text(ok("{{ m.nul | json }}"), "null");
  expect_text(ok("{{ m.price | json }}"), "10.00");
  expect_text(ok("{{ 'a\"b' | tojson }}"), "\"a\\\"b\"");
  Value meta = ok("{{ m.meta | json }}");
  EXPECT_EQ(meta.type(), ValueType::kText);
  EXPECT_EQ(meta.str(), source_[7].str());

  expect_text(ok("{{ m.created | date('%Y/%m/%d %H:%M') }}"), "2024/05/01 10:30");
  expect_text(ok("{{ date(m.when, '%d.%m.%Y') }}"), "24.12.2024");
  expect_text(ok("{{ m.created | date }}"), "2024-05-01");
  expect_text(ok("{{ '2024-05-01T10:00:00Z' | date('%H:%M') }}"), "10:00");
  Status bad_date = failure("{{ 'soon' | date('%Y') }}");
  EXPECT_EQ(bad_date.code(), ErrorCode::kEvaluation);

  Value now = ok("{{ now() }}");
  EXPECT_EQ(now.type(), ValueType::kTimestamp);
  EXPECT_EQ(now.micros(), 1714559400000000);
  expect_text(ok("{{ now() | date('%Y') }}"), "2024");
}

TEST_F(ExpressionTest, AbsMinMax) {
  expect_int(ok("{{ -5 | abs }}"), 5);
  expect_decimal(ok("{{ abs(-2.50) }}"), "2.50");
  expect_float(ok("{{ abs(-1.5e0) }}"), 1.5);
  expect_int(ok("{{ min(3, 1, 2) }}"), 1);
  expect_int(ok("{{ max(3, m.nul, 2) }}"), 3);
  expect_decimal(ok("{{ m.nums | min }}"), "1.5");
  expect_int(ok("{{ max(m.nums) }}"), 3);
  expect_text(ok("{{ min('b', 'a') }}"), "a");
  expect_decimal(ok("{{ max(m.price, 9) }}"), "10.00");
  Status s = failure("{{ max('a', 1) }}");
  EXPECT_NE(s.message().find("cannot compare int and text"), std::string::npos);
}

// ---- errors ----

TEST_F(ExpressionTest, EvaluationErrorsAreValues) {
  Status div = failure("{{ 1 / 0 }}");
  EXPECT_EQ(div.code(), ErrorCode::kEvaluation);
  EXPECT_NE(div.message().find("division by zero"), std::string::npos);
  EXPECT_NE(failure("{{ m.price // 0 }}").message().find("division by zero"), std::string::npos);
  EXPECT_NE(failure("{{ 1.5e0 % 0 }}").message().find("division by zero"), std::string::npos);
  EXPECT_NE(failure("{{ m.qty / 0.0 }}").message().find("division by zero"), std::string::npos);
  Status add = failure("{{ m.title + 1 }}");
  EXPECT_EQ(add.code(), ErrorCode::kEvaluation);
  EXPECT_NE(add.message().find("cannot add text and int"), std::string::npos);
  EXPECT_NE(failure("{{ m.title < 1 }}").message().find("cannot compare text and int"),
            std::string::npos);
  EXPECT_NE(failure("{{ -m.title }}").message().find("cannot negate text"), std::string::npos);
  EXPECT_NE(failure("{{ 1e308 * 10 }}").message().find("out of range"), std::string::npos);
  EXPECT_NE(failure("{{ 'a,b' | split('') }}").message().find("empty separator"),
            std::string::npos);
  EXPECT_NE(failure("{{ m.qty | length }}").message().find("length of int"), std::string::npos);
  // Exponential growth is cut off instead of eating memory.
  std::string grow = "{{ 'ab'";
  for (int i = 0; i < 40; ++i) grow += " | replace('', 'xy')";
  grow += " }}";
  Status grown = failure(grow);
  EXPECT_EQ(grown.code(), ErrorCode::kEvaluation);
  EXPECT_NE(grown.message().find("too much text"), std::string::npos) << grown.message();
}

// Found by the fuzzer: split re-quotes its own JSON output, so a chain of splits grows the
// text at every step; it used to run for seconds per row.
TEST_F(ExpressionTest, SplitChainsStayCheap) {
  std::string rule = "{{ m.tags | join('\\\\\"')";
  for (int i = 0; i < 100; ++i) rule += " | split(',')";
  rule += " | last }}";
  auto start = std::chrono::steady_clock::now();
  Result<Value> v = eval(rule);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!v) {
    EXPECT_EQ(v.status().code(), ErrorCode::kEvaluation) << v.status().message();
  }
  EXPECT_LT(ms, 2000.0);
}

TEST_F(ExpressionTest, LargeColumnsGetAProportionalWorkBudget) {
  source_[1] = Value::text(std::string(10u << 20, 'a'));  // a 10 MiB text column
  Value v = ok("{{ m.title | upper | lower | replace('a', 'b') | trim | length }}");
  expect_int(v, 10 << 20);
  expect_int(ok("{{ (m.title ~ '!') | length }}"), (10 << 20) + 1);
  // Two copies would exceed the 16 MiB cap on one text result.
  EXPECT_NE(failure("{{ m.title ~ m.title }}").message().find("too large"), std::string::npos);
}

struct ParseCase {
  const char* text;
  ErrorCode code;
  const char* message;  // a substring of the message
};

TEST_F(ExpressionTest, ParseErrorsNamePositions) {
  const ParseCase cases[] = {
      {"{{ m.title", ErrorCode::kParseError,
       "position 10: expected '}}' to close the '{{' at position 0 but found end of text"},
      {"{{ }}", ErrorCode::kParseError,
       "position 3: expected an expression inside '{{ }}' but found end of expression '}}'"},
      {"{{ m.price + }}", ErrorCode::kParseError,
       "position 13: expected an expression but found end of expression '}}'"},
      {"{{ m.title | nosuchfilter }}", ErrorCode::kParseError,
       "position 13: unknown filter 'nosuchfilter'"},
      {"{{ nosuchfn(1) }}", ErrorCode::kParseError, "position 3: unknown function 'nosuchfn'"},
      {"{{ 'abc }}", ErrorCode::kParseError, "position 3: unterminated string"},
      {"{{ (1 }}", ErrorCode::kParseError,
       "position 6: expected ')' to close the '(' at position 3 but found end of expression '}}'"},
      {"{{ upper(m.title }}", ErrorCode::kParseError,
       "position 17: expected ',' or ')' but found end of expression '}}'"},
      {"{{ m.pricee * 2 }}", ErrorCode::kNotFound, "unknown source column 'pricee' at position 5"},
      {"{{ s.nope }}", ErrorCode::kNotFound, "unknown target column 'nope'"},
      {"pricee", ErrorCode::kNotFound, "unknown source column 'pricee'"},
      {"@", ErrorCode::kParseError, "position 1: expected a column name after '@'"},
      {"@price*2", ErrorCode::kParseError,
       "position 6: expected a column name after '@' but found '*'"},
      {"{{ m.title | upper(1) }}", ErrorCode::kParseError,
       "position 13: wrong number of arguments for 'upper': expected upper(value) but got 1"},
      {"{{ replace(m.title, 'a') }}", ErrorCode::kParseError,
       "position 3: wrong number of arguments for 'replace'"},
      {"{{ now(1) }}", ErrorCode::kParseError, "position 3: wrong number of arguments for 'now'"},
      {"{{ m. }}", ErrorCode::kParseError,
       "position 6: expected a column name after '.' but found end of expression '}}'"},
      {"{{ m }}", ErrorCode::kParseError, "position 5: expected '.' or '['"},
      {"{{ m.x ! 1 }}", ErrorCode::kNotFound, "unknown source column 'x'"},
      {"{{ m.qty ! 1 }}", ErrorCode::kParseError, "position 9: unexpected character '!'"},
      {"{{ 1 < 2 < 3 }}", ErrorCode::kParseError, "position 9: chained comparisons"},
      {"{{ 1 2 }}", ErrorCode::kParseError,
       "position 5: expected an operator or '}}' but found number '2'"},
      {"{{ 12abc }}", ErrorCode::kParseError,
       "position 5: unexpected character 'a' after a number"},
      {"{{ m.qty }} and {{ else }}", ErrorCode::kParseError,
       "position 19: expected an expression but found 'else'"},
      {"{{ truncate(m.title, bogus=1) }}", ErrorCode::kParseError,
       "position 21: 'truncate' has no argument named 'bogus'"},
      {"{{ 'a' | }}", ErrorCode::kParseError, "position 9: expected a filter name after '|'"},
      {"", ErrorCode::kParseError, "position 0: expected a mapping rule"},
      {"{{ '\\u12' }}", ErrorCode::kParseError, "invalid \\u escape"},
      {"{{ 1e999 }}", ErrorCode::kParseError, "position 3: number out of range"},
  };
  for (const ParseCase& c : cases) {
    Status s = parse_error(c.text);
    EXPECT_EQ(s.code(), c.code) << c.text << " -> " << s.to_string();
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << c.text << "\n  got:  " << s.message() << "\n  want: " << c.message;
  }
}

TEST_F(ExpressionTest, NestingDepthIsCapped) {
  std::string parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  Status s = parse_error(parens);
  EXPECT_EQ(s.code(), ErrorCode::kParseError);
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();

  EXPECT_NE(parse_error("{{ " + std::string(100000, '-') + "1 }}").message().find("too deeply"),
            std::string::npos);
  std::string sum = "{{ 1";
  for (int i = 0; i < 100000; ++i) sum += "+1";
  EXPECT_NE(parse_error(sum + " }}").message().find("too deeply"), std::string::npos);
  std::string nots = "{{ ";
  for (int i = 0; i < 10000; ++i) nots += "not ";
  EXPECT_NE(parse_error(nots + "1 }}").message().find("too deeply"), std::string::npos);

  // Moderate nesting is fine.
  std::string fine = "{{ 1";
  for (int i = 0; i < 100; ++i) fine += "+1";
  expect_int(ok(fine + " }}"), 101);
  expect_int(ok("{{ " + std::string(60, '(') + "2" + std::string(60, ')') + " }}"), 2);
}

// ---- robustness ----

// Random bytes, and random mutations and splices of valid rules, through compile and evaluate:
// nothing may crash, throw or take long.
TEST_F(ExpressionTest, RandomizedGarbageNeverCrashes) {
  const std::vector<std::string> corpus = {
      "@title",
      "title",
      "draft post",
      "{{ master.price * 1.2 }}",
      "{{ m.first ~ ' ' ~ m.last }}",
      "{{ s.status if s.status else 'draft' }}",
      "Hello {{ m.name }}!",
      "{{ m.meta.dims.w * 2 // 3 % 5 }}",
      "{{ m.tags[0] | upper | replace('R', 'x', 1) | truncate(3, end='-') }}",
      "{{ coalesce(m.nul, m.empty, now() | date('%Y-%m-%d %H:%M:%S %j %p %z')) }}",
      "{{ m.title | slugify ~ m['col name'] | title | capitalize | lower | trim }}",
      "{{ (m.qty + 1) / (m.ratio - 0.25) }}",
      "{{ not m.nul and m.qty >= 3 or m.price != 10 }}",
      "{{ m.nums | min }} {{ max(m.nums) }} {{ m.nums | join(', ') | split(',') | last }}",
      "{{ round(m.price, -1) ~ int('12.5') ~ float('x', 1.5) ~ bool('yes') ~ string(1) }}",
      "{{ m.meta | json | length }}{{ abs(-9223372036854775807 - 1) }}",
      "{{ '\\u00e9\\n\\t\\'' ~ \"x\" }}",
      "{{ m.when | date('%A %B') }}{{ default(m.nul, 'a', true) }}{{ first('abc') }}",
      "{{ 99999999999999999999999 * 99999999999999999999 - 1e10 }}",
  };
  std::mt19937_64 rng(20240501);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string alphabet =
      "{}{}()[]|~.,'\"@ms+-*/%<>=!_ \t\\0123456789eE.abcdefghijklmnopqrstuvwxyz";
  EvalContext with_target{&source_, &target_, 1714559400000000};
  EvalContext without_target{&source_, nullptr, 0};
  int compiled = 0;
  double worst_ms = 0;
  const int kRounds = 200000;
  for (int round = 0; round < kRounds; ++round) {
    std::string s;
    switch (round % 3) {
      case 0: {  // random bytes, biased toward the language's own characters
        size_t n = pick(48);
        for (size_t i = 0; i < n; ++i) {
          s += pick(4) == 0 ? static_cast<char>(rng() & 0xFF) : alphabet[pick(alphabet.size())];
        }
        break;
      }
      case 1: {  // mutations of a valid rule
        s = corpus[pick(corpus.size())];
        size_t edits = 1 + pick(4);
        for (size_t e = 0; e < edits; ++e) {
          size_t at = s.empty() ? 0 : pick(s.size() + 1);
          switch (pick(4)) {
            case 0:
              s.insert(at, 1, alphabet[pick(alphabet.size())]);
              break;
            case 1:
              if (!s.empty() && at < s.size()) s.erase(at, 1 + pick(3));
              break;
            case 2:
              if (at < s.size()) s[at] = static_cast<char>(rng() & 0xFF);
              break;
            default: {
              const std::string& other = corpus[pick(corpus.size())];
              size_t from = pick(other.size());
              s.insert(at, other.substr(from, pick(12)));
            }
          }
        }
        break;
      }
      default: {  // splices of two valid rules
        const std::string& a = corpus[pick(corpus.size())];
        const std::string& b = corpus[pick(corpus.size())];
        s = a.substr(0, pick(a.size() + 1)) + b.substr(pick(b.size() + 1));
        break;
      }
    }
    auto start = std::chrono::steady_clock::now();
    Result<Expression> e = Expression::compile(s, resolver_);
    if (e) {
      ++compiled;
      Result<Value> v1 = e->evaluate(with_target);
      Result<Value> v2 = e->evaluate(without_target);
      if (v1) (void)v1->to_string();
      if (!v2) {
        EXPECT_FALSE(v2.status().message().empty());
      }
    } else {
      EXPECT_FALSE(e.status().message().empty()) << s;
      EXPECT_NE(e.status().code(), ErrorCode::kInternal) << s << ": " << e.status().message();
    }
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    worst_ms = std::max(worst_ms, ms);
  }
  EXPECT_GT(compiled, kRounds / 20);  // the mutations must exercise evaluation too
  EXPECT_LT(worst_ms, 250.0);
}

TEST_F(ExpressionTest, DeepJsonValuesAreSafe) {
  // As an adapter would hand it over (canonical text from the database), 100000 levels deep.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  source_[7] = Value::json_unchecked(deep);
  EXPECT_TRUE(ok("{{ m.meta[0][0][0] | length }}").type() == ValueType::kInt);
  EXPECT_TRUE(ok("{{ m.meta | first | json | length }}").type() == ValueType::kInt);
}

TEST_F(ExpressionTest, ManyRowsWithoutReparsing) {
  Result<Expression> plain = compile("@price");
  Result<Expression> calc = compile("{{ m.price * 1.2 ~ ' ' ~ m.title | upper }}");
  ASSERT_TRUE(plain.is_ok() && calc.is_ok());
  EvalContext ctx{&source_, nullptr, 0};
  for (int i = 0; i < 100000; ++i) {
    Result<Value> a = plain->evaluate(ctx);
    Result<Value> b = calc->evaluate(ctx);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
  }
  expect_text(*calc->evaluate(ctx), "12.000 HELLO WÖRLD");
}

}  // namespace
}  // namespace dbsync
