// Fingerprints: a re-sync reads keys and fingerprints, and only the changed rows in full.
#include <gtest/gtest.h>

#include <random>

#include "engine/row_codec.hpp"
#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

void fingerprinted(SyncFixture& f, bool on = true) {
  f.source.fingerprints = on;
  f.target.fingerprints = on;
}

JobOutcome run_batch(SyncFixture& f, size_t batch = 64) {
  JobOptions opt;
  opt.batch_size = batch;
  return f.run(opt);
}

TEST(FingerprintLight, ReSyncReadsOnlyTheChangedRowsInFull) {
  SyncFixture f;
  fingerprinted(f);
  fill(f, 500);
  JobOutcome first = run_batch(f);
  ASSERT_EQ(first.state, JobState::kSucceeded) << first.error.to_string();
  EXPECT_EQ(f.source.lookups + f.target.lookups, 0) << "a first sync reads everything in full";
  for (const auto& [key, entry] : f.baseline.entries) {
    EXPECT_NE(entry.source_fp, 0u) << key_to_string(key);
    EXPECT_EQ(entry.target_fp, f.target.fingerprint_of(*f.trow(key[0].as_int())));
  }

  JobOutcome same = run_batch(f);
  ASSERT_EQ(same.state, JobState::kSucceeded);
  EXPECT_EQ(same.progress.unchanged, 500);
  EXPECT_EQ(f.source.looked_up_keys + f.target.looked_up_keys, 0u);

  f.srow(5)->at(2) = dec("2.00");
  f.srow(250)->at(1) = txt("renamed");
  f.srow(499)->at(3) = txt("publish");
  f.trow(100)->at(1) = txt("edited on the target");      // drift: source wins
  f.source.rows().erase(f.source.rows().begin() + 399);  // id 400
  f.source.put({num(1000), txt("new"), dec("3.00"), txt("draft")});
  JobOutcome third = run_batch(f);
  ASSERT_EQ(third.state, JobState::kSucceeded) << third.error.to_string();
  EXPECT_EQ(third.progress.updated, 4);  // 3 source changes, the drifted row put back
  EXPECT_EQ(third.progress.deleted, 1);
  EXPECT_EQ(third.progress.inserted, 1);
  EXPECT_EQ(third.progress.unchanged, 500 - 5);
  // Source: 3 changed rows, the drifted key, the new row; target: 3 + the drift + the deleted.
  EXPECT_EQ(f.source.looked_up_keys, 5u);
  EXPECT_EQ(f.target.looked_up_keys, 5u);
  EXPECT_EQ(f.trow(5)->at(2), dec("2.00"));
  EXPECT_EQ(f.trow(100)->at(1), txt("p100"));
  EXPECT_EQ(f.trow(400), nullptr);
  EXPECT_EQ(f.trow(1000)->at(1), txt("new"));

  const size_t before = f.source.looked_up_keys + f.target.looked_up_keys;
  JobOutcome fourth = run_batch(f);
  ASSERT_EQ(fourth.state, JobState::kSucceeded);
  EXPECT_EQ(fourth.progress.unchanged, 500);
  EXPECT_EQ(f.source.looked_up_keys + f.target.looked_up_keys, before)
      << "the rows written last run are known by the fingerprint the target gave them";
}

TEST(FingerprintLight, ARowRewrittenToTheSameMappedValuesTeachesTheBaselineItsFingerprint) {
  SyncFixture f;
  fingerprinted(f);
  f.compile(
      R"({"post_title": "{{ source.title | upper }}", "price": "price", "status": "status"})");
  fill(f, 50);
  ASSERT_EQ(run_batch(f).state, JobState::kSucceeded);
  const uint64_t old_fp = f.baseline.entries[{num(7)}].source_fp;

  f.srow(7)->at(1) = txt("P7");  // upper() maps it to what the target holds
  JobOutcome o = run_batch(f);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.unchanged, 50);
  EXPECT_EQ(o.progress.updated, 0);
  EXPECT_EQ(f.source.looked_up_keys, 1u);
  const uint64_t new_fp = f.baseline.entries[{num(7)}].source_fp;
  EXPECT_NE(new_fp, old_fp);
  EXPECT_EQ(new_fp, f.source.fingerprint_of(*f.srow(7)));

  ASSERT_EQ(run_batch(f).state, JobState::kSucceeded);
  EXPECT_EQ(f.source.looked_up_keys, 1u) << "known unchanged by its new fingerprint";
}

TEST(FingerprintLight, ABaselineWithoutFingerprintsLearnsThemOnce) {
  SyncFixture f;
  fingerprinted(f, false);
  fill(f, 120);
  ASSERT_EQ(run_batch(f).state, JobState::kSucceeded);
  for (const auto& [key, entry] : f.baseline.entries) ASSERT_EQ(entry.source_fp, 0u);

  fingerprinted(f);
  JobOutcome learn = run_batch(f);
  ASSERT_EQ(learn.state, JobState::kSucceeded) << learn.error.to_string();
  EXPECT_EQ(learn.progress.unchanged, 120);
  EXPECT_EQ(f.source.looked_up_keys, 120u);
  EXPECT_EQ(f.target.looked_up_keys, 120u);
  for (const auto& [key, entry] : f.baseline.entries) EXPECT_NE(entry.source_fp, 0u);

  JobOutcome known = run_batch(f);
  ASSERT_EQ(known.state, JobState::kSucceeded);
  EXPECT_EQ(known.progress.unchanged, 120);
  EXPECT_EQ(f.source.looked_up_keys, 120u);
  EXPECT_EQ(f.target.looked_up_keys, 120u);
}

TEST(FingerprintLight, BaselineFingerprintsSurviveTheCodec) {
  BaselineEntry e{{num(1)}, true, true, 11, 12, {5, 6}, {5, 7}};
  e.source_fp = 0x1234;
  e.target_fp = uint64_t{1} << 63;
  Result<BaselineEntry> back = decode_baseline(encode_baseline(e), {num(1)});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->source_fp, 0x1234u);
  EXPECT_EQ(back->target_fp, uint64_t{1} << 63);
  EXPECT_EQ(back->target_fields, (std::vector<uint64_t>{5, 7}));
  e.source_fp = e.target_fp = 0;  // the older form, without fingerprints
  back = decode_baseline(encode_baseline(e), {num(1)});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->source_fp, 0u);
  EXPECT_EQ(back->target_hash, 12u);
}

// The same random history synced with and without fingerprints ends the same, run by run.
TEST(FingerprintLight, LightRunsMatchFullRunsOnARandomHistory) {
  for (const char* direction : {"one_way", "two_way"}) {
    SCOPED_TRACE(direction);
    SyncFixture light, full;
    fingerprinted(light);
    fingerprinted(full, false);
    for (SyncFixture* f : {&light, &full}) {
      f->policy.direction = *parse_direction(direction);
      f->policy.strategy = Strategy::kSourceWins;
      fill(*f, 300);
    }
    std::mt19937 rng(42);
    for (int round = 0; round < 8; ++round) {
      SCOPED_TRACE(round);
      // The same edits on both fixtures.
      std::vector<std::tuple<int, int64_t, int>> edits;
      for (int i = 0; i < 25; ++i)
        edits.emplace_back(static_cast<int>(rng() % 6), static_cast<int64_t>(rng() % 340 + 1),
                           static_cast<int>(rng() % 1000));
      for (SyncFixture* f : {&light, &full}) {
        for (const auto& [what, id, v] : edits) {
          const std::string s = "v" + std::to_string(v);
          switch (what) {
            case 0:
            case 1:
              if (Row* r = f->srow(id)) r->at(1) = txt(s.c_str());
              break;
            case 2:
              if (Row* r = f->trow(id)) r->at(1) = txt(s.c_str());
              break;
            case 3:
              if (Row* r = f->srow(id))
                f->source.rows().erase(f->source.rows().begin() + (r - f->source.rows().data()));
              break;
            case 4:
              if (Row* r = f->trow(id))
                f->target.rows().erase(f->target.rows().begin() + (r - f->target.rows().data()));
              break;
            case 5:
              if (!f->srow(id)) f->source.put({num(id), txt(s.c_str()), dec("1.00"), txt("draft")});
              break;
          }
        }
      }
      JobOutcome a = run_batch(light, 16), b = run_batch(full, 16);
      ASSERT_EQ(a.state, JobState::kSucceeded) << a.error.to_string();
      ASSERT_EQ(b.state, JobState::kSucceeded) << b.error.to_string();
      EXPECT_EQ(a.progress.inserted, b.progress.inserted);
      EXPECT_EQ(a.progress.updated, b.progress.updated);
      EXPECT_EQ(a.progress.deleted, b.progress.deleted);
      EXPECT_EQ(a.progress.source_inserted, b.progress.source_inserted);
      EXPECT_EQ(a.progress.source_updated, b.progress.source_updated);
      EXPECT_EQ(a.progress.source_deleted, b.progress.source_deleted);
      EXPECT_EQ(a.progress.conflicts, b.progress.conflicts);
      EXPECT_EQ(a.progress.scanned, b.progress.scanned);
      for (SyncFixture* f : {&light, &full}) {
        std::sort(f->target.rows().begin(), f->target.rows().end(), KeyLess());
        std::sort(f->source.rows().begin(), f->source.rows().end(), KeyLess());
      }
      ASSERT_EQ(light.target.rows(), full.target.rows());
      ASSERT_EQ(light.source.rows(), full.source.rows());
    }
    EXPECT_GT(light.source.lookups, 0);
  }
}

}  // namespace
}  // namespace dbsync::testing
