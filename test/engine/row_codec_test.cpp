#include "engine/row_codec.hpp"
#include "engine/schema.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace dbsync {
namespace {

Value dec(const char* s) { return *Value::decimal(s); }

// memcmp order of the encodings must be compare_keys order, for every type a key can have.
TEST(SortableKey, ByteOrderIsKeyOrder) {
  std::vector<std::vector<Value>> columns = {
      {Value::integer(INT64_MIN), Value::integer(-5), Value::integer(0), Value::integer(7),
       Value::integer(INT64_MAX)},
      {dec("-100.5"), dec("-10"), dec("-1.5"), dec("-1"), dec("-0.001"), dec("0"), dec("0.001"),
       dec("0.01"), dec("1"), dec("1.5"), dec("10"), dec("10.25"), dec("100")},
      {Value::floating(-1e300), Value::floating(-2.5), Value::floating(0), Value::floating(1e-9),
       Value::floating(3.25)},
      {Value::text(""), Value::text(std::string("a\0b", 3)), Value::text("a"), Value::text("ab"),
       Value::text("b"), Value::text("\xc3\xa9")},
      {Value::timestamp(-86400000000LL), Value::timestamp(0), Value::timestamp(1700000000000000LL)},
      {Value::date(-1), Value::date(0), Value::date(20000)},
  };
  for (const auto& col : columns) {
    for (size_t i = 0; i < col.size(); ++i) {
      for (size_t j = 0; j < col.size(); ++j) {
        std::string a = encode_sortable_key({col[i]}), b = encode_sortable_key({col[j]});
        int expect = compare_values(col[i], col[j]);
        int got = a.compare(b);
        EXPECT_EQ(expect < 0, got < 0) << col[i].to_string() << " vs " << col[j].to_string();
        EXPECT_EQ(expect == 0, got == 0) << col[i].to_string() << " vs " << col[j].to_string();
      }
    }
  }
}

TEST(SortableKey, CompositeKeysSortByFirstColumnThenSecond) {
  std::vector<Row> keys = {{Value::integer(1), Value::text("b")},
                           {Value::integer(1), Value::text("ab")},
                           {Value::integer(2), Value::text("a")},
                           {Value::integer(1), Value::text("a")}};
  std::vector<Row> by_bytes = keys;
  std::sort(by_bytes.begin(), by_bytes.end(), [](const Row& a, const Row& b) {
    return encode_sortable_key(a) < encode_sortable_key(b);
  });
  std::sort(keys.begin(), keys.end(),
            [](const Row& a, const Row& b) { return compare_keys(a, b) < 0; });
  EXPECT_EQ(by_bytes, keys);
}

TEST(SortableKey, RoundTripsKeepTypeAndScale) {
  Row key = {Value::integer(-42),
             dec("10.50"),
             dec("-0.25"),
             Value::text(std::string("x\0y", 3)),
             Value::bytes("\x01\xff"),
             Value::timestamp(123),
             Value::date(5),
             Value::boolean(true),
             Value::null(),
             Value::floating(-2.5)};
  Result<Row> back = decode_sortable_key(encode_sortable_key(key));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, key);
  EXPECT_EQ((*back)[1].str(), "10.50");
  EXPECT_FALSE(decode_sortable_key("\x03\x01").is_ok());  // an int needs 8 bytes
  EXPECT_FALSE(decode_sortable_key("\x63").is_ok());
}

TEST(ChangeCodec, RoundTripsAPlannedChange) {
  PlannedChange c;
  c.kind = DiffKind::kBothChanged;
  c.key = {Value::integer(9)};
  c.target_op = RowOp::kUpdate;
  c.target_values = {Value::integer(9), Value::text("t"), dec("1.50"),
                     *Value::json(R"({"b":1,"a":[true]})")};
  c.source_op = RowOp::kInsert;
  c.source_key = {Value::integer(9)};
  c.source_values = {Value::integer(9), Value::text("t")};
  c.baseline_op = BaselineOp::kSet;
  c.baseline.key = c.key;
  c.baseline.source_present = false;
  c.baseline.target_fields = {1, 2, 3, UINT64_MAX};
  c.changed.reset(70);
  c.changed.set(0);
  c.changed.set(69);
  Result<PlannedChange> back = decode_change(encode_change(c));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->kind, c.kind);
  EXPECT_EQ(back->key, c.key);
  EXPECT_EQ(back->target_values, c.target_values);
  EXPECT_EQ(back->source_values, c.source_values);
  EXPECT_EQ(back->baseline.target_fields, c.baseline.target_fields);
  EXPECT_FALSE(back->baseline.source_present);
  EXPECT_TRUE(back->baseline.target_present);
  EXPECT_EQ(back->changed, c.changed);
}

TEST(ChangeCodec, RoundTripsAConflict) {
  ConflictRecord c;
  c.kind = DiffKind::kSourceDeletedTargetChanged;
  c.key = {Value::text("k")};
  c.target = Row{Value::text("k"), Value::null()};
  c.baseline = BaselineEntry{{Value::text("k")}, true, true, 11, 12, {5, 6}, {5, 7}};
  c.conflicting.reset(2);
  c.conflicting.set(1);
  c.reason = "manual strategy";
  Result<ConflictRecord> back = decode_conflict(encode_conflict(c));
  ASSERT_TRUE(back.is_ok());
  EXPECT_FALSE(back->source.has_value());
  EXPECT_EQ(*back->target, *c.target);
  EXPECT_EQ(back->baseline->target_fields, c.baseline->target_fields);
  EXPECT_EQ(back->baseline->source_hash, 11u);
  EXPECT_EQ(back->baseline->target_hash, 12u);
  EXPECT_EQ(back->conflicting, c.conflicting);
  EXPECT_EQ(back->reason, c.reason);
}

TEST(ChangeCodec, GarbageIsRefusedNotCrashed) {
  std::mt19937 rng(7);
  PlannedChange c;
  c.key = {Value::integer(1)};
  c.target_values = {Value::text("abc"), dec("1.5")};
  std::string good = encode_change(c);
  for (int i = 0; i < 20000; ++i) {
    std::string s = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) s[rng() % s.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) s.resize(rng() % (s.size() + 1));
    (void)decode_change(s);
    (void)decode_conflict(s);
    (void)decode_sortable_key(s);
  }
  EXPECT_FALSE(decode_change("").is_ok());
  EXPECT_FALSE(decode_change(good + "x").is_ok());
}

TEST(RowCodec, BaselineWritesKeepTheLastOperationPerKeyInKeyOrder) {
  auto change = [](int64_t id, BaselineOp op, DiffKind kind, uint64_t hash) {
    PlannedChange c;
    c.key = {Value::integer(id)};
    c.kind = kind;
    c.baseline_op = op;
    c.baseline.key = c.key;
    c.baseline.source_hash = c.baseline.target_hash = hash;
    return c;
  };
  // In key order (a batch from the differ).
  BaselineWrites a = baseline_writes({change(1, BaselineOp::kSet, DiffKind::kSourceInserted, 1),
                                      change(2, BaselineOp::kKeep, DiffKind::kUnchanged, 0),
                                      change(3, BaselineOp::kSet, DiffKind::kSourceChanged, 3),
                                      change(4, BaselineOp::kErase, DiffKind::kBothDeleted, 0)});
  ASSERT_EQ(a.new_keys.size(), 1u);
  EXPECT_EQ(a.new_keys[0], encode_sortable_key({Value::integer(1)}));
  ASSERT_EQ(a.set_keys.size(), 1u);
  EXPECT_EQ(a.set_keys[0], encode_sortable_key({Value::integer(3)}));
  EXPECT_EQ(a.erase_keys, std::vector<std::string>{encode_sortable_key({Value::integer(4)})});
  // Out of order with a key twice (a batch of decisions): sorted, the later operation wins.
  BaselineWrites b = baseline_writes({change(1, BaselineOp::kSet, DiffKind::kSourceChanged, 1),
                                      change(9, BaselineOp::kSet, DiffKind::kSourceChanged, 1),
                                      change(5, BaselineOp::kSet, DiffKind::kSourceChanged, 5),
                                      change(9, BaselineOp::kErase, DiffKind::kBothDeleted, 0),
                                      change(7, BaselineOp::kSet, DiffKind::kSourceChanged, 7),
                                      change(5, BaselineOp::kSet, DiffKind::kSourceChanged, 55)});
  ASSERT_EQ(b.set_keys.size(), 3u);
  EXPECT_EQ(b.set_keys[0], encode_sortable_key({Value::integer(1)}));
  EXPECT_EQ(b.set_keys[1], encode_sortable_key({Value::integer(5)}));
  EXPECT_EQ(b.set_keys[2], encode_sortable_key({Value::integer(7)}));
  Result<BaselineEntry> five = decode_baseline(b.set_states[1], {Value::integer(5)});
  ASSERT_TRUE(five.is_ok());
  EXPECT_EQ(five->source_hash, 55u);
  EXPECT_EQ(b.erase_keys, std::vector<std::string>{encode_sortable_key({Value::integer(9)})});
}

}  // namespace
}  // namespace dbsync
