#include "engine/sync_executor.hpp"

#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

TEST(SyncExecutor, InitialSyncThenNothingThenChanges) {
  SyncFixture f;
  fill(f, 250);
  JobOptions opt;
  opt.batch_size = 64;
  std::vector<Progress> seen;
  opt.on_progress = [&](const Progress& p) { seen.push_back(p); };
  JobOutcome o = f.run(opt);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.inserted, 250);
  EXPECT_EQ(o.progress.total, 250);
  EXPECT_EQ(f.target.rows().size(), 250u);
  EXPECT_EQ(f.baseline.entries.size(), 250u);
  EXPECT_EQ(f.trow(17)->at(1), txt("p17"));
  EXPECT_EQ(f.target.apply_calls, 4);  // 250 rows in batches of 64
  ASSERT_GE(seen.size(), 4u);
  EXPECT_EQ(seen.back().phase, "done");
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].scanned, seen[i - 1].scanned);

  JobOutcome again = f.run(opt);
  ASSERT_EQ(again.state, JobState::kSucceeded);
  EXPECT_EQ(again.progress.unchanged, 250);
  EXPECT_EQ(again.progress.inserted + again.progress.updated + again.progress.deleted, 0);

  f.srow(5)->at(2) = dec("2.00");
  f.source.rows().erase(f.source.rows().begin() + 9);  // id 10
  f.source.put({num(1000), txt("new"), dec("3.00"), txt("draft")});
  JobOutcome third = f.run(opt);
  ASSERT_EQ(third.state, JobState::kSucceeded);
  EXPECT_EQ(third.progress.updated, 1);
  EXPECT_EQ(third.progress.deleted, 1);
  EXPECT_EQ(third.progress.inserted, 1);
  EXPECT_EQ(f.trow(5)->at(2), dec("2.00"));
  EXPECT_EQ(f.trow(10), nullptr);
  EXPECT_NE(f.trow(1000), nullptr);
}

TEST(SyncExecutor, SeedMappingRenamesAndTransforms) {
  SyncFixture f;
  f.source.put({num(1), txt("Hello"), dec("10.00"), {}});
  f.compile(R"({"post_title": {"source": "title", "transform": "upper"},
               "status": {"source": "status", "transform": "default:draft"},
               "price": "{{ master.price * 1.2 }}"})");
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(*f.trow(1), (Row{num(1), txt("HELLO"), dec("12.00"), txt("draft"), {}}));
}

TEST(SyncExecutor, DeletePolicies) {
  for (const char* policy : {"propagate", "ignore", "soft:deleted"}) {
    SCOPED_TRACE(policy);
    SyncFixture f;
    fill(f, 3);
    ASSERT_TRUE(parse_delete_policy(policy, f.policy).is_ok());
    ASSERT_EQ(f.run().state, JobState::kSucceeded);
    f.source.rows().erase(f.source.rows().begin() + 1);  // id 2
    JobOutcome o = f.run();
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
    if (std::string(policy) == "propagate") {
      EXPECT_EQ(f.trow(2), nullptr);
    } else if (std::string(policy) == "ignore") {
      ASSERT_NE(f.trow(2), nullptr);
      EXPECT_TRUE(f.trow(2)->at(4).is_null());
    } else {
      ASSERT_NE(f.trow(2), nullptr);
      EXPECT_EQ(f.trow(2)->at(4), Value::boolean(true));
    }
    // The decision is remembered: a second run does nothing more.
    int applies = f.target.apply_calls;
    JobOutcome again = f.run();
    ASSERT_EQ(again.state, JobState::kSucceeded);
    EXPECT_EQ(f.target.apply_calls, applies);
  }
}

TEST(SyncExecutor, SoftDeleteNeedsAnExistingColumn) {
  SyncFixture f;
  ASSERT_TRUE(parse_delete_policy("soft:nope", f.policy).is_ok());
  JobOutcome o = f.run();
  EXPECT_EQ(o.state, JobState::kFailed);
  EXPECT_NE(o.error.message().find("nope"), std::string::npos);
}

TEST(SyncExecutor, TwoWayFlowsTargetChangesBackAndDeletesBothWays) {
  SyncFixture f;
  fill(f, 4);
  f.policy.direction = Direction::kTwoWay;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.trow(1)->at(1) = txt("edited in the target");                             // flows back
  f.target.put({num(50), txt("made in target"), dec("9.99"), txt("draft")});  // inserted back
  f.target.rows().erase(f.target.rows().begin() + 2);                         // id 3: deleted back
  f.srow(4)->at(3) = txt("published");                                        // flows forward
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.source_updated, 1);
  EXPECT_EQ(o.progress.source_inserted, 1);
  EXPECT_EQ(o.progress.source_deleted, 1);
  EXPECT_EQ(o.progress.updated, 1);
  EXPECT_EQ(f.srow(1)->at(1), txt("edited in the target"));
  ASSERT_NE(f.srow(50), nullptr);
  EXPECT_EQ(f.srow(50)->at(2), dec("9.99"));
  EXPECT_EQ(f.srow(3), nullptr);
  EXPECT_EQ(f.trow(4)->at(3), txt("published"));
  // Everything is now in step.
  JobOutcome again = f.run();
  ASSERT_EQ(again.state, JobState::kSucceeded);
  EXPECT_EQ(again.progress.unchanged, 4);
}

TEST(SyncExecutor, TwoWayAllowsComputedNonKeyColumns) {
  SyncFixture f;
  f.policy.direction = Direction::kTwoWay;
  f.compile(R"({"id": {"source": "id", "key": true}, "post_title": "{{ m.title | upper }}"})");
  ASSERT_EQ(f.run().state, JobState::kSucceeded);  // a computed non-key column is fine
}

TEST(SyncExecutor, ManualHoldAllWaitsThenCommitsWhenResolved) {
  SyncFixture f;
  fill(f, 5);
  f.policy.strategy = Strategy::kManual;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.srow(1)->at(1) = txt("source");
  f.trow(1)->at(1) = txt("target");
  f.srow(2)->at(3) = txt("published");  // a clean change, held with the rest
  f.source.put({num(6), txt("new"), dec("1.00"), txt("draft")});
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kAwaitingResolution) << o.error.to_string();
  EXPECT_EQ(o.progress.conflicts_pending, 1);
  EXPECT_EQ(f.trow(2)->at(3), txt("draft"));  // held: nothing reached the target
  EXPECT_EQ(f.trow(6), nullptr);
  EXPECT_EQ(f.stage.changes.size(), 2u);

  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &f.baseline, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  EXPECT_EQ(x->commit({}).state, JobState::kAwaitingResolution);  // still pending
  auto decided = x->resolver().resolve(f.stage.conflicts[0], Decision::kSource, nullptr);
  ASSERT_TRUE(decided.is_ok());
  f.stage.changes.push_back(*decided);
  f.stage.decided[0] = true;
  JobOutcome c = x->commit({});
  ASSERT_EQ(c.state, JobState::kSucceeded) << c.error.to_string();
  EXPECT_EQ(c.progress.inserted, 1);
  EXPECT_EQ(c.progress.updated, 2);
  EXPECT_EQ(f.trow(1)->at(1), txt("source"));
  EXPECT_EQ(f.trow(2)->at(3), txt("published"));
  EXPECT_NE(f.trow(6), nullptr);
  EXPECT_TRUE(f.stage.changes.empty());
  EXPECT_EQ(f.run().progress.unchanged, 6);
}

TEST(SyncExecutor, ManualApplyCleanWritesCleanChangesAtOnce) {
  SyncFixture f;
  fill(f, 3);
  f.policy.strategy = Strategy::kManual;
  f.policy.manual_mode = ManualMode::kApplyClean;
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.srow(1)->at(1) = txt("source");
  f.trow(1)->at(1) = txt("target");
  f.srow(2)->at(3) = txt("published");
  JobOutcome o = f.run();
  EXPECT_EQ(o.state, JobState::kAwaitingResolution);
  EXPECT_EQ(f.trow(2)->at(3), txt("published"));
  EXPECT_EQ(f.trow(1)->at(1), txt("target"));
}

TEST(SyncExecutor, CancelStopsAndResumeFromCheckpointFinishesExactlyOnce) {
  SyncFixture f;
  fill(f, 1000);
  JobOptions opt;
  opt.batch_size = 100;
  std::optional<Row> checkpoint;
  int64_t scanned_seen = 0;
  opt.on_progress = [&](const Progress& p) {
    checkpoint = p.checkpoint;
    scanned_seen = p.scanned;
  };
  opt.cancelled = [&]() { return scanned_seen >= 300; };
  JobOutcome o = f.run(opt);
  ASSERT_EQ(o.state, JobState::kCancelled);
  ASSERT_TRUE(checkpoint.has_value());
  size_t applied = f.target.rows().size();
  EXPECT_GE(applied, 300u);
  EXPECT_LT(applied, 1000u);
  EXPECT_EQ(f.baseline.entries.size(), applied);  // baseline exactly follows what was applied
  EXPECT_EQ(static_cast<size_t>((*checkpoint)[0].as_int()), applied);

  JobOptions resume;
  resume.batch_size = 100;
  resume.resume_after = checkpoint;
  JobOutcome r = f.run(resume);
  ASSERT_EQ(r.state, JobState::kSucceeded) << r.error.to_string();
  EXPECT_EQ(static_cast<size_t>(r.progress.inserted), 1000 - applied);
  EXPECT_EQ(f.target.rows().size(), 1000u);  // no row twice (the table refuses duplicates)
  EXPECT_EQ(f.run().progress.unchanged, 1000);
}

TEST(SyncExecutor, CrashBetweenTargetAndBaselineIsHarmless) {
  SyncFixture f;
  fill(f, 10);
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.srow(3)->at(1) = txt("changed");
  f.trow(3)->at(1) = txt("changed");  // as if the target got it but the baseline did not
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded);
  EXPECT_EQ(o.progress.conflicts, 0);
  EXPECT_EQ(o.progress.updated, 0);
  EXPECT_EQ(f.kinds()[3], DiffKind::kUnchanged);
}

TEST(SyncExecutor, TargetFailureFailsTheJobAndKeepsTheBaselineConsistent) {
  SyncFixture f;
  fill(f, 300);
  f.target.fail_apply_after = 1;
  JobOptions opt;
  opt.batch_size = 100;
  JobOutcome o = f.run(opt);
  EXPECT_EQ(o.state, JobState::kFailed);
  EXPECT_NE(o.error.message().find("target went away"), std::string::npos) << o.error.message();
  EXPECT_EQ(f.target.rows().size(), 100u);
  EXPECT_EQ(f.baseline.entries.size(), 100u);
}

TEST(SyncExecutor, RowErrorsAreCountedAndReportedNotFatal) {
  SyncFixture f;
  fill(f, 5);
  f.srow(2)->at(2) = dec("99999999999.00");  // overflows numeric(10,2)
  std::vector<std::string> errors;
  JobOptions opt;
  opt.on_row_error = [&](const Row& key, const Status& why) {
    errors.push_back(key_to_string(key) + ": " + why.message());
  };
  JobOutcome o = f.run(opt);
  ASSERT_EQ(o.state, JobState::kSucceeded);
  EXPECT_EQ(o.progress.errors, 1);
  EXPECT_EQ(o.progress.inserted, 4);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("price"), std::string::npos) << errors[0];

  opt.max_row_errors = 0;
  JobOutcome strict = f.run(opt);
  EXPECT_EQ(strict.state, JobState::kFailed);
}

// A target that pipelines: start_apply() only takes the batch; it reaches the table in
// finish_apply() (which may be told to fail), as a remote server commits later.
class PipelinedTable : public MemoryTable {
 public:
  using MemoryTable::MemoryTable;
  bool pipelined() const override { return true; }
  Status start_apply(const ChangeBatch& batch) override {
    EXPECT_FALSE(held_) << "a second batch started while one is in flight";
    held_ = batch;
    ++started;
    return Status::ok();
  }
  // Keys of the batch in flight that the baseline already holds.
  size_t held_in(const MemoryBaseline& b) const {
    size_t n = 0;
    if (held_)
      for (const ChangeBatch::Item& it : held_->items) n += b.entries.count(it.key);
    return n;
  }
  Status finish_apply() override {
    if (!held_) return Status::ok();
    ChangeBatch b = std::move(*held_);
    held_.reset();
    if (fail_finish_at == ++finished) return error(ErrorCode::kUnavailable, "commit lost");
    return apply(b);
  }
  Status pump() override {
    if (held_) ++pumps_in_flight;
    return Status::ok();
  }
  bool in_flight() const { return held_.has_value(); }
  int started = 0, finished = 0, pumps_in_flight = 0, fail_finish_at = -1;

 private:
  std::optional<ChangeBatch> held_;
};

// The fixture's sync with the pipelined target. `committed` is the baseline as the caller's
// transaction would hold it: copied at each progress report (where the caller commits).
// A baseline whose writes commit with the progress report (the extension's).
class ReportCommittedBaseline : public MemoryBaseline {
 public:
  bool commits_with_progress() const override { return true; }
};

struct PipelinedSync {
  SyncFixture f;
  ReportCommittedBaseline report_baseline;
  bool baseline_commits_with_progress = false;
  PipelinedTable target{f.target.schema()};
  std::map<Row, BaselineEntry, KeyLess> committed;
  std::vector<std::string> violations;

  JobOutcome run(JobOptions options) {
    f.compile();
    MemoryBaseline& baseline =
        baseline_commits_with_progress ? report_baseline : static_cast<MemoryBaseline&>(f.baseline);
    Result<SyncExecutor> x = SyncExecutor::create(
        *f.mapper, f.policy, SyncEndpoints{&f.source, &f.source, &target, &baseline, &f.stage});
    EXPECT_TRUE(x.is_ok());
    auto user = options.on_progress;
    // A baseline that commits on its own must never hold a key the target has not committed.
    auto user_cancelled = options.cancelled;
    options.cancelled = [&, user_cancelled]() {
      if (!baseline_commits_with_progress && target.held_in(baseline) > 0)
        violations.push_back("the baseline ran ahead of the target");
      return user_cancelled && user_cancelled();
    };
    options.on_progress = [&, user](const Progress& p) {
      // What is reported is committed: the target must already hold every row up to it.
      if (target.in_flight()) violations.push_back("reported with a batch in flight");
      const int64_t upto = p.checkpoint ? (*p.checkpoint)[0].as_int() : 0;
      for (int64_t id = 1; id <= upto; ++id)
        if (!target.find({num(id)})) violations.push_back("row " + std::to_string(id));
      committed.clear();
      for (const auto& [k, e] : baseline.entries)
        if (k[0].as_int() <= upto) committed[k] = e;
      if (user) user(p);
    };
    return x->run(options);
  }
};

TEST(SyncExecutor, PipelinedTargetIsReportedOnlyOnceItCommitted) {
  PipelinedSync s;
  fill(s.f, 1000);
  JobOptions opt;
  opt.batch_size = 100;
  JobOutcome o = s.run(opt);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_EQ(s.target.started, 10);
  EXPECT_EQ(s.target.finished, 10);
  EXPECT_GT(s.target.pumps_in_flight, 0);  // the next batch was read while one was in flight
  EXPECT_EQ(s.target.rows().size(), 1000u);
  EXPECT_EQ(o.progress.inserted, 1000);
  EXPECT_EQ(s.committed.size(), 1000u);
}

TEST(SyncExecutor, PipelinedWithABaselineCommittedByTheReport) {
  PipelinedSync s;
  s.baseline_commits_with_progress = true;
  fill(s.f, 1000);
  s.target.fail_finish_at = 6;
  JobOptions opt;
  opt.batch_size = 100;
  JobOutcome o = s.run(opt);
  EXPECT_EQ(o.state, JobState::kFailed);
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_EQ(s.target.rows().size(), 500u);
  EXPECT_EQ(s.committed.size(), 500u);
  EXPECT_EQ(s.report_baseline.entries.size(), 600u);  // the caller's rollback drops the 6th
}

TEST(SyncExecutor, PipelinedCommitLostFailsAndKeepsOnlyWhatWasCommitted) {
  PipelinedSync s;
  fill(s.f, 1000);
  s.target.fail_finish_at = 3;
  JobOptions opt;
  opt.batch_size = 100;
  JobOutcome o = s.run(opt);
  EXPECT_EQ(o.state, JobState::kFailed);
  EXPECT_NE(o.error.message().find("commit lost"), std::string::npos) << o.error.message();
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_EQ(s.target.rows().size(), 200u);
  EXPECT_EQ(s.committed.size(), 200u);  // the third batch's baseline was never committed
}

TEST(SyncExecutor, PipelinedCancelSettlesTheBatchInFlight) {
  PipelinedSync s;
  fill(s.f, 1000);
  JobOptions opt;
  opt.batch_size = 100;
  std::optional<Row> checkpoint;
  opt.on_progress = [&](const Progress& p) { checkpoint = p.checkpoint; };
  opt.cancelled = [&]() { return s.target.in_flight() && s.target.started >= 4; };
  JobOutcome o = s.run(opt);
  ASSERT_EQ(o.state, JobState::kCancelled);
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_FALSE(s.target.in_flight());
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(static_cast<size_t>((*checkpoint)[0].as_int()), s.target.rows().size());
  EXPECT_EQ(s.committed.size(), s.target.rows().size());
}

TEST(SyncExecutor, UnreachableSourceFailsWithAClearError) {
  SyncFixture f;
  f.source.fail_scan = true;
  JobOutcome o = f.run();
  EXPECT_EQ(o.state, JobState::kFailed);
  EXPECT_EQ(o.error.code(), ErrorCode::kUnavailable);
  EXPECT_NE(o.error.message().find("reading the source"), std::string::npos);
}

}  // namespace
}  // namespace dbsync::testing
