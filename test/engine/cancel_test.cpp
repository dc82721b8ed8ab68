// Issue 12, "Cancel": a cancel acts within the current batch, however small the job.
#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

// A cancel that arrives while the first batch is read (the shell's poll answers true from then
// on) stops the job before that batch is applied: a 6-row job never reaches its 256th row.
TEST(SyncExecutorCancel, SmallJobSeesACancelBeforeItsBatchIsApplied) {
  SyncFixture f;
  fill(f, 6);
  JobOptions opt;
  opt.batch_size = 4;
  int polls = 0;
  opt.cancelled = [&] { return ++polls > 1; };  // the first poll (row 0) says no
  JobOutcome o = f.run(opt);
  EXPECT_EQ(o.state, JobState::kCancelled);
  EXPECT_TRUE(f.target.rows().empty());
  EXPECT_TRUE(f.baseline.entries.empty());
}

// A cancel requested after the first batch was applied: the second one is not.
TEST(SyncExecutorCancel, StopsBeforeTheNextBatch) {
  SyncFixture f;
  fill(f, 6);
  JobOptions opt;
  opt.batch_size = 2;
  int64_t reported = 0;
  opt.on_progress = [&](const Progress& p) { reported = p.inserted; };
  opt.cancelled = [&] { return reported >= 2; };
  JobOutcome o = f.run(opt);
  EXPECT_EQ(o.state, JobState::kCancelled);
  EXPECT_EQ(f.target.rows().size(), 2u);
  EXPECT_EQ(f.baseline.entries.size(), 2u);
  ASSERT_TRUE(o.progress.checkpoint.has_value());
  EXPECT_EQ((*o.progress.checkpoint)[0].as_int(), 2);
}

// hold_all: a cancel while staging drops the stage (nothing reaches the target) and leaves no
// conflict behind in it.
TEST(SyncExecutorCancel, StagingJobDropsItsStage) {
  SyncFixture f;
  fill(f, 6);
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  for (int64_t id = 1; id <= 6; ++id) {
    f.srow(id)->at(1) = txt("source");
    f.trow(id)->at(1) = txt("target");
  }
  f.policy.strategy = Strategy::kManual;
  JobOptions opt;
  opt.batch_size = 2;
  int64_t reported = 0;
  opt.on_progress = [&](const Progress& p) { reported = p.scanned; };
  opt.cancelled = [&] { return reported >= 2; };
  JobOutcome o = f.run(opt);
  EXPECT_EQ(o.state, JobState::kCancelled);
  EXPECT_TRUE(f.stage.changes.empty());
  EXPECT_TRUE(f.stage.conflicts.empty());
  EXPECT_FALSE(o.progress.checkpoint.has_value());
  EXPECT_EQ(f.trow(1)->at(1), txt("target"));
}

}  // namespace
}  // namespace dbsync::testing
