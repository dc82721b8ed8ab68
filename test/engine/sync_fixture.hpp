// A source table, a target table with other column names, and a sync between them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "engine/field_mapper.hpp"
#include "engine/sync_executor.hpp"
#include "engine/three_way_diff.hpp"
#include "test/engine/memory_endpoints.hpp"

namespace dbsync::testing {

inline Value dec(const char* s) { return *Value::decimal(s); }
inline Value txt(const char* s) { return Value::text(s); }
inline Value num(int64_t i) { return Value::integer(i); }

struct SyncFixture {
  // products(id, title, price, status) -> posts(id, post_title, price, status, deleted)
  MemoryTable source{make_schema(
      {{"id", "bigint"}, {"title", "text"}, {"price", "numeric(10,2)"}, {"status", "text"}})};
  MemoryTable target{make_schema({{"id", "bigint"},
                                  {"post_title", "text"},
                                  {"price", "numeric(10,2)"},
                                  {"status", "text"},
                                  {"deleted", "boolean"}})};
  MemoryBaseline baseline;
  MemoryStage stage;
  std::optional<FieldMapper> mapper;
  SyncPolicy policy;

  void compile(
      const char* mapping = R"({"post_title": "title", "price": "@price", "status": "status"})") {
    Result<MappingSpec> spec = parse_mapping_json(mapping);
    ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
    Result<FieldMapper> m = FieldMapper::compile(*spec, source.schema(), target.schema());
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    mapper.emplace(std::move(m).value());
  }

  JobOutcome run(JobOptions options = {}) {
    if (!mapper) compile();
    Result<SyncExecutor> x = SyncExecutor::create(
        *mapper, policy, SyncEndpoints{&source, &source, &target, &baseline, &stage, webhook});
    if (!x.is_ok()) {
      JobOutcome o;
      o.error = x.status();
      return o;
    }
    if (options.batch_size == 0) options.batch_size = 1000;
    return x->run(options);
  }

  // Every key's diff kind, computed without writing anything.
  std::map<int64_t, DiffKind> kinds() {
    if (!mapper) compile();
    std::map<int64_t, DiffKind> out;
    auto s = source.scan({mapper->source_projection(), 1, {}, 100});
    auto t = target.scan({mapper->target_projection(), 1, {}, 100});
    auto b = baseline.scan({});
    ThreeWayDiff diff(*mapper, **s, **t, **b, 0);
    const DiffItem* item = nullptr;
    while (diff.next(item).is_ok() && item) out[item->key[0].as_int()] = item->kind;
    return out;
  }

  Row* trow(int64_t id) { return target.find({num(id)}); }
  Row* srow(int64_t id) { return source.find({num(id)}); }

  ConflictWebhook* webhook = nullptr;
};

// Source rows 1..n: ("p<id>", 1.50, draft).
inline void fill(SyncFixture& f, int64_t n) {
  for (int64_t id = 1; id <= n; ++id)
    f.source.put({num(id), txt(("p" + std::to_string(id)).c_str()), dec("1.50"), txt("draft")});
}

}  // namespace dbsync::testing
