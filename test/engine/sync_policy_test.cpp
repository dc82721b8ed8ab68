#include "engine/sync_policy.hpp"

#include <gtest/gtest.h>

namespace dbsync {
namespace {

Status options(const char* json, Strategy strategy = Strategy::kManual) {
  SyncPolicy p;
  p.strategy = strategy;
  return parse_strategy_options(json, p);
}

TEST(SyncPolicy, ParsesEveryColumnOfASyncRow) {
  Result<SyncPolicy> p = parse_sync_policy(
      "two_way", "merge", R"({"merge_fallback": "target", "manual_mode": "apply_clean"})",
      "soft:deleted");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->direction, Direction::kTwoWay);
  EXPECT_EQ(p->strategy, Strategy::kMerge);
  EXPECT_EQ(p->merge_fallback, MergeFallback::kTarget);
  EXPECT_EQ(p->manual_mode, ManualMode::kApplyClean);
  EXPECT_EQ(p->delete_policy, DeletePolicy::kSoft);
  EXPECT_EQ(p->soft_delete_column, "deleted");
}

TEST(SyncPolicy, DefaultsWithEmptyOptions) {
  Result<SyncPolicy> p = parse_sync_policy("one_way", "source_wins", "{}", "propagate");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->merge_fallback, MergeFallback::kManual);
  EXPECT_EQ(p->webhook_fallback, Strategy::kManual);
  EXPECT_EQ(p->delete_policy, DeletePolicy::kPropagate);
}

TEST(SyncPolicy, ChecksTheColumnsInOrder) {
  // A bad direction is reported before a bad strategy_options or delete_policy.
  Result<SyncPolicy> p = parse_sync_policy("sideways", "merge", "[]", "nope");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("sideways"), std::string::npos) << p.status().message();
  p = parse_sync_policy("one_way", "merge", "[]", "nope");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().message(), "strategy_options must be a JSON object");
  p = parse_sync_policy("one_way", "merge", "{}", "nope");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("nope"), std::string::npos) << p.status().message();
}

// The extension's strictness: what dbsyncd used to ignore is an error.
TEST(SyncPolicy, StrategyOptionsAreStrict) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {"not json", "strategy_options must be a JSON object"},
      {R"(["merge_fallback"])", "strategy_options must be a JSON object"},
      {R"({"merge_fallback": 1})", "strategy option \"merge_fallback\" must be a string"},
      {R"({"secret": true})", "strategy option \"secret\" must be a string"},
      {R"({"webhook_fallback": "webhook"})", "webhook_fallback cannot be webhook"},
      {R"({"url": "ftp://example.com"})", "strategy option \"url\" must be an http(s) URL"},
      {R"({"timeout_ms": -1})", "strategy option \"timeout_ms\" must be a non-negative integer"},
      {R"({"retries": "3"})", "strategy option \"retries\" must be a non-negative integer"},
      {R"({"colour": "blue"})",
       "unknown strategy option \"colour\" (expected merge_fallback, manual_mode, "
       "webhook_fallback, url, secret, timeout_ms, retries)"},
  };
  for (const Case& c : cases) {
    Status st = options(c.json);
    EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument) << c.json;
    EXPECT_EQ(st.message(), c.message) << c.json;
  }
  EXPECT_FALSE(options(R"({"merge_fallback": "sideways"})").is_ok());
  EXPECT_FALSE(options(R"({"manual_mode": "some"})").is_ok());
}

TEST(SyncPolicy, WebhookNeedsAUrl) {
  EXPECT_EQ(options("{}", Strategy::kWebhook).message(),
            "strategy webhook needs strategy_options.url");
  EXPECT_TRUE(options(R"({"url": "https://hooks.example/x", "secret": "s", "timeout_ms": 500,
                          "retries": 2, "webhook_fallback": "source_wins"})",
                      Strategy::kWebhook)
                  .is_ok());
}

TEST(SyncPolicy, BatchSize) {
  EXPECT_TRUE(check_batch_size(1).is_ok());
  EXPECT_TRUE(check_batch_size(1000000).is_ok());
  EXPECT_EQ(check_batch_size(0).message(), "batch_size must be between 1 and 1000000");
  EXPECT_EQ(check_batch_size(1000001).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dbsync
