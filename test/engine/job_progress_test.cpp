#include "engine/job_progress.hpp"

#include <gtest/gtest.h>

namespace dbsync {
namespace {

TEST(ProgressTally, CommitKeepsWhatTheScanCountedAndSourceWritesAreIncrements) {
  ProgressTally t;
  Progress scan;
  scan.phase = "scanning";
  scan.scanned = 100;
  scan.unchanged = 90;
  scan.conflicts = 3;
  scan.source_inserted = 4;
  auto r1 = t.next(scan);
  EXPECT_EQ(r1.shown.scanned, 100);
  EXPECT_EQ(r1.delta.source_inserted, 4);
  t.written(r1);
  scan.scanned = 200;
  scan.source_inserted = 6;
  auto r2 = t.next(scan);
  EXPECT_EQ(r2.delta.source_inserted, 2);  // only what is new since the last written report
  t.written(r2);
  // The commit step starts its own counts: the scan's stay.
  Progress commit;
  commit.phase = "committing";
  commit.inserted = 7;
  commit.source_inserted = 1;
  auto r3 = t.next(commit);
  EXPECT_EQ(r3.shown.scanned, 200);
  EXPECT_EQ(r3.shown.unchanged, 90);
  EXPECT_EQ(r3.shown.conflicts, 3);
  EXPECT_EQ(r3.shown.inserted, 7);
  // A report that was not written (its transaction failed) is counted again by the next one.
  auto r4 = t.next(commit);
  EXPECT_EQ(r4.delta.source_inserted, r3.delta.source_inserted);
}

TEST(ProgressTally, RowErrorsText) {
  EXPECT_EQ(row_errors_text(0, {}), "");
  EXPECT_EQ(row_errors_text(1, {"{\"id\": 3}: bad"}),
            "1 row could not be synced (left as they were): {\"id\": 3}: bad");
  EXPECT_EQ(row_errors_text(7, {"a", "b"}), "7 rows could not be synced (left as they were): a; b");
}

}  // namespace
}  // namespace dbsync
