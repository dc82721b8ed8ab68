#include "engine/conflict_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

// posts(id, post_title, price, status) mapped from products (sync_fixture.hpp).
class ConflictJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    f.compile();
    c.kind = DiffKind::kBothChanged;
    c.key = {num(7)};
    c.source = Row{num(7), txt("source title"), dec("10.00"), txt("draft")};
    c.target = Row{num(7), txt("target title"), dec("12.00"), txt("draft")};
    for (FieldSet* set : {&c.source_changed, &c.target_changed, &c.conflicting})
      set->reset(m().mapped_count());
    c.source_changed.set(1);
    c.target_changed.set(1);
    c.target_changed.set(2);
    c.conflicting.set(1);
  }
  const FieldMapper& m() { return *f.mapper; }
  SyncFixture f;
  ConflictRecord c;
};

TEST_F(ConflictJsonTest, ShowsKeyRowsAndFieldNames) {
  ASSERT_EQ(m().mapped_columns(),
            (std::vector<std::string>{"id", "post_title", "price", "status"}));
  ConflictView v = conflict_view(m(), c);
  EXPECT_EQ(v.key, R"({"id": 7})");
  EXPECT_EQ(v.kind, "both_changed");
  EXPECT_EQ(*v.source_row,
            R"({"id": 7, "post_title": "source title", "price": 10.00, "status": "draft"})");
  EXPECT_EQ(v.source_changed, R"(["post_title"])");
  EXPECT_EQ(v.target_changed, R"(["post_title", "price"])");
  EXPECT_EQ(v.conflicting, R"(["post_title"])");
  EXPECT_FALSE(v.reason.has_value());

  nlohmann::json j = nlohmann::json::parse(conflict_json(m(), c));
  EXPECT_EQ(j["key"], nlohmann::json::parse(R"({"id": 7})"));
  EXPECT_EQ(j["kind"], "both_changed");
  EXPECT_EQ(j["target_row"]["post_title"], "target title");
  EXPECT_EQ(j["target_changed"], nlohmann::json::parse(R"(["post_title", "price"])"));
  EXPECT_TRUE(j["reason"].is_null());
}

TEST_F(ConflictJsonTest, AbsentRowsAndReason) {
  c.kind = DiffKind::kSourceDeletedTargetChanged;
  c.source.reset();
  c.reason = "merge fallback manual";
  ConflictView v = conflict_view(m(), c);
  EXPECT_FALSE(v.source_row.has_value());
  EXPECT_EQ(v.reason, "merge fallback manual");
  nlohmann::json j = nlohmann::json::parse(conflict_json(m(), c));
  EXPECT_TRUE(j["source_row"].is_null());
  EXPECT_EQ(j["reason"], "merge fallback manual");
}

TEST_F(ConflictJsonTest, CustomRowKeepsTheSourceVersionOfLeftOutColumns) {
  Result<Row> r = custom_row_from_text(m(), c, R"({"post_title": "decided", "price": "11.50"})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, (Row{num(7), txt("decided"), dec("11.50"), txt("draft")}));
  // The key may be repeated with its own value.
  EXPECT_TRUE(custom_row_from_text(m(), c, R"({"id": 7})").is_ok());
}

TEST_F(ConflictJsonTest, CustomRowFallsBackToTheTargetWhenTheSourceIsGone) {
  c.source.reset();
  Result<Row> r = custom_row_from_json(m(), c, nlohmann::json::parse(R"({"status": "gone"})"));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, (Row{num(7), txt("target title"), dec("12.00"), txt("gone")}));
}

TEST_F(ConflictJsonTest, CustomRowErrorsAreToldApart) {
  auto code = [&](const char* json) { return custom_row_from_text(m(), c, json).status().code(); };
  EXPECT_EQ(code("[1, 2]"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("not json"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"title": "x"})"), ErrorCode::kNotFound);  // a source column, not a target one
  EXPECT_EQ(code(R"({"price": "cheap"})"), ErrorCode::kTypeMismatch);
  EXPECT_EQ(code(R"({"id": 8})"), ErrorCode::kConflict);
  EXPECT_EQ(custom_row_from_text(m(), c, R"({"id": 8})").status().message(),
            "the custom row changes key column \"id\"");
  EXPECT_EQ(custom_row_from_text(m(), c, R"({"title": "x"})").status().message(),
            "the custom row names column \"title\", which the sync does not write to its target");
}

}  // namespace
}  // namespace dbsync::testing
