#include "engine/schema.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace dbsync {
namespace {

Schema make_schema() {
  Schema s;
  s.columns = {Column{"id", {}, false}, Column{"name", {}, true}, Column{"region", {}, false}};
  s.key = {2, 0};
  return s;
}

TEST(SchemaColumns, IndexOfExactName) {
  Schema s = make_schema();
  EXPECT_EQ(s.index_of("id"), 0);
  EXPECT_EQ(s.index_of("region"), 2);
  EXPECT_EQ(s.index_of("Region"), -1);  // exact, case-sensitive
  EXPECT_EQ(s.index_of("missing"), -1);
  EXPECT_EQ(s.index_of(""), -1);
}

TEST(SchemaColumns, KeyNamesInKeyOrder) {
  Schema s = make_schema();
  EXPECT_EQ(s.key_names(), (std::vector<std::string>{"region", "id"}));
  EXPECT_TRUE(Schema{}.key_names().empty());
}

TEST(SchemaKeys, CompareLexicographically) {
  Key a = {Value::integer(1), Value::text("b")};
  Key b = {Value::integer(1), Value::text("c")};
  Key c = {Value::integer(2), Value::text("a")};
  EXPECT_LT(compare_keys(a, b), 0);
  EXPECT_GT(compare_keys(b, a), 0);
  EXPECT_LT(compare_keys(b, c), 0);
  EXPECT_EQ(compare_keys(a, Key{Value::integer(1), Value::text("b")}), 0);
  // A shorter prefix sorts first.
  EXPECT_LT(compare_keys(Key{Value::integer(1)}, a), 0);
  EXPECT_GT(compare_keys(a, Key{Value::integer(1)}), 0);
  EXPECT_EQ(compare_keys(Key{}, Key{}), 0);
  // Numbers compare by value across kinds.
  EXPECT_EQ(compare_keys(Key{Value::integer(10)}, Key{Value::decimal_unchecked("10.0")}), 0);
  EXPECT_LT(compare_keys(Key{Value::integer(9)}, Key{Value::integer(10)}), 0);
}

TEST(SchemaKeys, SortsMixedKeys) {
  std::vector<Key> keys = {
      {Value::integer(3)}, {Value()}, {Value::integer(-1)}, {Value::integer(2)}};
  std::sort(keys.begin(), keys.end(),
            [](const Key& x, const Key& y) { return compare_keys(x, y) < 0; });
  EXPECT_TRUE(keys[0][0].is_null());
  EXPECT_EQ(keys[1][0].as_int(), -1);
  EXPECT_EQ(keys[3][0].as_int(), 3);
}

TEST(SchemaKeys, ToString) {
  EXPECT_EQ(key_to_string(Key{Value::integer(42)}), "42");
  EXPECT_EQ(key_to_string(Key{Value::text("abc")}), "abc");
  EXPECT_EQ(key_to_string(Key{Value::integer(7), Value::text("abc")}), "(7, 'abc')");
  EXPECT_EQ(key_to_string(Key{Value::text("it's"), Value()}), "('it''s', NULL)");
  EXPECT_EQ(key_to_string(Key{Value::text("42"), Value::integer(42)}), "('42', 42)");
  EXPECT_EQ(key_to_string(Key{Value::date(0), Value::boolean(true)}), "('1970-01-01', true)");
  EXPECT_EQ(key_to_string(Key{}), "()");
}

}  // namespace
}  // namespace dbsync
