#include "engine/conflict_resolver.hpp"

#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

// After an initial sync of one row, both sides edit it; each test runs a strategy over that.
class StrategyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    f.source.put({num(1), txt("original"), dec("10.00"), txt("draft")});
    f.source.put({num(2), txt("untouched"), dec("5.00"), txt("draft")});
    JobOutcome o = f.run();
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  }
  // Source changes the title and the status; the target changes the title and the price.
  void edit_both_sides() {
    f.srow(1)->at(1) = txt("source title");
    f.srow(1)->at(3) = txt("published");
    f.trow(1)->at(1) = txt("target title");
    f.trow(1)->at(2) = dec("12.00");
  }
  JobOutcome run_with(Strategy s) {
    f.policy.strategy = s;
    return f.run();
  }
  SyncFixture f;
};

TEST_F(StrategyTest, SourceWinsAppliesTheSourceRow) {
  edit_both_sides();
  JobOutcome o = run_with(Strategy::kSourceWins);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.conflicts, 1);
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("source title"), dec("10.00"), txt("published"), {}}));
  EXPECT_EQ(f.kinds()[1], DiffKind::kUnchanged);  // and the baseline agrees
}

TEST_F(StrategyTest, TargetWinsKeepsTheTargetRowAndDoesNotRaiseItAgain) {
  edit_both_sides();
  JobOutcome o = run_with(Strategy::kTargetWins);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("target title"), dec("12.00"), txt("draft"), {}}));
  EXPECT_EQ(f.kinds()[1], DiffKind::kUnchanged);
  // A later source change to another field flows, and the target's kept fields stay.
  f.srow(1)->at(3) = txt("archived");
  JobOutcome o2 = run_with(Strategy::kTargetWins);
  ASSERT_EQ(o2.state, JobState::kSucceeded);
  EXPECT_EQ(o2.progress.conflicts, 0);
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("target title"), dec("12.00"), txt("archived"), {}}));
}

TEST_F(StrategyTest, MergeKeepsBothSidesChangesToDifferentFields) {
  f.srow(1)->at(3) = txt("published");  // source: status
  f.trow(1)->at(2) = dec("12.00");      // target: price
  JobOutcome o = run_with(Strategy::kMerge);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.conflicts, 1);
  EXPECT_EQ(o.progress.conflicts_pending, 0);
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("original"), dec("12.00"), txt("published"), {}}));
  EXPECT_EQ(f.kinds()[1], DiffKind::kUnchanged);
}

TEST_F(StrategyTest, MergeSameFieldUsesTheFallback) {
  edit_both_sides();
  f.policy.merge_fallback = MergeFallback::kSource;
  JobOutcome o = run_with(Strategy::kMerge);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  // title from the source (fallback), status from the source, price from the target
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("source title"), dec("12.00"), txt("published"), {}}));

  // Both sides edit the title again, on top of the merged state.
  f.srow(1)->at(1) = txt("source again");
  f.trow(1)->at(1) = txt("target again");
  f.policy.merge_fallback = MergeFallback::kTarget;
  JobOutcome o2 = run_with(Strategy::kMerge);
  ASSERT_EQ(o2.state, JobState::kSucceeded) << o2.error.to_string();
  EXPECT_EQ(f.trow(1)->at(1), txt("target again"));
}

TEST_F(StrategyTest, MergeWithManualFallbackHoldsTheConflict) {
  edit_both_sides();
  f.policy.merge_fallback = MergeFallback::kManual;
  JobOutcome o = run_with(Strategy::kMerge);
  EXPECT_EQ(o.state, JobState::kAwaitingResolution);
  ASSERT_EQ(f.stage.conflicts.size(), 1u);
  EXPECT_NE(f.stage.conflicts[0].reason.find("post_title"), std::string::npos)
      << f.stage.conflicts[0].reason;
  EXPECT_EQ(f.trow(1)->at(1), txt("target title"));  // nothing written yet
}

TEST_F(StrategyTest, ManualRecordsTheConflictWithBothImagesAndFields) {
  edit_both_sides();
  JobOutcome o = run_with(Strategy::kManual);
  EXPECT_EQ(o.state, JobState::kAwaitingResolution);
  ASSERT_EQ(f.stage.conflicts.size(), 1u);
  const ConflictRecord& c = f.stage.conflicts[0];
  EXPECT_EQ(c.kind, DiffKind::kBothChanged);
  EXPECT_EQ(c.key, (Row{num(1)}));
  EXPECT_EQ(c.source->at(1), txt("source title"));
  EXPECT_EQ(c.target->at(1), txt("target title"));
  EXPECT_TRUE(c.conflicting.test(1));
  EXPECT_TRUE(c.source_changed.test(3));
  EXPECT_TRUE(c.target_changed.test(2));
}

TEST_F(StrategyTest, ResolveDecisionsOnARecordedConflict) {
  edit_both_sides();
  f.policy.strategy = Strategy::kManual;
  ASSERT_EQ(f.run().state, JobState::kAwaitingResolution);
  ConflictRecord c = f.stage.conflicts.at(0);
  ConflictResolver r(*f.mapper, f.policy);

  auto take_source = r.resolve(c, Decision::kSource, nullptr);
  ASSERT_TRUE(take_source.is_ok());
  EXPECT_EQ(take_source->target_op, RowOp::kUpdate);
  EXPECT_EQ(take_source->target_values.at(1), txt("source title"));

  auto take_target = r.resolve(c, Decision::kTarget, nullptr);
  ASSERT_TRUE(take_target.is_ok());
  EXPECT_EQ(take_target->target_op, RowOp::kNone);
  EXPECT_EQ(take_target->baseline_op, BaselineOp::kSet);

  auto merged = r.resolve(c, Decision::kMerge, nullptr);  // fallback manual: title undecidable
  EXPECT_EQ(merged.status().code(), ErrorCode::kConflict);

  Row custom{num(1), txt("hand made"), dec("11"), txt("published")};
  auto made = r.resolve(c, Decision::kCustom, &custom);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  EXPECT_EQ(made->target_values.at(2), dec("11.00"));  // coerced to numeric(10,2)

  Row wrong_key{num(2), txt("x"), dec("1"), txt("y")};
  EXPECT_EQ(r.resolve(c, Decision::kCustom, &wrong_key).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.resolve(c, Decision::kCustom, nullptr).status().code(), ErrorCode::kInvalidArgument);

  auto skipped = r.resolve(c, Decision::kSkip, nullptr);
  ASSERT_TRUE(skipped.is_ok());
  EXPECT_EQ(skipped->target_op, RowOp::kNone);
  EXPECT_EQ(skipped->source_op, RowOp::kNone);
}

class FakeWebhook : public ConflictWebhook {
 public:
  Result<WebhookAnswer> decide(const ConflictRecord& c) override {
    seen.push_back(c);
    if (fail) return error(ErrorCode::kUnavailable, "connection refused");
    return answer;
  }
  WebhookAnswer answer;
  bool fail = false;
  std::vector<ConflictRecord> seen;
};

TEST_F(StrategyTest, WebhookAnswerDecides) {
  edit_both_sides();
  FakeWebhook hook;
  hook.answer.decision = Decision::kTarget;
  f.webhook = &hook;
  JobOutcome o = run_with(Strategy::kWebhook);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  ASSERT_EQ(hook.seen.size(), 1u);
  EXPECT_EQ(hook.seen[0].key, (Row{num(1)}));
  EXPECT_EQ(f.trow(1)->at(1), txt("target title"));
}

TEST_F(StrategyTest, WebhookFailureFallsBackToManual) {
  edit_both_sides();
  FakeWebhook hook;
  hook.fail = true;
  f.webhook = &hook;
  JobOutcome o = run_with(Strategy::kWebhook);
  EXPECT_EQ(o.state, JobState::kAwaitingResolution);
  ASSERT_EQ(f.stage.conflicts.size(), 1u);
  EXPECT_NE(f.stage.conflicts[0].reason.find("connection refused"), std::string::npos);
}

TEST_F(StrategyTest, WebhookFailureFallsBackToAConfiguredStrategy) {
  edit_both_sides();
  FakeWebhook hook;
  hook.fail = true;
  f.webhook = &hook;
  f.policy.webhook_fallback = Strategy::kSourceWins;
  JobOutcome o = run_with(Strategy::kWebhook);
  ASSERT_EQ(o.state, JobState::kSucceeded);
  EXPECT_EQ(f.trow(1)->at(1), txt("source title"));
}

TEST_F(StrategyTest, TargetDriftOneWayIsRevertedBySourceWins) {
  f.trow(2)->at(1) = txt("drifted");
  JobOutcome o = run_with(Strategy::kSourceWins);
  ASSERT_EQ(o.state, JobState::kSucceeded);
  EXPECT_EQ(f.trow(2)->at(1), txt("untouched"));
}

TEST_F(StrategyTest, TargetDeleteOneWayIsReinsertedBySourceWinsAndAcceptedByTargetWins) {
  f.target.rows().erase(f.target.rows().begin() + 1);  // id 2
  JobOutcome o = run_with(Strategy::kTargetWins);
  ASSERT_EQ(o.state, JobState::kSucceeded);
  EXPECT_EQ(f.trow(2), nullptr);
  EXPECT_EQ(f.kinds()[2], DiffKind::kUnchanged);  // accepted: not raised again
  // Once the source changes the row again, it comes back.
  f.srow(2)->at(1) = txt("changed again");
  ASSERT_EQ(run_with(Strategy::kTargetWins).state, JobState::kSucceeded);
  ASSERT_NE(f.trow(2), nullptr);
  EXPECT_EQ(f.trow(2)->at(1), txt("changed again"));

  f.target.rows().erase(f.target.rows().begin() + 1);
  ASSERT_EQ(run_with(Strategy::kSourceWins).state, JobState::kSucceeded);
  ASSERT_NE(f.trow(2), nullptr);
}

}  // namespace
}  // namespace dbsync::testing
