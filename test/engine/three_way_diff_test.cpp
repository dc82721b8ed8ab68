#include "engine/three_way_diff.hpp"

#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

class ThreeWayDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int64_t id = 1; id <= 9; ++id)
      f.source.put(
          {num(id), txt(("title " + std::to_string(id)).c_str()), dec("10.00"), txt("draft")});
    JobOutcome o = f.run();
    ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
    ASSERT_EQ(f.target.rows().size(), 9u);
  }
  SyncFixture f;
};

TEST_F(ThreeWayDiffTest, EveryRowOfTheThreeWayTable) {
  // 1: same/same.  2: source changed.  3: target changed.  4: both changed the same way.
  // 5: both changed differently.  6: new key on the source.  7: deleted on the source.
  // 8: deleted on the target.  9: deleted on both.  10: only on the target, never synced.
  f.srow(2)->at(1) = txt("new title");
  f.trow(3)->at(3) = txt("published");
  f.srow(4)->at(2) = dec("12.50");
  f.trow(4)->at(2) = dec("12.5");  // same value once in the target's numeric(10,2)
  f.srow(5)->at(1) = txt("source edit");
  f.trow(5)->at(1) = txt("target edit");
  f.source.rows().erase(f.source.rows().begin() + 6);  // id 7
  f.target.rows().erase(f.target.rows().begin() + 7);  // id 8
  f.source.rows().erase(std::find_if(f.source.rows().begin(), f.source.rows().end(),
                                     [](const Row& r) { return r[0].as_int() == 9; }));
  f.target.rows().erase(std::find_if(f.target.rows().begin(), f.target.rows().end(),
                                     [](const Row& r) { return r[0].as_int() == 9; }));
  f.target.put({num(10), txt("target only"), dec("3.00"), txt("draft")});
  // id 6 was synced initially; make it a genuinely new key by dropping it everywhere first.
  f.target.rows().erase(std::find_if(f.target.rows().begin(), f.target.rows().end(),
                                     [](const Row& r) { return r[0].as_int() == 6; }));
  f.baseline.entries.erase({num(6)});

  auto k = f.kinds();
  EXPECT_EQ(k[1], DiffKind::kUnchanged);
  EXPECT_EQ(k[2], DiffKind::kSourceChanged);
  EXPECT_EQ(k[3], DiffKind::kTargetChanged);
  EXPECT_EQ(k[4], DiffKind::kInStep);
  EXPECT_EQ(k[5], DiffKind::kBothChanged);
  EXPECT_EQ(k[6], DiffKind::kSourceInserted);
  EXPECT_EQ(k[7], DiffKind::kSourceDeleted);
  EXPECT_EQ(k[8], DiffKind::kTargetDeleted);
  EXPECT_EQ(k[9], DiffKind::kBothDeleted);
  EXPECT_EQ(k[10], DiffKind::kTargetInserted);
  EXPECT_EQ(k.size(), 10u);
}

TEST_F(ThreeWayDiffTest, DeleteAgainstChangeIsAConflict) {
  f.source.rows().erase(f.source.rows().begin());  // id 1 deleted on the source...
  f.trow(1)->at(1) = txt("edited on the target");  // ...while the target edited it
  f.srow(2)->at(1) = txt("edited on the source");  // id 2 edited on the source...
  f.target.rows().erase(std::find_if(f.target.rows().begin(), f.target.rows().end(),
                                     [](const Row& r) { return r[0].as_int() == 2; }));
  auto k = f.kinds();
  EXPECT_EQ(k[1], DiffKind::kSourceDeletedTargetChanged);
  EXPECT_EQ(k[2], DiffKind::kTargetDeletedSourceChanged);
  EXPECT_TRUE(is_conflict(k[1]));
  EXPECT_TRUE(is_conflict(k[2]));
}

TEST_F(ThreeWayDiffTest, FirstRunWithoutBaselineComparesRows) {
  f.baseline.entries.clear();
  f.trow(1)->at(1) = txt("different");
  auto k = f.kinds();
  EXPECT_EQ(k[1], DiffKind::kFirstRunConflict);
  EXPECT_EQ(k[2], DiffKind::kInStep);
}

TEST_F(ThreeWayDiffTest, ConflictingFieldsAreThoseBothSidesChangedDifferently) {
  f.srow(1)->at(1) = txt("source title");
  f.srow(1)->at(3) = txt("pending");
  f.trow(1)->at(1) = txt("target title");
  f.trow(1)->at(2) = dec("99.99");
  auto s = f.source.scan({f.mapper->source_projection(), 1, {}, 100});
  auto t = f.target.scan({f.mapper->target_projection(), 1, {}, 100});
  auto b = f.baseline.scan({});
  ThreeWayDiff diff(*f.mapper, **s, **t, **b, 0);
  const DiffItem* item = nullptr;
  ASSERT_TRUE(diff.next(item).is_ok());
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->kind, DiffKind::kBothChanged);
  // mapped layout: id, post_title, price, status
  EXPECT_TRUE(item->source_changed.test(1));
  EXPECT_TRUE(item->source_changed.test(3));
  EXPECT_FALSE(item->source_changed.test(2));
  EXPECT_TRUE(item->target_changed.test(1));
  EXPECT_TRUE(item->target_changed.test(2));
  EXPECT_EQ(item->conflicting.count(), 1u);
  EXPECT_TRUE(item->conflicting.test(1));
}

TEST_F(ThreeWayDiffTest, SourceOutOfKeyOrderIsAnError) {
  class Unordered : public RowReader {
   public:
    Status next(const Row*& row) override {
      static const Row rows[] = {{num(2), txt("b"), dec("1"), txt("x")},
                                 {num(1), txt("a"), dec("1"), txt("x")}};
      row = i_ < 2 ? &rows[i_++] : nullptr;
      return Status::ok();
    }

   private:
    int i_ = 0;
  } src;
  auto t = f.target.scan({f.mapper->target_projection(), 1, {}, 100});
  auto b = f.baseline.scan({});
  ThreeWayDiff diff(*f.mapper, src, **t, **b, 0);
  const DiffItem* item = nullptr;
  Status st = Status::ok();
  while (st.is_ok()) {
    st = diff.next(item);
    if (st.is_ok() && !item) break;
  }
  EXPECT_EQ(st.code(), ErrorCode::kOrdering);
  EXPECT_NE(st.message().find("not in key order"), std::string::npos) << st.message();
}

TEST_F(ThreeWayDiffTest, RowThatFailsToMapIsARowErrorAndLeavesTheKeyAlone) {
  f.srow(3)->at(2) = dec("123456789.00");  // does not fit numeric(10,2)
  auto k = f.kinds();
  EXPECT_EQ(k[3], DiffKind::kRowError);
  EXPECT_EQ(k[4], DiffKind::kUnchanged);
}

TEST(ThreeWayDiffCompositeKey, MergesOnEveryKeyColumn) {
  MemoryTable source(make_schema({{"tenant", "integer"}, {"sku", "text"}, {"qty", "integer"}}, 2));
  MemoryTable target(make_schema({{"tenant", "integer"}, {"sku", "text"}, {"qty", "integer"}}, 2));
  MemoryBaseline baseline;
  MemoryStage stage;
  Result<FieldMapper> m = FieldMapper::compile({}, source.schema(), target.schema());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->key_count(), 2u);
  source.put({num(1), txt("a"), num(5)});
  source.put({num(1), txt("b"), num(6)});
  source.put({num(2), txt("a"), num(7)});
  SyncPolicy policy;
  auto x =
      SyncExecutor::create(*m, policy, {&source, nullptr, &target, &baseline, &stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  JobOutcome o = x->run({});
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.inserted, 3);
  // Same sku under another tenant is another row.
  source.find({num(2), txt("a")})->at(2) = num(70);
  target.put({num(1), txt("c"), num(1)});
  JobOutcome o2 = x->run({});
  ASSERT_EQ(o2.state, JobState::kSucceeded) << o2.error.to_string();
  EXPECT_EQ(o2.progress.updated, 1);
  EXPECT_EQ(o2.progress.unchanged, 2);
  EXPECT_EQ(target.find({num(2), txt("a")})->at(2), num(70));
  EXPECT_EQ(target.find({num(1), txt("a")})->at(2), num(5));
  EXPECT_NE(target.find({num(1), txt("c")}), nullptr);  // one-way leaves target-only rows alone
}

}  // namespace
}  // namespace dbsync::testing
