#include "engine/audit.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test/engine/sync_fixture.hpp"

namespace dbsync::testing {
namespace {

using nlohmann::json;

// Records the audit of every batch the executor hands to the baseline, as the catalog
// baselines do.
class AuditingBaseline : public MemoryBaseline {
 public:
  explicit AuditingBaseline(const FieldMapper& m) : builder(m) {}
  Status apply(const std::vector<PlannedChange>& changes) override {
    AuditBatch b = builder.build(changes);
    if (!b.empty()) batches.push_back(std::move(b));
    return MemoryBaseline::apply(changes);
  }
  AuditBuilder builder;
  std::vector<AuditBatch> batches;
};

// The operation name of a letter of AuditSide::operations, as dbsync.audit_log shows it.
std::string operation_name(char code) {
  switch (code) {
    case 'i':
      return "insert";
    case 'u':
      return "update";
    case 'd':
      return "delete";
    case 's':
      return "soft_delete";
  }
  ADD_FAILURE() << "unknown operation letter " << code;
  return "?";
}

// A text[] literal as AuditSide::columns writes it (every element quoted) as a JSON array.
json parse_text_array(const std::string& lit) {
  json out = json::array();
  EXPECT_TRUE(lit.size() >= 2 && lit.front() == '{' && lit.back() == '}') << lit;
  size_t i = 1;
  while (i + 1 < lit.size()) {
    EXPECT_EQ(lit[i], '"') << lit;
    std::string name;
    for (++i; i + 1 < lit.size() && lit[i] != '"'; ++i) {
      if (lit[i] == '\\') ++i;
      name += lit[i];
    }
    out.push_back(name);
    i += 1;  // the closing quote
    if (lit[i] == ',') ++i;
  }
  return out;
}

// One side's entries as (key, operation, fields) JSON rows, as dbsync.audit_log shows them
// (fields null, as a whole or an entry = every column of the side).
std::vector<json> entries(const AuditSide& side) {
  std::vector<json> out;
  if (side.count == 0) return out;
  json keys = json::parse(side.keys), fields = json::parse(side.fields),
       columns = parse_text_array(side.columns);
  EXPECT_EQ(keys.size(), side.count);
  EXPECT_EQ(side.operations.size(), side.count);
  EXPECT_TRUE(fields.is_null() || fields.size() == side.count) << side.fields;
  for (size_t i = 0; i < side.count; ++i) {
    const json f = fields.is_null() ? fields : fields[i];
    out.push_back({keys[i], operation_name(side.operations[i]), f.is_null() ? columns : f});
  }
  return out;
}

PlannedChange change(int64_t id, RowOp target_op, RowOp source_op = RowOp::kNone) {
  PlannedChange c;
  c.kind = DiffKind::kSourceChanged;
  c.key = {num(id)};
  c.target_op = target_op;
  c.source_op = source_op;
  if (source_op != RowOp::kNone) c.source_key = {num(id)};
  return c;
}

TEST(AuditBuilder, OneEntryPerChangePerSideWithOperationsAndFields) {
  SyncFixture f;
  f.compile();
  const FieldMapper& m = *f.mapper;
  ASSERT_EQ(m.mapped_columns(), (std::vector<std::string>{"id", "post_title", "price", "status"}));
  AuditBuilder b(m);

  std::vector<PlannedChange> batch;
  batch.push_back(change(1, RowOp::kInsert));
  PlannedChange upd = change(2, RowOp::kUpdate);
  upd.changed.reset(m.mapped_count());
  upd.changed.set(1);
  upd.changed.set(3);
  batch.push_back(std::move(upd));
  batch.push_back(change(3, RowOp::kDelete));
  batch.push_back(change(4, RowOp::kSoftDelete));
  PlannedChange refresh = change(5, RowOp::kNone);  // in step: only the baseline changes
  refresh.baseline_op = BaselineOp::kSet;
  batch.push_back(std::move(refresh));
  PlannedChange back = change(6, RowOp::kNone, RowOp::kUpdate);  // two-way: to the source only
  back.changed.reset(m.mapped_count());
  back.changed.set(2);
  batch.push_back(std::move(back));
  batch.push_back(change(7, RowOp::kNone, RowOp::kInsert));
  batch.push_back(change(8, RowOp::kUpdate, RowOp::kDelete));  // both sides in one change

  AuditBatch a = b.build(batch);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.target.count, 5u);
  EXPECT_EQ(a.target.keys, R"([{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 8}])");
  EXPECT_EQ(a.target.operations, "iudsu");  // insert, update, delete, soft_delete, update
  // An insert writes every column (null); an update its changed fields; an update that does not
  // say which fields changed, every column.
  EXPECT_EQ(a.target.fields, R"([null, ["post_title", "status"], [], [], null])");
  EXPECT_EQ(a.target.columns, R"({"id","post_title","price","status"})");

  EXPECT_EQ(a.source.count, 3u);
  EXPECT_EQ(a.source.keys, R"([{"id": 6}, {"id": 7}, {"id": 8}])");
  EXPECT_EQ(a.source.operations, "uid");
  EXPECT_EQ(a.source.fields, R"([["price"], null, []])");
  EXPECT_EQ(a.source.columns, R"({"id","post_title","price","status"})");
}

TEST(AuditBuilder, FieldsNullAsAWholeWhenEveryChangeWroteEveryColumn) {
  SyncFixture f;
  f.compile();
  AuditBuilder b(*f.mapper);
  // A batch of inserts (an initial load): one null instead of one per change.
  AuditBatch a = b.build({change(1, RowOp::kInsert), change(2, RowOp::kInsert)});
  EXPECT_EQ(a.target.operations, "ii");
  EXPECT_EQ(a.target.fields, "null");
  EXPECT_EQ(a.target.keys, R"([{"id": 1}, {"id": 2}])");
  // An update that does not say which fields changed writes every column too.
  a = b.build({change(1, RowOp::kInsert), change(2, RowOp::kUpdate)});
  EXPECT_EQ(a.target.operations, "iu");
  EXPECT_EQ(a.target.fields, "null");
  // One change that did not write every column: an entry per change.
  a = b.build({change(1, RowOp::kInsert), change(2, RowOp::kDelete)});
  EXPECT_EQ(a.target.fields, "[null, []]");
  PlannedChange upd = change(3, RowOp::kUpdate);
  upd.changed.reset(f.mapper->mapped_count());
  upd.changed.set(2);
  a = b.build({change(1, RowOp::kInsert), upd});
  EXPECT_EQ(a.target.fields, R"([null, ["price"]])");
  // Either form is kept apart by the digest.
  EXPECT_NE(b.build({change(1, RowOp::kInsert)}).target.digest,
            b.build({change(1, RowOp::kDelete)}).target.digest);
}

TEST(AuditBuilder, OperationLetters) {
  EXPECT_EQ(audit_operation_code(RowOp::kInsert), 'i');
  EXPECT_EQ(audit_operation_code(RowOp::kUpdate), 'u');
  EXPECT_EQ(audit_operation_code(RowOp::kDelete), 'd');
  EXPECT_EQ(audit_operation_code(RowOp::kSoftDelete), 's');
  EXPECT_EQ(audit_operation_code(RowOp::kNone), 0);
}

TEST(AuditBuilder, NothingAppliedNothingRecorded) {
  SyncFixture f;
  f.compile();
  AuditBuilder b(*f.mapper);
  EXPECT_TRUE(b.build({}).empty());
  PlannedChange refresh = change(1, RowOp::kNone);
  refresh.baseline_op = BaselineOp::kErase;
  AuditBatch a = b.build({refresh});
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.target.keys, "");
  EXPECT_EQ(a.source.keys, "");
}

TEST(AuditBuilder, DigestIdentifiesTheBatchContent) {
  SyncFixture f;
  f.compile();
  AuditBuilder b(*f.mapper);
  std::vector<PlannedChange> one{change(1, RowOp::kInsert), change(2, RowOp::kDelete)};
  const uint64_t d = b.build(one).target.digest;
  EXPECT_EQ(b.build(one).target.digest, d);  // the same batch applied again: the same digest
  std::vector<PlannedChange> other_op{change(1, RowOp::kInsert), change(2, RowOp::kSoftDelete)};
  EXPECT_NE(b.build(other_op).target.digest, d);
  std::vector<PlannedChange> other_key{change(1, RowOp::kInsert), change(3, RowOp::kDelete)};
  EXPECT_NE(b.build(other_key).target.digest, d);
}

TEST(AuditBuilder, ComputedColumnsAreNotSourceColumns) {
  SyncFixture f;
  f.compile(R"({"post_title": "{{ m.title | upper }}", "price": "price"})");
  const FieldMapper& m = *f.mapper;
  ASSERT_EQ(m.mapped_columns(), (std::vector<std::string>{"id", "post_title", "price"}));
  AuditBuilder b(m);
  PlannedChange back = change(1, RowOp::kNone, RowOp::kUpdate);
  back.changed.reset(m.mapped_count());
  back.changed.set(1);  // computed: never written back
  back.changed.set(2);
  AuditBatch a = b.build({back});
  EXPECT_EQ(a.source.columns, R"({"id","price"})");
  EXPECT_EQ(a.source.fields, R"([["price"]])");
}

TEST(AuditBuilder, HostileNamesAndTextKeysAreValidJson) {
  MemoryTable source{make_schema({{"k\"; DROP TABLE t; --", "text"}, {"v", "text"}})};
  MemoryTable target{make_schema({{"k\"; DROP TABLE t; --", "text"}, {"x\\\"y", "text"}})};
  Result<MappingSpec> spec = parse_mapping_json(
      R"({"k\"; DROP TABLE t; --": {"source": "k\"; DROP TABLE t; --", "key": true},
          "x\\\"y": "v"})");
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  Result<FieldMapper> m = FieldMapper::compile(*spec, source.schema(), target.schema());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  AuditBuilder b(*m);
  PlannedChange c;
  c.key = {Value::text("a \"quoted\"\nkey")};
  c.target_op = RowOp::kUpdate;
  c.changed.reset(m->mapped_count());
  c.changed.set(1);
  AuditBatch a = b.build({c});
  json keys = json::parse(a.target.keys);
  EXPECT_EQ(keys, json::parse(R"([{"k\"; DROP TABLE t; --": "a \"quoted\"\nkey"}])"));
  EXPECT_EQ(json::parse(a.target.fields), json::parse(R"([["x\\\"y"]])"));
  EXPECT_EQ(a.target.columns, R"({"k\"; DROP TABLE t; --","x\\\"y"})");
  EXPECT_EQ(parse_text_array(a.target.columns), json::array({"k\"; DROP TABLE t; --", "x\\\"y"}));
}

TEST(AuditBuilder, ColumnsAreATextArrayLiteralWithEveryElementQuoted) {
  EXPECT_EQ(audit_text_array({}), "{}");
  EXPECT_EQ(audit_text_array({"id", "NULL", "", "a,b", "{c}", " d "}),
            R"({"id","NULL","","a,b","{c}"," d "})");
  EXPECT_EQ(audit_text_array({"q\"uote", "back\\slash"}), R"({"q\"uote","back\\slash"})");
}

TEST(AuditBuilder, ExecutorBatchesInitialLoadThenChanges) {
  SyncFixture f;
  fill(f, 5);
  f.compile();
  AuditingBaseline audit(*f.mapper);
  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &audit, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  JobOptions opt;
  opt.batch_size = 2;
  ASSERT_EQ(x->run(opt).state, JobState::kSucceeded);
  // One audit per applied batch: 5 inserts in batches of 2.
  ASSERT_EQ(audit.batches.size(), 3u);
  const json all = json::parse(R"(["id", "post_title", "price", "status"])");
  EXPECT_EQ(entries(audit.batches[0].target),
            (std::vector<json>{{{{"id", 1}}, "insert", all}, {{{"id", 2}}, "insert", all}}));
  EXPECT_EQ(entries(audit.batches[2].target), (std::vector<json>{{{{"id", 5}}, "insert", all}}));
  EXPECT_EQ(audit.batches[0].source.count, 0u);

  audit.batches.clear();
  f.srow(2)->at(1) = txt("renamed");
  f.source.rows().erase(f.source.rows().begin() + 3);  // id 4
  opt.batch_size = 100;
  ASSERT_EQ(x->run(opt).state, JobState::kSucceeded);
  ASSERT_EQ(audit.batches.size(), 1u);
  EXPECT_EQ(entries(audit.batches[0].target),
            (std::vector<json>{{{{"id", 2}}, "update", {"post_title"}},
                               {{{"id", 4}}, "delete", json::array()}}));

  audit.batches.clear();
  ASSERT_EQ(x->run(opt).state, JobState::kSucceeded);  // nothing changed: nothing recorded
  EXPECT_TRUE(audit.batches.empty());
}

TEST(AuditBuilder, ExecutorTwoWayRecordsTheSourceSide) {
  SyncFixture f;
  fill(f, 3);
  f.policy.direction = Direction::kTwoWay;
  f.compile();
  AuditingBaseline audit(*f.mapper);
  auto x = SyncExecutor::create(*f.mapper, f.policy,
                                {&f.source, &f.source, &f.target, &audit, &f.stage, nullptr});
  ASSERT_TRUE(x.is_ok());
  ASSERT_EQ(x->run({}).state, JobState::kSucceeded);
  audit.batches.clear();
  f.trow(1)->at(1) = txt("edited in the target");
  f.target.rows().erase(f.target.rows().begin() + 2);  // id 3
  ASSERT_EQ(x->run({}).state, JobState::kSucceeded);
  ASSERT_EQ(audit.batches.size(), 1u);
  EXPECT_EQ(audit.batches[0].target.count, 0u);
  // The source update writes every reversible column (which ones changed is not in the change).
  const json all = json::parse(R"(["id", "post_title", "price", "status"])");
  EXPECT_EQ(
      entries(audit.batches[0].source),
      (std::vector<json>{{{{"id", 1}}, "update", all}, {{{"id", 3}}, "delete", json::array()}}));
}

}  // namespace
}  // namespace dbsync::testing
