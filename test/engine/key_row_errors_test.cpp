// Issue 12: keys that cannot be merged are row errors naming them, and the run goes on — two
// source keys that map to one target key, a target row with a null key column (a nullable
// unique key). Read in full and light (keys and fingerprints first), and through the executor.
#include <gtest/gtest.h>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

struct Diffed {
  std::vector<DiffKind> kinds;
  std::vector<std::string> keys;    // key_to_string of each item's key
  std::vector<std::string> errors;  // row errors' messages
  Status status;
};

FieldMapper mapper_for(const Schema& source, const Schema& target, const char* mapping) {
  Result<MappingSpec> spec = parse_mapping_json(mapping);
  EXPECT_TRUE(spec.is_ok());
  Result<FieldMapper> m = FieldMapper::compile(*spec, source, target);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return std::move(m).value();
}

// A light reader's lookup: the full rows of the keys asked for, from `rows` (key first).
VectorReader::Lookup lookup_in(std::vector<Row> rows) {
  return [rows](const std::vector<Row>& keys,
                const std::function<Status(const Row&, uint64_t)>& fn) -> Status {
    for (const Row& k : keys)
      for (const Row& r : rows)
        if (compare_keys(Row(r.begin(), r.begin() + 1), k) == 0) DBSYNC_RETURN_IF_ERROR(fn(r, 1));
    return Status::ok();
  };
}

Diffed diff_all(const FieldMapper& m, std::vector<Row> source, std::vector<Row> target,
                bool light) {
  // Light: keys only, every row a candidate (fingerprints differ from the baseline's: none).
  auto keys = [](const std::vector<Row>& rows) {
    std::vector<Row> out;
    for (const Row& r : rows) out.push_back(Row(r.begin(), r.begin() + 1));
    return out;
  };
  std::vector<uint64_t> fps_s(source.size(), 7), fps_t(target.size(), 7);
  VectorReader s =
      light ? VectorReader(keys(source), fps_s, true, lookup_in(source)) : VectorReader(source);
  VectorReader t =
      light ? VectorReader(keys(target), fps_t, true, lookup_in(target)) : VectorReader(target);
  MemoryBaseline baseline;
  auto b = baseline.scan({});
  ThreeWayDiff diff(m, s, t, **b, 0, 2);
  Diffed out;
  for (;;) {
    const DiffItem* item = nullptr;
    out.status = diff.next(item);
    if (!out.status.is_ok() || !item) break;
    out.kinds.push_back(item->kind);
    out.keys.push_back(key_to_string(item->key));
    if (item->kind == DiffKind::kRowError) out.errors.push_back(item->error.message());
  }
  return out;
}

class KeyRowErrors : public ::testing::TestWithParam<bool> {};

TEST_P(KeyRowErrors, TwoSourceKeysMappedToOneTargetKey) {
  // numeric(10,2) keys into a numeric(10,1) key: 1.03 and 1.04 both become 1.0.
  Schema src = make_schema({{"id", "numeric(10,2)"}, {"v", "text"}});
  Schema tgt = make_schema({{"id", "numeric(10,1)"}, {"v", "text"}});
  FieldMapper m = mapper_for(src, tgt, R"({"id": "id", "v": "v"})");
  Diffed d =
      diff_all(m, {{dec("1.03"), txt("a")}, {dec("1.04"), txt("b")}, {dec("2.00"), txt("c")}}, {},
               GetParam());
  ASSERT_TRUE(d.status.is_ok()) << d.status.to_string();
  ASSERT_EQ(d.kinds.size(), 3u);
  EXPECT_EQ(d.kinds[0], DiffKind::kSourceInserted);
  EXPECT_EQ(d.kinds[1], DiffKind::kRowError);
  EXPECT_EQ(d.kinds[2], DiffKind::kSourceInserted);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("source key 1.04 maps to the target key 1.0, as the source key 1.03"),
            std::string::npos)
      << d.errors[0];
}

TEST_P(KeyRowErrors, TargetRowsWithANullKey) {
  // A unique key that allows nulls; PostgreSQL sorts nulls last.
  Schema src = make_schema({{"id", "integer"}, {"v", "text"}});
  Schema tgt = make_schema({{"id", "integer"}, {"v", "text"}});
  FieldMapper m = mapper_for(src, tgt, R"({"id": "id", "v": "v"})");
  Diffed d = diff_all(m, {{num(1), txt("a")}, {num(2), txt("b")}, {num(3), txt("c")}},
                      {{num(1), txt("a")},
                       {num(3), txt("x")},
                       {Value::null(), txt("n1")},
                       {Value::null(), txt("n2")}},
                      GetParam());
  ASSERT_TRUE(d.status.is_ok()) << d.status.to_string();
  int errors = 0, others = 0;
  for (DiffKind k : d.kinds) (k == DiffKind::kRowError ? errors : others)++;
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(others, 3);
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_NE(d.errors[0].find("key column 'id' of a target row is null"), std::string::npos)
      << d.errors[0];
}

INSTANTIATE_TEST_SUITE_P(FullAndLight, KeyRowErrors, ::testing::Values(false, true));

// Through the executor: the row errors are counted, the rest is synced, the job succeeds.
TEST(KeyRowErrorsExecutor, NullTargetKeysAreCountedAndTheJobGoesOn) {
  SyncFixture f;
  fill(f, 3);
  f.target.put({Value::null(), txt("orphan"), dec("1.00"), txt("draft"), Value::boolean(false)});
  std::vector<std::string> reported;
  JobOptions opt;
  opt.on_row_error = [&](const Row& key, const Status& why) {
    reported.push_back(key_to_string(key) + ": " + why.message());
  };
  JobOutcome o = f.run(opt);
  ASSERT_EQ(o.state, JobState::kSucceeded) << o.error.to_string();
  EXPECT_EQ(o.progress.errors, 1);
  EXPECT_EQ(o.progress.inserted, 3);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("is null"), std::string::npos) << reported[0];
}

}  // namespace
}  // namespace dbsync::testing
