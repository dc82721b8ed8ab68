#include "engine/json_canonical.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "engine/value.hpp"

namespace dbsync {
namespace {

// The general path's canonical text for documents without floats: nlohmann's compact dump.
std::string reference(const std::string& text) { return nlohmann::json::parse(text).dump(); }

std::string fast(const std::string& text, bool& accepted) {
  std::string out;
  accepted = detail::canonical_json_fast(text, out, 512);
  return out;
}

TEST(JsonCanonical, FastPathMatchesTheGeneralPath) {
  const char* docs[] = {
      "{}",
      "[]",
      "  {\"b\": 1, \"a\": [true, false, null], \"\": \"x\"}  ",
      R"({"views": 7, "tags": ["a", "b"]})",  // jsonb's own order: by length, then bytes
      R"({"a": 1, "a": 2, "b": {"z": [], "y": {}}, "a": 3})",  // the last duplicate wins
      R"({"é": 1, "e": 2, "E": 3, "日本": [1, -2, 0, 123456789012345678]})",
      R"(["x", {"k": "v"}, [[[]]], -9, 0])",
      "\"just a string\"",
      "42",
      "-17",
      "true",
      "null",
      "{\"a\":\n\t{\"c\": 1,\r\n \"b\": 2}}",
  };
  for (const char* d : docs) {
    bool accepted = false;
    std::string got = fast(d, accepted);
    ASSERT_TRUE(accepted) << d;
    EXPECT_EQ(got, reference(d)) << d;
    Result<Value> v = Value::json(d);
    ASSERT_TRUE(v.is_ok()) << d;
    std::string scratch;
    EXPECT_EQ(v->canonical_json(scratch), reference(d)) << d;
    EXPECT_EQ(v->str(), d) << d;  // kept as written
  }
}

TEST(JsonCanonical, OutsideTheFastSubsetFallsBack) {
  const char* docs[] = {
      "1.5",
      "1e3",
      "-0",
      "01",
      "[1E2]",
      R"("a\nb")",
      R"({"k\"": 1})",
      "1234567890123456789",  // 19 digits
      "[1,]",
      "{\"a\" 1}",
      "[1] x",
      "",
      "{\"a\":1,}",
      "\"tab\there\"",  // a raw control character
      "\"\xff\"",
      "[tru]",
      "{1: 2}",
      "[",
      "-",
  };
  for (const char* d : docs) {
    bool accepted = true;
    (void)fast(d, accepted);
    EXPECT_FALSE(accepted) << d;
  }
  // The general path still canonicalises what it can, and reports what is not JSON.
  std::string scratch;
  EXPECT_EQ(Value::json("[1.0, -0, 1.5]")->canonical_json(scratch), "[1,0,1.5]");
  EXPECT_EQ(Value::json(R"({"b": "a\nb", "a": 1})")->canonical_json(scratch),
            R"({"a":1,"b":"a\nb"})");
  EXPECT_FALSE(Value::json("[1,]").is_ok());
  EXPECT_FALSE(Value::json("\"\xff\"").is_ok());
}

TEST(JsonCanonical, NestingBeyondTheLimitIsLeftToTheGeneralPath) {
  std::string deep(600, '[');
  deep += std::string(600, ']');
  bool accepted = true;
  (void)fast(deep, accepted);
  EXPECT_FALSE(accepted);
  EXPECT_FALSE(Value::json(deep).is_ok());
}

// Random documents of the fast subset: the fast path takes them all and agrees byte for byte.
TEST(JsonCanonical, RandomDocumentsAgree) {
  std::mt19937 rng(20261125);
  const std::vector<std::string> keys = {"a", "b", "aa", "B", "é", "z", "", "key", "日"};
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    switch (std::uniform_int_distribution<int>(0, depth > 4 ? 3 : 5)(rng)) {
      case 0:
        return std::to_string(std::uniform_int_distribution<int64_t>(-1000000, 1000000)(rng));
      case 1:
        return "\"" + keys[rng() % keys.size()] + " v\"";
      case 2:
        return (rng() % 3 == 0) ? "null" : (rng() % 2 ? "true" : "false");
      case 3:
        return std::to_string(std::uniform_int_distribution<int64_t>(0, 999999999999999999)(rng));
      case 4: {
        std::string s = "[";
        for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i)
          s += (i ? ", " : " ") + gen(depth + 1);
        return s + "]";
      }
      default: {
        std::string s = "{";
        for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i)
          s += (i ? ",\n" : "") + ("\"" + keys[rng() % keys.size()] + "\" : ") + gen(depth + 1);
        return s + "}";
      }
    }
  };
  for (int i = 0; i < 3000; ++i) {
    std::string d = gen(0);
    bool accepted = false;
    std::string got = fast(d, accepted);
    ASSERT_TRUE(accepted) << d;
    ASSERT_EQ(got, reference(d)) << d;
  }
}

}  // namespace
}  // namespace dbsync
