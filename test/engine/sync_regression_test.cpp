// Regressions found in review: each test reproduces a bug that was fixed.
#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

// 1. hold_all: a cancelled run clears the stage but still reports the checkpoint of what it had
//    only *staged*; resuming from it skips every key before the checkpoint.
TEST(ReviewHoldAll, CancelledStagingRunMustNotReportAStagedCheckpoint) {
  SyncFixture f;
  fill(f, 1000);
  f.policy.strategy = Strategy::kManual;  // hold_all is the default manual mode
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
  EXPECT_EQ(f.target.rows().size(), 0u);  // held: nothing applied
  EXPECT_TRUE(f.stage.changes.empty());   // and the stage was cleared on cancel
  EXPECT_FALSE(o.progress.checkpoint.has_value())
      << "cancelled run reports checkpoint " << key_to_string(*o.progress.checkpoint)
      << " although nothing before it was kept";

  JobOptions resume;
  resume.batch_size = 100;
  resume.resume_after = o.progress.checkpoint;
  JobOutcome r = f.run(resume);
  ASSERT_EQ(r.state, JobState::kSucceeded) << r.error.to_string();
  EXPECT_EQ(f.target.rows().size(), 1000u)
      << "the resumed job skipped the keys before the checkpoint";
}

// 2. A commit cut off after some batches keeps the whole stage; committing again re-applies the
//    batches already applied (plain INSERT of a row that now exists: the job can never finish).
TEST(ReviewHoldAll, CommitCancelledMidwayCanBeCommittedAgain) {
  SyncFixture f;
  fill(f, 300);
  f.policy.strategy = Strategy::kManual;
  JobOptions opt;
  opt.batch_size = 100;
  opt.cancelled = [&]() { return f.target.apply_calls >= 1; };  // cut off after the first batch
  JobOutcome o = f.run(opt);
  ASSERT_EQ(o.state, JobState::kCancelled) << o.error.to_string();
  ASSERT_EQ(f.target.rows().size(), 100u);

  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &f.baseline, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  JobOptions again;
  again.batch_size = 100;
  JobOutcome c = x->commit(again);
  EXPECT_EQ(c.state, JobState::kSucceeded) << c.error.to_string();
  EXPECT_EQ(f.target.rows().size(), 300u);
  EXPECT_EQ(c.progress.inserted, 200) << "already-applied batches were applied (counted) again";
}

// 3. One-way with a computed key (source key given separately): the resume maps the target-key
//    checkpoint back to a source key, fails silently, and scans the source after the *target*
//    key value; every target row after the checkpoint then looks deleted on the source.
TEST(ReviewResume, ComputedKeyResumeDoesNotDeleteTargetRows) {
  SyncFixture f;
  fill(f, 1000);
  Result<MappingSpec> spec = parse_mapping_json(
      R"({"id": "{{ m.id + 1000 }}", "post_title": "title", "price": "@price", "status": "status"})");
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  spec->source_key = {"id"};
  Result<FieldMapper> m = FieldMapper::compile(*spec, f.source.schema(), f.target.schema());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  f.mapper.emplace(std::move(m).value());
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  ASSERT_EQ(f.target.rows().size(), 1000u);

  for (Row& r : f.source.rows()) r[3] = txt("published");
  JobOptions opt;
  opt.batch_size = 100;
  std::optional<Row> checkpoint, source_checkpoint;
  int64_t scanned_seen = 0;
  opt.on_progress = [&](const Progress& p) {
    checkpoint = p.checkpoint;
    source_checkpoint = p.source_checkpoint;
    scanned_seen = p.scanned;
  };
  opt.cancelled = [&]() { return scanned_seen >= 300; };
  ASSERT_EQ(f.run(opt).state, JobState::kCancelled);
  ASSERT_TRUE(source_checkpoint.has_value());
  EXPECT_EQ((*checkpoint)[0].as_int(), (*source_checkpoint)[0].as_int() + 1000);
  ASSERT_TRUE(checkpoint.has_value());

  // Without the source checkpoint the key cannot be derived: a clear failure, nothing deleted.
  JobOptions blind;
  blind.batch_size = 100;
  blind.resume_after = checkpoint;
  JobOutcome b = f.run(blind);
  EXPECT_EQ(b.state, JobState::kFailed);
  EXPECT_NE(b.error.message().find("cannot resume"), std::string::npos) << b.error.message();
  EXPECT_EQ(f.target.rows().size(), 1000u);

  JobOptions resume;
  resume.batch_size = 100;
  resume.resume_after = checkpoint;
  resume.resume_after_source = source_checkpoint;
  JobOutcome r = f.run(resume);
  ASSERT_EQ(r.state, JobState::kSucceeded) << r.error.to_string();
  EXPECT_EQ(r.progress.deleted, 0);
  EXPECT_EQ(f.target.rows().size(), 1000u);
  for (const Row& row : f.target.rows()) EXPECT_EQ(row[3], txt("published"));
}

// 4. Two-way: a row inserted on the target flows back to the source, but the baseline records
//    the target's value for a computed (non-reversible) column as what the source maps to. The
//    next run sees a "source change" and overwrites the target's value.
TEST(ReviewTwoWay, TargetInsertedRowKeepsItsComputedColumn) {
  SyncFixture f;
  f.policy.direction = Direction::kTwoWay;
  f.compile(R"({"id": {"source": "id", "key": true}, "post_title": "{{ m.title | upper }}",
               "price": "@price"})");
  f.source.put({num(1), txt("one"), dec("1.00"), txt("draft")});
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.target.put({num(50), txt("MADE IN TARGET"), dec("9.99"), {}});
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  ASSERT_NE(f.srow(50), nullptr);
  JobOutcome o2 = f.run();
  ASSERT_EQ(o2.state, JobState::kSucceeded) << o2.error.to_string();
  EXPECT_EQ(o2.progress.updated, 0);
  ASSERT_NE(f.trow(50), nullptr);
  EXPECT_EQ(f.trow(50)->at(1), txt("MADE IN TARGET"));
}

// 5. Two-way: one source column mapped to two target columns is "reversible" twice; the write
//    back sets the source column twice (last wins; Postgres refuses "multiple assignments"),
//    so the target's edit is lost and reverted on the next run.
TEST(ReviewTwoWay, SourceColumnMappedTwiceDoesNotLoseATargetEdit) {
  SyncFixture f;
  f.policy.direction = Direction::kTwoWay;
  f.compile(R"({"post_title": "title", "status": "title"})");
  f.source.put({num(1), txt("T"), dec("1.00"), txt("draft")});
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  f.trow(1)->at(1) = txt("X");  // edit post_title on the target
  JobOutcome o = f.run();
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.source_updated, 1);
  EXPECT_EQ(f.srow(1)->at(1), txt("X")) << "the reported source update wrote the old value";
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  EXPECT_EQ(f.trow(1)->at(1), txt("X")) << "the target's edit was reverted";
}

// 6. Soft delete: a source row deleted (target soft-deleted) and later restored on the source
//    comes back as in_step/source_changed, but the soft-delete flag is never cleared.
TEST(ReviewSoftDelete, RestoredSourceRowIsNotLeftSoftDeleted) {
  SyncFixture f;
  fill(f, 3);
  ASSERT_TRUE(parse_delete_policy("soft:deleted", f.policy).is_ok());
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  Row saved = *f.srow(2);
  f.source.rows().erase(f.source.rows().begin() + 1);
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  ASSERT_EQ(f.trow(2)->at(4), Value::boolean(true));
  f.source.put(saved);  // restored
  ASSERT_EQ(f.run().state, JobState::kSucceeded);
  EXPECT_NE(f.trow(2)->at(4), Value::boolean(true))
      << "restored row is still soft-deleted on the target";
}

}  // namespace
}  // namespace dbsync::testing
