#include "adapters/redis/redis_stage.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/row_codec.hpp"
#include "engine/sync_executor.hpp"
#include "test/adapters/redis_test_env.hpp"
#include "test/engine/sync_fixture.hpp"

namespace dbsync::redis::testing {
namespace {

using dbsync::testing::dec;
using dbsync::testing::num;
using dbsync::testing::SyncFixture;
using dbsync::testing::txt;

PlannedChange change_of(int64_t k) {
  PlannedChange c;
  c.kind = DiffKind::kSourceInserted;
  c.key = {num(k)};
  c.target_op = RowOp::kInsert;
  c.target_values = {num(k), txt(("v" + std::to_string(k)).c_str())};
  c.baseline_op = BaselineOp::kSet;
  c.baseline.key = c.key;
  c.baseline.source_hash = static_cast<uint64_t>(k) * 7;
  return c;
}

std::vector<PlannedChange> changes(int64_t from, int64_t to) {
  std::vector<PlannedChange> out;
  for (int64_t k = from; k <= to; ++k) out.push_back(change_of(k));
  return out;
}

ConflictRecord conflict_of(int64_t k) {
  ConflictRecord c;
  c.kind = DiffKind::kBothChanged;
  c.key = {num(k)};
  // The mapped layout of SyncFixture's sync: id, post_title, price, status.
  c.source = Row{num(k), txt("s"), dec("1.00"), txt("draft")};
  c.target = Row{num(k), txt("t"), dec("1.00"), txt("draft")};
  c.reason = "conflict " + std::to_string(k);
  return c;
}

// Redis Cluster's slot of a key (CRC16/XMODEM of the hash tag, mod 16384).
uint16_t crc16(std::string_view s) {
  uint16_t crc = 0;
  for (unsigned char ch : s) {
    crc = static_cast<uint16_t>(crc ^ (ch << 8));
    for (int i = 0; i < 8; ++i)
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}
int keyslot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) % 16384;
}

// The keys of the staged changes, in the order read_changes hands them over, batch by batch.
std::vector<std::vector<int64_t>> drain(RedisStage& stage, size_t batch) {
  std::vector<std::vector<int64_t>> out;
  Status st = stage.read_changes(batch, [&](std::vector<PlannedChange>& b) {
    out.emplace_back();
    for (const PlannedChange& c : b) out.back().push_back(c.key.at(0).as_int());
    return Status::ok();
  });
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t k = from; k <= to; ++k) out.push_back(k);
  return out;
}

class RedisStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> url = stack_redis_url();
    if (!url) {
      GTEST_SKIP() << kStartTheStack;
    }
    Result<RedisConnection> c = RedisConnection::connect(*url);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    conn_ = std::move(c).value();
    options_.ttl = std::chrono::seconds(3600);
    options_.push_chunk = 4;  // several RPUSH per put, to see they stay in order
    Result<std::unique_ptr<RedisStage>> s = RedisStage::open(conn_, test_job("stage"), options_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    stage_ = std::move(s).value();
  }
  void TearDown() override {
    if (stage_) {
      EXPECT_TRUE(stage_->clear().is_ok());
    }
  }
  int64_t llen() {
    Result<RedisReply> r = conn_.command({"LLEN", stage_->key("changes")});
    return r.is_ok() ? r->integer() : -1;
  }
  int64_t ttl(const std::string& key) {
    Result<RedisReply> r = conn_.command({"TTL", key});
    return r.is_ok() ? r->integer() : -100;
  }

  RedisConnection conn_;
  RedisStageOptions options_;
  std::unique_ptr<RedisStage> stage_;
};

TEST(RedisStageKeys, HashTagPutsAJobsKeysInOneSlot) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the CRC the cluster uses
  RedisConnection unused;
  auto s = RedisStage::open(unused, "42");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ((*s)->key("changes"), "dbsync:{job:42}:changes");
  EXPECT_EQ((*s)->key("conflicts"), "dbsync:{job:42}:conflicts");
  EXPECT_EQ((*s)->key("meta"), "dbsync:{job:42}:meta");
  std::vector<std::string> keys = (*s)->keys();
  ASSERT_EQ(keys.size(), 7u);
  EXPECT_EQ(keys[6], "dbsync:{job:42}:rows");
  for (const std::string& k : keys) EXPECT_EQ(keyslot(k), keyslot("{job:42}")) << k;
  auto other = RedisStage::open(unused, "43");
  EXPECT_NE(keyslot((*other)->key("changes")), keyslot(keys[0]));  // jobs spread over slots

  EXPECT_EQ(RedisStage::open(unused, "").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RedisStage::open(unused, "4}2").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RedisStage::open(unused, "4 2").status().code(), ErrorCode::kInvalidArgument);
  RedisStageOptions no_ttl;
  no_ttl.ttl = std::chrono::seconds(0);
  EXPECT_EQ(RedisStage::open(unused, "42", no_ttl).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(RedisStageTest, WritesOnlyTheJobsHashTaggedKeys) {
  ASSERT_TRUE(stage_->put_changes(changes(1, 3)).is_ok());
  ASSERT_TRUE(stage_->put_conflicts({conflict_of(9)}).is_ok());
  Result<RedisReply> r =
      conn_.command({"KEYS", "dbsync:{job:" + stage_->job() + "}:*"});  // test database only
  ASSERT_TRUE(r.is_ok() && r->is_array());
  std::vector<std::string> found;
  for (size_t i = 0; i < r->size(); ++i) found.emplace_back(*element_string(r->element(i)));
  std::sort(found.begin(), found.end());
  std::vector<std::string> want{stage_->key("changes"), stage_->key("conflicts"),
                                stage_->key("meta"), stage_->key("pending"), stage_->key("status")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(found, want);
}

TEST_F(RedisStageTest, ChangesComeBackInStagedOrderAcrossBatches) {
  ASSERT_TRUE(stage_->put_changes(changes(1, 10)).is_ok());
  ASSERT_TRUE(stage_->put_changes(changes(11, 20)).is_ok());
  ASSERT_TRUE(stage_->put_changes(changes(21, 25)).is_ok());
  ASSERT_TRUE(stage_->put_changes({}).is_ok());
  EXPECT_EQ(llen(), 25);
  std::vector<std::vector<int64_t>> batches = drain(*stage_, 7);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0], range(1, 7));
  EXPECT_EQ(batches[3], range(22, 25));
  EXPECT_EQ(flat(batches), range(1, 25));
  EXPECT_EQ(llen(), 0);
  EXPECT_TRUE(drain(*stage_, 7).empty());
}

TEST_F(RedisStageTest, ChangesRoundTripExactly) {
  PlannedChange c = change_of(5);
  c.target_values.push_back(Value::bytes(std::string("\0\xff\r\n", 4)));
  c.target_values.push_back(dec("-12.50"));
  c.target_values.push_back(Value::null());
  ASSERT_TRUE(stage_->put_changes({c}).is_ok());
  std::vector<PlannedChange> got;
  ASSERT_TRUE(stage_
                  ->read_changes(10,
                                 [&](std::vector<PlannedChange>& b) {
                                   got = b;
                                   return Status::ok();
                                 })
                  .is_ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(encode_change(got[0]), encode_change(c));
  EXPECT_EQ(got[0].target_values, c.target_values);
}

TEST_F(RedisStageTest, AFailingCallbackLeavesExactlyTheUnappliedBatches) {
  ASSERT_TRUE(stage_->put_changes(changes(1, 25)).is_ok());
  std::vector<int64_t> applied;
  int calls = 0;
  Status st = stage_->read_changes(10, [&](std::vector<PlannedChange>& b) -> Status {
    if (++calls == 2) return error(ErrorCode::kUnavailable, "target went away");
    for (const PlannedChange& c : b) applied.push_back(c.key.at(0).as_int());
    return Status::ok();
  });
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(st.message(), "target went away");
  EXPECT_EQ(applied, range(1, 10));
  EXPECT_EQ(llen(), 15);  // the failed batch and the one after it
  // A resumed commit gets exactly what is left, in order.
  EXPECT_EQ(flat(drain(*stage_, 10)), range(11, 25));
}

TEST_F(RedisStageTest, TtlIsSetOnEveryKeyAndRefreshedOnWrite) {
  ASSERT_TRUE(stage_->put_changes(changes(1, 2)).is_ok());
  ASSERT_TRUE(stage_->put_conflicts({conflict_of(1)}).is_ok());
  for (const char* part : {"changes", "conflicts", "status", "pending", "meta"}) {
    int64_t t = ttl(stage_->key(part));
    EXPECT_GT(t, 3590) << part;
    EXPECT_LE(t, 3600) << part;
  }
  ASSERT_TRUE(conn_.command({"EXPIRE", stage_->key("changes"), "50"}).is_ok());
  ASSERT_TRUE(conn_.command({"EXPIRE", stage_->key("conflicts"), "50"}).is_ok());
  EXPECT_LE(ttl(stage_->key("changes")), 50);
  ASSERT_TRUE(stage_->put_changes(changes(3, 3)).is_ok());
  EXPECT_GT(ttl(stage_->key("changes")), 3590);
  EXPECT_GT(ttl(stage_->key("conflicts")), 3590);  // all of the job's keys, not only the list

  // The default TTL is a week.
  RedisStageOptions defaults;
  EXPECT_EQ(defaults.ttl, std::chrono::seconds(7 * 24 * 3600));
}

TEST_F(RedisStageTest, ClearDeletesEveryKeyOfTheJobOnly) {
  Result<std::unique_ptr<RedisStage>> other = RedisStage::open(conn_, test_job("other"), options_);
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE((*other)->put_changes(changes(1, 1)).is_ok());
  ASSERT_TRUE(stage_->put_changes(changes(1, 5)).is_ok());
  ASSERT_TRUE(stage_->put_conflicts({conflict_of(1), conflict_of(2)}).is_ok());
  ASSERT_TRUE(stage_->clear().is_ok());
  for (const std::string& k : stage_->keys()) {
    Result<RedisReply> r = conn_.command({"EXISTS", k});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->integer(), 0) << k;
  }
  EXPECT_EQ(*stage_->pending_conflicts(), 0);
  EXPECT_EQ(flat(drain(**other, 10)), range(1, 1));
  EXPECT_TRUE((*other)->clear().is_ok());
}

TEST_F(RedisStageTest, ExistsUntilClearedOrExpired) {
  EXPECT_FALSE(*stage_->exists());  // nothing staged yet
  ASSERT_TRUE(stage_->put_conflicts({conflict_of(1)}).is_ok());
  EXPECT_TRUE(*stage_->exists());
  ASSERT_TRUE(stage_->clear().is_ok());
  EXPECT_FALSE(*stage_->exists());
  ASSERT_TRUE(stage_->put_changes(changes(1, 3)).is_ok());
  EXPECT_TRUE(*stage_->exists());
  EXPECT_EQ(flat(drain(*stage_, 10)), range(1, 3));
  EXPECT_TRUE(*stage_->exists());  // drained, not cleared: still the job's stage

  // A stage whose TTL ran out is gone as a whole.
  ASSERT_TRUE(stage_->put_changes(changes(4, 5)).is_ok());
  ASSERT_TRUE(stage_->put_conflicts({conflict_of(2)}).is_ok());
  for (const std::string& k : stage_->keys())
    ASSERT_TRUE(conn_.command({"PEXPIRE", k, "1"}).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(*stage_->exists());
  EXPECT_EQ(*stage_->pending_conflicts(), 0);
  EXPECT_EQ(llen(), 0);
}

TEST_F(RedisStageTest, ConflictsArePagedAndFilteredByStatus) {
  std::vector<ConflictRecord> first, second;
  for (int64_t k = 1; k <= 15; ++k) first.push_back(conflict_of(k));
  for (int64_t k = 16; k <= 25; ++k) second.push_back(conflict_of(k));
  ASSERT_TRUE(stage_->put_conflicts(first).is_ok());
  ASSERT_TRUE(stage_->put_conflicts(second).is_ok());
  EXPECT_EQ(*stage_->pending_conflicts(), 25);
  EXPECT_EQ(*stage_->conflict_count(), 25);

  std::vector<int64_t> ids;
  int64_t after = 0;
  for (;;) {
    auto page = stage_->list_conflicts(after, 10);
    ASSERT_TRUE(page.is_ok()) << page.status().to_string();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 10u);
    for (const auto& c : *page) {
      ids.push_back(c.id);
      EXPECT_EQ(c.status, "pending");
      EXPECT_FALSE(c.decision);
      EXPECT_EQ(c.conflict.key, (Row{num(c.id)}));  // recorded in order: id n is key n
      EXPECT_EQ(c.conflict.reason, "conflict " + std::to_string(c.id));
      EXPECT_EQ(c.conflict.source->at(1), txt("s"));
    }
    after = page->back().id;
  }
  EXPECT_EQ(ids, range(1, 25));

  // Mark a few decided (through decide, with the resolver of SyncFixture's sync).
  SyncFixture f;
  f.compile();
  ConflictResolver resolver(*f.mapper, f.policy);
  for (int64_t id : {3, 12, 20}) {
    auto st = stage_->decide(id, Decision::kSkip, nullptr, resolver);
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    EXPECT_EQ(*st, "skipped");
  }
  EXPECT_EQ(*stage_->pending_conflicts(), 22);
  auto skipped = stage_->list_conflicts(0, 100, std::string("skipped"));
  ASSERT_TRUE(skipped.is_ok());
  ASSERT_EQ(skipped->size(), 3u);
  EXPECT_EQ(skipped->at(1).id, 12);
  EXPECT_EQ(skipped->at(1).decision, Decision::kSkip);
  auto pending = stage_->list_conflicts(2, 5, std::string("pending"));
  ASSERT_TRUE(pending.is_ok());
  std::vector<int64_t> pids;
  for (const auto& c : *pending) pids.push_back(c.id);
  EXPECT_EQ(pids, (std::vector<int64_t>{4, 5, 6, 7, 8}));
  auto resolved_page = stage_->list_conflicts(0, 2, std::string("skipped"));
  ASSERT_TRUE(resolved_page.is_ok());
  ASSERT_EQ(resolved_page->size(), 2u);
  EXPECT_EQ(resolved_page->at(1).id, 12);
  EXPECT_EQ(stage_->list_conflicts(0, 10, std::string("bogus")).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(stage_->get_conflict(26).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(stage_->get_conflict(0).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(stage_->get_conflict(12)->status, "skipped");
}

TEST_F(RedisStageTest, AKeyOfTheWrongTypeIsAnErrorNotACrash) {
  ASSERT_TRUE(conn_.command({"SET", stage_->key("changes"), "not a list"}).is_ok());
  Status read = stage_->read_changes(10, [](std::vector<PlannedChange>&) { return Status::ok(); });
  EXPECT_EQ(read.code(), ErrorCode::kInternal);
  EXPECT_NE(read.message().find("WRONGTYPE"), std::string::npos) << read.message();
  Status put = stage_->put_changes(changes(1, 2));
  EXPECT_FALSE(put.is_ok());
  EXPECT_NE(put.message().find("WRONGTYPE"), std::string::npos) << put.message();
  // A list holding something that is not a change: a decoding error naming the job.
  ASSERT_TRUE(conn_.command({"DEL", stage_->key("changes")}).is_ok());
  ASSERT_TRUE(conn_.command({"RPUSH", stage_->key("changes"), "garbage"}).is_ok());
  Status bad = stage_->read_changes(10, [](std::vector<PlannedChange>&) { return Status::ok(); });
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("job " + stage_->job()), std::string::npos) << bad.message();
  EXPECT_EQ(llen(), 1);  // nothing removed
}

// ---- decisions: the engine's StrategyTest conflict, through the executor, Redis and memory ----

// After a first sync of rows 1 and 2, both sides edit row 1 and the source gains row 3;
// the manual strategy holds it all.
void prepare(SyncFixture& f, MergeFallback fallback) {
  f.source.put({num(1), txt("original"), dec("10.00"), txt("draft")});
  f.source.put({num(2), txt("untouched"), dec("5.00"), txt("draft")});
  JobOutcome first = f.run();
  ASSERT_EQ(first.state, JobState::kSucceeded) << first.error.to_string();
  f.srow(1)->at(1) = txt("source title");
  f.srow(1)->at(3) = txt("published");
  f.trow(1)->at(1) = txt("target title");
  f.trow(1)->at(2) = dec("12.00");
  f.source.put({num(3), txt("new"), dec("1.00"), txt("draft")});
  f.policy.strategy = Strategy::kManual;
  f.policy.merge_fallback = fallback;
}

struct Decided {
  std::vector<Row> target;
  std::map<int64_t, DiffKind> kinds;
  JobOutcome commit;
};

// The engine's own way (MemoryStage), as test/engine/sync_executor_test.cpp does it.
Decided decide_in_memory(Decision d, const Row* custom, MergeFallback fallback) {
  SyncFixture f;
  prepare(f, fallback);
  Decided out;
  JobOutcome held = f.run();
  EXPECT_EQ(held.state, JobState::kAwaitingResolution);
  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &f.baseline, &f.stage, nullptr});
  EXPECT_TRUE(x.is_ok());
  auto change = x->resolver().resolve(f.stage.conflicts.at(0), d, custom);
  EXPECT_TRUE(change.is_ok()) << change.status().to_string();
  if (!change->empty()) f.stage.changes.push_back(*change);
  f.stage.decided[0] = true;
  out.commit = x->commit({});
  out.target = f.target.rows();
  out.kinds = f.kinds();
  return out;
}

TEST_F(RedisStageTest, EveryDecisionGivesTheEngineResultThroughTheExecutor) {
  const Row custom{num(1), txt("hand made"), dec("11"), txt("published")};
  const struct {
    Decision d;
    MergeFallback fallback;
    const char* status;
  } cases[] = {{Decision::kSource, MergeFallback::kManual, "resolved"},
               {Decision::kTarget, MergeFallback::kManual, "resolved"},
               {Decision::kMerge, MergeFallback::kSource, "resolved"},
               {Decision::kMerge, MergeFallback::kTarget, "resolved"},
               {Decision::kCustom, MergeFallback::kManual, "resolved"},
               {Decision::kSkip, MergeFallback::kManual, "skipped"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(decision_name(c.d)) + " fallback " +
                 std::to_string(static_cast<int>(c.fallback)));
    const Row* row = c.d == Decision::kCustom ? &custom : nullptr;
    Decided want = decide_in_memory(c.d, row, c.fallback);
    ASSERT_EQ(want.commit.state, JobState::kSucceeded) << want.commit.error.to_string();

    auto stage = RedisStage::open(conn_, test_job("decide"), options_);
    ASSERT_TRUE(stage.is_ok());
    SyncFixture f;
    prepare(f, c.fallback);
    auto x = SyncExecutor::create(
        *f.mapper, f.policy, {&f.source, &f.source, &f.target, &f.baseline, stage->get(), nullptr});
    ASSERT_TRUE(x.is_ok()) << x.status().to_string();
    JobOutcome held = x->run({});
    ASSERT_EQ(held.state, JobState::kAwaitingResolution) << held.error.to_string();
    EXPECT_EQ(held.progress.conflicts_pending, 1);
    EXPECT_EQ(f.trow(3), nullptr);  // held: nothing written
    EXPECT_EQ(*(*stage)->pending_conflicts(), 1);
    EXPECT_EQ(x->commit({}).state, JobState::kAwaitingResolution);  // still pending

    auto listed = (*stage)->list_conflicts(0, 10);
    ASSERT_TRUE(listed.is_ok()) << listed.status().to_string();
    ASSERT_EQ(listed->size(), 1u);
    const auto& rec = listed->at(0);
    EXPECT_EQ(rec.status, "pending");
    EXPECT_EQ(rec.conflict.kind, DiffKind::kBothChanged);
    EXPECT_EQ(rec.conflict.key, (Row{num(1)}));
    EXPECT_EQ(rec.conflict.source->at(1), txt("source title"));
    EXPECT_EQ(rec.conflict.target->at(1), txt("target title"));
    EXPECT_TRUE(rec.conflict.conflicting.test(1));

    const int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    auto decided = (*stage)->decide(rec.id, c.d, row, x->resolver(), "alice (token ci)");
    ASSERT_TRUE(decided.is_ok()) << decided.status().to_string();
    EXPECT_EQ(*decided, c.status);
    EXPECT_EQ(*(*stage)->pending_conflicts(), 0);
    auto again = (*stage)->decide(rec.id, c.d, row, x->resolver());
    EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
    EXPECT_NE(again.status().message().find("is already " + std::string(c.status)),
              std::string::npos)
        << again.status().message();
    auto after = (*stage)->get_conflict(rec.id);
    ASSERT_TRUE(after.is_ok());
    EXPECT_EQ(after->status, c.status);
    EXPECT_EQ(after->decision, c.d);
    EXPECT_EQ(after->decided_by, "alice (token ci)");
    // The row of a custom decision is kept with exact values (for the catalog's resolved_row).
    if (c.d == Decision::kCustom) {
      ASSERT_TRUE(after->resolved_row.has_value());
      EXPECT_EQ(*after->resolved_row, custom);
    } else {
      EXPECT_FALSE(after->resolved_row.has_value());
    }
    EXPECT_GE(after->decided_at_ms, t0);
    EXPECT_LT(after->decided_at_ms, t0 + 60000);

    JobOutcome committed = x->commit({});
    ASSERT_EQ(committed.state, JobState::kSucceeded) << committed.error.to_string();
    EXPECT_EQ(committed.progress.inserted, want.commit.progress.inserted);
    EXPECT_EQ(committed.progress.updated, want.commit.progress.updated);
    EXPECT_EQ(f.target.rows(), want.target);
    EXPECT_EQ(f.kinds(), want.kinds);
    EXPECT_NE(f.trow(3), nullptr);
    for (const std::string& k : (*stage)->keys())
      EXPECT_EQ(conn_.command({"EXISTS", k})->integer(), 0) << k;  // committed: stage deleted
  }
}

TEST_F(RedisStageTest, RefusedDecisionsLeaveTheConflictPending) {
  SyncFixture f;
  prepare(f, MergeFallback::kManual);
  auto x = SyncExecutor::create(
      *f.mapper, f.policy, {&f.source, &f.source, &f.target, &f.baseline, stage_.get(), nullptr});
  ASSERT_TRUE(x.is_ok());
  ASSERT_EQ(x->run({}).state, JobState::kAwaitingResolution);
  const ConflictResolver& r = x->resolver();
  const int64_t staged = llen();

  auto merge = stage_->decide(1, Decision::kMerge, nullptr, r);  // title changed on both sides
  EXPECT_EQ(merge.status().code(), ErrorCode::kConflict);
  EXPECT_NE(merge.status().message().find("conflict 1 of job"), std::string::npos);
  EXPECT_EQ(stage_->decide(1, Decision::kCustom, nullptr, r).status().code(),
            ErrorCode::kInvalidArgument);
  Row other_key{num(2), txt("x"), dec("1"), txt("y")};
  EXPECT_EQ(stage_->decide(1, Decision::kCustom, &other_key, r).status().code(),
            ErrorCode::kInvalidArgument);
  Row row{num(1), txt("x"), dec("1"), txt("y")};
  EXPECT_EQ(stage_->decide(1, Decision::kSource, &row, r).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(stage_->decide(7, Decision::kSource, nullptr, r).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(*stage_->pending_conflicts(), 1);
  EXPECT_EQ(stage_->get_conflict(1)->status, "pending");
  EXPECT_EQ(llen(), staged);  // nothing staged by a refused decision

  EXPECT_EQ(stage_->decide_all(Decision::kCustom, r).status().code(), ErrorCode::kInvalidArgument);
  auto all = stage_->decide_all(Decision::kSource, r);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(*all, 1);
  EXPECT_EQ(*stage_->decide_all(Decision::kSource, r), 0);
  EXPECT_EQ(llen(), staged + 1);
  JobOutcome committed = x->commit({});
  ASSERT_EQ(committed.state, JobState::kSucceeded) << committed.error.to_string();
  EXPECT_EQ(f.trow(1)->at(1), txt("source title"));
}

TEST_F(RedisStageTest, TwoResolversRacingDecideOnce) {
  SyncFixture f;
  prepare(f, MergeFallback::kManual);
  auto x = SyncExecutor::create(
      *f.mapper, f.policy, {&f.source, &f.source, &f.target, &f.baseline, stage_.get(), nullptr});
  ASSERT_TRUE(x.is_ok());
  ASSERT_EQ(x->run({}).state, JobState::kAwaitingResolution);
  const int64_t staged = llen();
  // A second process's view of the same job (its own connection).
  Result<RedisConnection> c2 = RedisConnection::connect(*stack_redis_url());
  ASSERT_TRUE(c2.is_ok());
  auto other = RedisStage::open(*c2, stage_->job(), options_);
  ASSERT_TRUE(other.is_ok());
  auto a = stage_->decide(1, Decision::kSource, nullptr, x->resolver());
  auto b = (*other)->decide(1, Decision::kTarget, nullptr, x->resolver());
  EXPECT_TRUE(a.is_ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(llen(), staged + 1);  // exactly one decided change staged
  EXPECT_EQ(stage_->get_conflict(1)->decision, Decision::kSource);
}

TEST_F(RedisStageTest, AStaleListedConflictIsNotDecidedAgain) {
  SyncFixture f;
  prepare(f, MergeFallback::kManual);
  auto x = SyncExecutor::create(
      *f.mapper, f.policy, {&f.source, &f.source, &f.target, &f.baseline, stage_.get(), nullptr});
  ASSERT_TRUE(x.is_ok());
  ASSERT_EQ(x->run({}).state, JobState::kAwaitingResolution);
  const int64_t staged = llen();
  // Two resolvers list the page; one decides; the other decides from its stale page.
  auto page = stage_->list_conflicts(0, 10, std::string("pending"));
  ASSERT_TRUE(page.is_ok());
  ASSERT_EQ(page->size(), 1u);
  auto first = stage_->decide_listed(page->at(0), Decision::kTarget, nullptr, x->resolver());
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto stale = stage_->decide_listed(page->at(0), Decision::kSource, nullptr, x->resolver());
  EXPECT_EQ(stale.status().code(), ErrorCode::kConflict);
  EXPECT_NE(
      stale.status().message().find("conflict 1 of job " + stage_->job() + " is already resolved"),
      std::string::npos)
      << stale.status().message();
  EXPECT_EQ(stage_->get_conflict(1)->decision, Decision::kTarget);
  // target wins stages a baseline-only change; the refused one staged nothing
  EXPECT_EQ(llen(), staged + 1);
}

// ---- Redis going away mid-job ----

TEST(RedisStageOutage, StoppedRedisIsUnavailableAndNothingIsLost) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  RedisOptions quick;
  quick.connect_timeout = std::chrono::milliseconds(500);
  quick.command_timeout = std::chrono::milliseconds(500);
  Result<RedisConnection> c = RedisConnection::connect(server.url(), std::nullopt, quick);
  ASSERT_TRUE(c.is_ok());
  auto stage = RedisStage::open(*c, "77");
  ASSERT_TRUE(stage.is_ok());
  ASSERT_TRUE((*stage)->put_changes(changes(1, 10)).is_ok());
  ASSERT_TRUE((*stage)->put_conflicts({conflict_of(1)}).is_ok());

  server.stop();
  const std::string where = "redis 127.0.0.1:" + std::to_string(server.port());
  Status put = (*stage)->put_changes(changes(11, 20));
  EXPECT_EQ(put.code(), ErrorCode::kUnavailable) << put.to_string();
  EXPECT_NE(put.message().find(where), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("stage of job 77, staging 10 changes"), std::string::npos)
      << put.message();
  EXPECT_EQ((*stage)->put_conflicts({conflict_of(2)}).code(), ErrorCode::kUnavailable);
  EXPECT_EQ((*stage)->pending_conflicts().status().code(), ErrorCode::kUnavailable);
  bool called = false;
  Status read = (*stage)->read_changes(5, [&](std::vector<PlannedChange>&) {
    called = true;
    return Status::ok();
  });
  EXPECT_EQ(read.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(called);

  // Back (the runner retries the failed put): nothing lost, nothing doubled.
  ASSERT_TRUE(server.start());
  ASSERT_TRUE((*stage)->put_changes(changes(11, 20)).is_ok());
  EXPECT_EQ(*(*stage)->pending_conflicts(), 1);
  EXPECT_EQ(flat(drain(**stage, 6)), range(1, 20));
  EXPECT_TRUE((*stage)->clear().is_ok());
}

TEST(RedisStageOutage, RedisStoppingAfterABatchWasAppliedReplaysOnlyThatBatch) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  RedisOptions quick;
  quick.connect_timeout = std::chrono::milliseconds(300);
  quick.command_timeout = std::chrono::milliseconds(300);
  Result<RedisConnection> c = RedisConnection::connect(server.url(), std::nullopt, quick);
  ASSERT_TRUE(c.is_ok());
  auto stage = RedisStage::open(*c, "78");
  ASSERT_TRUE(stage.is_ok());
  ASSERT_TRUE((*stage)->put_changes(changes(1, 12)).is_ok());
  std::vector<int64_t> applied;
  int calls = 0;
  Status st = (*stage)->read_changes(5, [&](std::vector<PlannedChange>& b) {
    for (const PlannedChange& ch : b) applied.push_back(ch.key.at(0).as_int());
    if (++calls == 2) server.stop();  // the second batch is applied, then Redis goes away
    return Status::ok();
  });
  ASSERT_TRUE(server.start());
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("applied again on resume"), std::string::npos) << st.message();
  EXPECT_EQ(applied, range(1, 10));
  // The resumed commit applies batch 2 again (apply is idempotent), then the rest.
  EXPECT_EQ(flat(drain(**stage, 5)), range(6, 12));
  EXPECT_TRUE((*stage)->clear().is_ok());
}

TEST(RedisStageOutage, APutCutOffByATimeoutIsAllOrNothing) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  RedisOptions quick;
  quick.connect_timeout = std::chrono::milliseconds(300);
  quick.command_timeout = std::chrono::milliseconds(300);
  Result<RedisConnection> c = RedisConnection::connect(server.url(), std::nullopt, quick);
  ASSERT_TRUE(c.is_ok());
  auto stage = RedisStage::open(*c, "79");
  ASSERT_TRUE(stage.is_ok());
  ASSERT_TRUE((*stage)->put_changes(changes(1, 5)).is_ok());
  server.pause();  // the request is sent, no answer comes
  Status put = (*stage)->put_changes(changes(6, 105));
  server.resume();
  EXPECT_EQ(put.code(), ErrorCode::kUnavailable) << put.to_string();
  EXPECT_NE(put.message().find("timed out"), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("may or may not be staged: all or none"), std::string::npos)
      << put.message();
  std::vector<int64_t> staged = flat(drain(**stage, 1000));
  EXPECT_TRUE(staged == range(1, 5) || staged == range(1, 105)) << staged.size();
  EXPECT_TRUE((*stage)->clear().is_ok());
}

TEST(RedisStageOutage, ARedisOutOfMemoryRefusesAWholePutAndIsRetryable) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  Result<RedisConnection> c = RedisConnection::connect(server.url());
  ASSERT_TRUE(c.is_ok());
  auto stage = RedisStage::open(*c, "80");
  ASSERT_TRUE(stage.is_ok());
  Result<RedisReply> used = c->command({"INFO", "memory"});
  ASSERT_TRUE(used.is_ok());
  std::string text(used->str());
  size_t at = text.find("used_memory:");
  ASSERT_NE(at, std::string::npos);
  long long bytes = std::atoll(text.c_str() + at + 12);
  ASSERT_TRUE(
      c->command({"CONFIG", "SET", "maxmemory", std::to_string(bytes + 200 * 1024)}).is_ok());
  Status st;
  int64_t before = 0, next = 1;
  for (int i = 0; i < 40 && st.is_ok(); ++i) {
    before = c->command({"LLEN", (*stage)->key("changes")})->integer();
    std::vector<PlannedChange> batch = changes(next, next + 199);
    for (PlannedChange& ch : batch) ch.target_values.push_back(txt(std::string(200, 'x').c_str()));
    st = (*stage)->put_changes(batch);
    if (st.is_ok()) next += 200;
  }
  ASSERT_FALSE(st.is_ok()) << "maxmemory never reached";
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("OOM"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nothing staged"), std::string::npos) << st.message();
  EXPECT_EQ(c->command({"LLEN", (*stage)->key("changes")})->integer(), before);
  ASSERT_TRUE(c->command({"CONFIG", "SET", "maxmemory", "0"}).is_ok());
  ASSERT_TRUE((*stage)->put_changes(changes(next, next + 199)).is_ok());  // the retry
  EXPECT_EQ(flat(drain(**stage, 1000)), range(1, next + 199));
}

}  // namespace
}  // namespace dbsync::redis::testing
