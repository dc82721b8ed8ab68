// The write contract (engine/endpoints.hpp, ChangeBatch): a write never overwrites a row version
// the job did not read. Each test plays a user whose write lands between the job's read and its
// write (MemoryTable::before_apply), on either side, for every strategy; the suite runs with and
// without fingerprints (DBSYNC_TEST_FINGERPRINTS), so both ways of recognising "the row as read"
// are proven: by fingerprint and by the values read.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

struct StrategyCase {
  const char* name;
  Strategy strategy;
  ManualMode mode;
};

const std::vector<StrategyCase> kStrategies = {
    {"source_wins", Strategy::kSourceWins, ManualMode::kHoldAll},
    {"target_wins", Strategy::kTargetWins, ManualMode::kHoldAll},
    {"merge", Strategy::kMerge, ManualMode::kHoldAll},
    {"manual_apply_clean", Strategy::kManual, ManualMode::kApplyClean},
};

// A synced fixture of `rows` rows under the strategy (merges fall back to the source).
void start(SyncFixture& f, const StrategyCase& sc, int64_t rows,
           Direction direction = Direction::kOneWay) {
  fill(f, rows);
  f.policy.direction = direction;
  f.policy.strategy = sc.strategy;
  f.policy.manual_mode = sc.mode;
  f.policy.merge_fallback = MergeFallback::kSource;
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
}

// A user's write that lands once, between the job's read of `table` and its write.
void edit_once(MemoryTable& table, std::function<void(MemoryTable&)> edit, bool& done) {
  done = false;
  table.before_apply = [edit = std::move(edit), &done](MemoryTable& t) {
    if (done) return;
    done = true;
    edit(t);
  };
}

// One-way: the job updates a target row whose other column a user edits meanwhile.
TEST(WriteContract, TargetUpdateKeepsAConcurrentTargetEdit) {
  for (const StrategyCase& sc : kStrategies) {
    SCOPED_TRACE(sc.name);
    SyncFixture f;
    start(f, sc, 3);
    f.srow(2)->at(2) = dec("2.00");  // the job will update row 2's price
    bool edited = false;
    edit_once(
        f.target, [](MemoryTable& t) { t.find({num(2)})->at(3) = txt("edited by a user"); },
        edited);
    std::vector<std::string> moved;
    JobOptions opt;
    opt.on_row_error = [&](const Row& key, const Status& why) {
      moved.push_back(key_to_string(key) + ": " + why.message());
    };
    JobOutcome o = f.run(opt);
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
    EXPECT_TRUE(edited);
    // Not overwritten, not recorded as in step: reported, left for the next run.
    EXPECT_EQ(f.trow(2)->at(3), txt("edited by a user"));
    EXPECT_EQ(f.trow(2)->at(2), dec("1.50"));
    EXPECT_EQ(o.progress.updated, 0);
    EXPECT_EQ(o.progress.errors, 1);
    ASSERT_EQ(moved.size(), 1u);
    EXPECT_NE(moved[0].find("changed while the job ran"), std::string::npos) << moved[0];

    // The next run sees both sides moved: a conflict, decided by the strategy.
    f.target.before_apply = nullptr;
    JobOutcome next = f.run();
    ASSERT_NE(next.state, JobState::kFailed) << next.error.to_string();
    EXPECT_EQ(next.progress.conflicts, 1);
    if (sc.strategy == Strategy::kMerge) {  // each side's field survives
      EXPECT_EQ(f.trow(2)->at(2), dec("2.00"));
      EXPECT_EQ(f.trow(2)->at(3), txt("edited by a user"));
    }
    if (sc.strategy == Strategy::kTargetWins || sc.strategy == Strategy::kManual) {
      EXPECT_EQ(f.trow(2)->at(3), txt("edited by a user"));
    }
  }
}

// Two-way: the job writes a target edit back into a source row a user edits meanwhile.
TEST(WriteContract, TwoWayWriteBackKeepsAConcurrentSourceEdit) {
  for (const StrategyCase& sc : kStrategies) {
    SCOPED_TRACE(sc.name);
    SyncFixture f;
    start(f, sc, 3, Direction::kTwoWay);
    f.trow(1)->at(1) = txt("title from the target");  // flows back into the source
    bool edited = false;
    edit_once(
        f.source, [](MemoryTable& t) { t.find({num(1)})->at(3) = txt("published by a user"); },
        edited);
    JobOutcome o = f.run();
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
    EXPECT_TRUE(edited);
    EXPECT_EQ(f.srow(1)->at(3), txt("published by a user"));
    EXPECT_EQ(f.srow(1)->at(1), txt("p1"));  // the write-back was left
    EXPECT_EQ(o.progress.source_updated, 0);
    EXPECT_EQ(o.progress.errors, 1);

    f.source.before_apply = nullptr;
    JobOutcome next = f.run();
    ASSERT_NE(next.state, JobState::kFailed) << next.error.to_string();
    EXPECT_EQ(next.progress.conflicts, 1);
    if (sc.strategy == Strategy::kMerge) {  // both edits survive, on both sides
      EXPECT_EQ(f.srow(1)->at(1), txt("title from the target"));
      EXPECT_EQ(f.srow(1)->at(3), txt("published by a user"));
      EXPECT_EQ(f.trow(1)->at(1), txt("title from the target"));
      EXPECT_EQ(f.trow(1)->at(3), txt("published by a user"));
    }
    if (sc.strategy == Strategy::kSourceWins || sc.strategy == Strategy::kManual) {
      EXPECT_EQ(f.srow(1)->at(3), txt("published by a user"));
    }
  }
}

// A key that appears in the target after the read is not overwritten by the job's insert.
TEST(WriteContract, InsertLeavesAKeyThatAppearedSinceTheRead) {
  for (const StrategyCase& sc : kStrategies) {
    SCOPED_TRACE(sc.name);
    SyncFixture f;
    start(f, sc, 2);
    f.source.put({num(7), txt("from the source"), dec("1.00"), txt("draft")});
    f.target.before_apply = [&](MemoryTable& t) {
      if (!t.find({num(7)})) t.put({num(7), txt("made in the target"), dec("5.00"), txt("live")});
    };
    JobOutcome o = f.run();
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
    EXPECT_EQ(f.trow(7)->at(1), txt("made in the target"));
    EXPECT_EQ(o.progress.inserted, 0);
    EXPECT_EQ(o.progress.errors, 1);
    EXPECT_EQ(f.baseline.entries.count({num(7)}), 0u);
    f.target.before_apply = nullptr;
    JobOutcome next = f.run();
    ASSERT_NE(next.state, JobState::kFailed) << next.error.to_string();
    EXPECT_EQ(next.progress.conflicts, 1);  // two rows for one key, never synced: a conflict
  }
}

// hold_all: the change set waits for a decision; meanwhile a user edits one target row and
// deletes another that the staged changes update. The commit writes neither, goes on with the
// rest, and keeps the person's decision.
TEST(WriteContract, HoldAllCommitValidatesTheStageAgainstTheRowsAsTheyAreThen) {
  SyncFixture f;
  fill(f, 4);
  f.policy.strategy = Strategy::kManual;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.srow(1)->at(1) = txt("source");
  f.trow(1)->at(1) = txt("target");  // the conflict
  f.srow(2)->at(2) = dec("2.00");    // clean changes, held
  f.srow(3)->at(2) = dec("3.00");
  f.srow(4)->at(2) = dec("4.00");
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kAwaitingResolution) << o.error.to_string();

  // While the job waits: row 2 edited, row 3 deleted in the target.
  f.trow(2)->at(3) = txt("edited while waiting");
  f.target.rows().erase(f.target.rows().begin() + 2);
  ASSERT_EQ(f.trow(3), nullptr);

  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &f.baseline, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  auto decided = x->resolver().resolve(f.stage.conflicts[0], Decision::kSource, nullptr);
  ASSERT_TRUE(decided.is_ok());
  f.stage.changes.push_back(*decided);
  f.stage.decided[0] = true;
  std::vector<std::string> moved;
  JobOptions opt;
  opt.on_row_error = [&](const Row& key, const Status&) { moved.push_back(key_to_string(key)); };
  JobOutcome c = x->commit(opt);
  ASSERT_EQ(c.state, JobState::kSucceeded) << c.error.to_string();
  EXPECT_EQ(f.trow(1)->at(1), txt("source"));  // the decision holds
  EXPECT_EQ(f.trow(4)->at(2), dec("4.00"));    // the rest of the commit went on
  EXPECT_EQ(f.trow(2)->at(3), txt("edited while waiting"));
  EXPECT_EQ(f.trow(2)->at(2), dec("1.50"));
  EXPECT_EQ(f.trow(3), nullptr);
  EXPECT_EQ(c.progress.updated, 2);
  EXPECT_EQ(c.progress.errors, 2);
  EXPECT_EQ(moved.size(), 2u);

  // The next run raises what moved: row 2 changed on both sides, row 3 changed and deleted.
  JobOutcome next = f.run();
  ASSERT_EQ(next.state, JobState::kAwaitingResolution) << next.error.to_string();
  EXPECT_EQ(next.progress.conflicts, 2);
  EXPECT_EQ(next.progress.conflicts_pending, 2);
}

// A decision is applied to the row version the person saw: a target edit made after the
// conflict was recorded is not overwritten by it.
TEST(WriteContract, ADecisionDoesNotOverwriteALaterEdit) {
  SyncFixture f;
  fill(f, 2);
  f.policy.strategy = Strategy::kManual;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.srow(1)->at(1) = txt("source");
  f.trow(1)->at(1) = txt("target");
  ASSERT_EQ(f.run().state, JobState::kAwaitingResolution);
  f.trow(1)->at(3) = txt("edited after the conflict was shown");
  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &f.baseline, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  auto decided = x->resolver().resolve(f.stage.conflicts[0], Decision::kSource, nullptr);
  ASSERT_TRUE(decided.is_ok());
  f.stage.changes.push_back(*decided);
  f.stage.decided[0] = true;
  JobOutcome c = x->commit({});
  ASSERT_EQ(c.state, JobState::kSucceeded) << c.error.to_string();
  EXPECT_EQ(f.trow(1)->at(3), txt("edited after the conflict was shown"));
  EXPECT_EQ(f.trow(1)->at(1), txt("target"));
  EXPECT_EQ(c.progress.errors, 1);
}

// Issue 12 §3: a job stopped right after writing a target-only key back into the source resumes
// exactly where it stopped (the source scan does not read that key again as new).
TEST(WriteContract, TwoWayResumeAfterAWriteBackDoesNotReadTheKeyAgain) {
  SyncFixture f;
  fill(f, 4);
  f.policy.direction = Direction::kTwoWay;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.target.put({num(5), txt("made in the target"), dec("9.99"), txt("draft")});
  f.source.put({num(6), txt("p6"), dec("1.00"), txt("draft")});
  f.source.put({num(7), txt("p7"), dec("1.00"), txt("draft")});

  JobOptions opt;
  opt.batch_size = 1;
  std::optional<Progress> last;
  opt.on_progress = [&](const Progress& p) { last = p; };
  f.target.fail_apply_after = f.target.apply_calls;  // the insert of key 6 fails: a crash
  JobOutcome cut = f.run(opt);
  ASSERT_EQ(cut.state, JobState::kFailed);
  ASSERT_TRUE(last && last->checkpoint);
  EXPECT_EQ((*last->checkpoint)[0], num(5));
  ASSERT_NE(f.srow(5), nullptr);  // written back before the crash

  f.target.fail_apply_after = -1;
  const int reapplied = f.target.reapplied_inserts;
  JobOptions resume;
  resume.batch_size = 1;
  resume.resume_after = last->checkpoint;
  resume.resume_after_source = last->source_checkpoint;
  JobOutcome o = f.run(resume);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.inserted, 2);  // 6 and 7, nothing else
  EXPECT_EQ(f.target.reapplied_inserts, reapplied);
  EXPECT_EQ(f.run().progress.unchanged, 7);
}

}  // namespace
}  // namespace dbsync::testing
