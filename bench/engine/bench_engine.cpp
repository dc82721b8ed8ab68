// bench/engine: map + hash + three-way diff + plan of N synthetic CMS-shaped rows against a
// target where 1% of the rows differ, through the real SyncExecutor with endpoints that
// generate rows on the fly and discard what is applied. Prints rows/s, ns/row and peak RSS.
// Each size runs in its own process so that peak RSS belongs to that size alone.
//
//   bench_engine [--rows N[,N...]] [--expression]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/field_mapper.hpp"
#include "engine/sync_executor.hpp"

using namespace dbsync;

namespace {

constexpr int64_t kBaseTime = 1700000000LL * 1000000LL;

TypeSpec pg(const char* name) { return *parse_type(name, Dialect::kPostgres); }

Schema cms_schema(bool target) {
  Schema s;
  const char* names_src[] = {"id", "title", "body", "price", "status", "updated_at", "meta"};
  const char* names_tgt[] = {"id",          "post_title", "post_content", "price",
                             "post_status", "modified",   "meta"};
  const char* types[] = {"bigint",        "varchar(80)", "text",
                         "numeric(10,2)", "varchar(20)", "timestamp with time zone",
                         "jsonb"};
  for (int i = 0; i < 7; ++i)
    s.columns.push_back({(target ? names_tgt : names_src)[i], pg(types[i]), true});
  s.key = {0};
  return s;
}

// Fills the seven CMS values of row `id` (schema order) from a pool of prebuilt values, as an
// adapter refills its row buffer: copy-assignment into the same slots, no allocation per row.
// `variant` != 0 gives the changed title.
struct RowMaker {
  static constexpr int64_t kPool = 1024;
  std::vector<Value> title, changed_title, upper_title, body, price, status, meta;
  bool upper = false;  // the target side of the expression run holds upper(title)
  std::vector<uint64_t> title_hash, body_hash, price_hash, status_hash, meta_hash;
  RowMaker() {
    std::string body_template;
    for (int i = 0; i < 300; ++i) body_template.push_back(static_cast<char>('a' + (i * 7) % 26));
    const char* statuses[3] = {"publish", "draft", "pending"};
    for (int64_t i = 0; i < kPool; ++i) {
      std::string t = "Product number " + std::to_string(i * 7919 % 100000);
      title.push_back(Value::text(t));
      changed_title.push_back(Value::text(t + " (new)"));
      std::string u = t;
      for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      upper_title.push_back(Value::text(u));
      std::string b = body_template;
      b.replace(0, t.size(), t);
      body.push_back(Value::text(b));
      price.push_back(
          Value::decimal_unchecked(std::to_string(i % 1000) + "." + std::to_string(10 + i % 90)));
      status.push_back(Value::text(statuses[i % 3]));
      meta.push_back(
          Value::json_unchecked("{\"color\":\"red\",\"size\":" + std::to_string(i % 50) + "}"));
      title_hash.push_back(hash_value(title.back()));
      body_hash.push_back(hash_value(body.back()));
      price_hash.push_back(hash_value(price.back()));
      status_hash.push_back(hash_value(status.back()));
      meta_hash.push_back(hash_value(meta.back()));
    }
  }
  void fill(int64_t id, int variant, Value* v[7]) const {
    size_t p = static_cast<size_t>(id % kPool);
    *v[0] = Value::integer(id);
    *v[1] = variant ? changed_title[p] : upper ? upper_title[p] : title[p];
    *v[2] = body[p];
    *v[3] = price[p];
    *v[4] = status[p];
    *v[5] = Value::timestamp(kBaseTime + id * 1000000);
    *v[6] = meta[p];
  }
  // The baseline's field hashes of the unchanged row `id`.
  void hashes(int64_t id, std::vector<uint64_t>& h) const {
    size_t p = static_cast<size_t>(id % kPool);
    h[0] = hash_value(Value::integer(id));
    h[1] = upper ? hash_value(upper_title[p]) : title_hash[p];
    h[2] = body_hash[p];
    h[3] = price_hash[p];
    h[4] = status_hash[p];
    h[5] = hash_value(Value::timestamp(kBaseTime + id * 1000000));
    h[6] = meta_hash[p];
  }
};

bool changed_row(int64_t id) { return id % 100 == 7; }

// Source: rows in projection order; 1% of them changed since the last sync.
class GeneratedReader : public RowReader {
 public:
  GeneratedReader(int64_t rows, std::vector<size_t> projection, bool apply_changes, bool upper)
      : rows_(rows), projection_(std::move(projection)), apply_changes_(apply_changes) {
    maker_.upper = upper;
    row_.resize(projection_.size());
    for (size_t i = 0; i < projection_.size(); ++i) slot_[projection_[i]] = &row_[i];
    for (Value*& s : slot_)
      if (!s) s = &scratch_[&s - slot_];
  }
  Status next(const Row*& row) override {
    if (id_ > rows_) {
      row = nullptr;
      return Status::ok();
    }
    maker_.fill(id_, apply_changes_ && changed_row(id_) ? 1 : 0, slot_);
    ++id_;
    row = &row_;
    return Status::ok();
  }

 private:
  int64_t rows_;
  int64_t id_ = 1;
  std::vector<size_t> projection_;
  bool apply_changes_;
  RowMaker maker_;
  Row row_;
  Value* slot_[7] = {};
  Value scratch_[7];
};

class GeneratedSource : public Target {
 public:
  GeneratedSource(int64_t rows, bool apply_changes, bool upper = false)
      : rows_(rows), changes_(apply_changes), upper_(upper) {}
  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& req) override {
    return std::unique_ptr<RowReader>(new GeneratedReader(rows_, req.columns, changes_, upper_));
  }
  Result<int64_t> estimate_rows() override { return rows_; }
  Status apply(const ChangeBatch& b) override {
    applied += static_cast<int64_t>(b.items.size());
    return Status::ok();
  }
  int64_t applied = 0;

 private:
  int64_t rows_;
  bool changes_;
  bool upper_;
};

// The baseline of the previous sync: hashes of the unchanged rows, in the mapped layout.
class GeneratedBaselineReader : public BaselineReader {
 public:
  GeneratedBaselineReader(int64_t rows, const std::vector<size_t>& layout, bool upper)
      : rows_(rows) {
    maker_.upper = upper;
    row_.resize(layout.size());
    for (size_t i = 0; i < layout.size(); ++i) slot_[layout[i]] = &row_[i];
    entry_.source_fields.resize(layout.size());
  }
  Status next(const BaselineEntry*& e) override {
    if (id_ > rows_) {
      e = nullptr;
      return Status::ok();
    }
    maker_.fill(id_, 0, slot_);
    entry_.key.assign(1, Value::integer(id_));
    for (size_t i = 0; i < row_.size(); ++i) entry_.source_fields[i] = hash_value(row_[i]);
    entry_.target_fields = entry_.source_fields;
    entry_.source_hash = entry_.target_hash = hash_row(row_, row_.size());
    ++id_;
    e = &entry_;
    return Status::ok();
  }

 private:
  int64_t rows_;
  int64_t id_ = 1;
  RowMaker maker_;
  Row row_;
  Value* slot_[7] = {};
  BaselineEntry entry_;
};

class GeneratedBaseline : public Baseline {
 public:
  GeneratedBaseline(int64_t rows, std::vector<size_t> layout, bool upper)
      : rows_(rows), layout_(std::move(layout)), upper_(upper) {}
  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange&) override {
    return std::unique_ptr<BaselineReader>(new GeneratedBaselineReader(rows_, layout_, upper_));
  }
  Status apply(const std::vector<PlannedChange>& c) override {
    written += static_cast<int64_t>(c.size());
    return Status::ok();
  }
  int64_t written = 0;

 private:
  int64_t rows_;
  std::vector<size_t> layout_;
  bool upper_;
};

class NullStage : public Stage {
 public:
  Status put_changes(const std::vector<PlannedChange>&) override { return Status::ok(); }
  Status put_conflicts(const std::vector<ConflictRecord>&) override { return Status::ok(); }
  Result<int64_t> pending_conflicts() override { return int64_t{0}; }
  Status read_changes(size_t, const std::function<Status(std::vector<PlannedChange>&)>&) override {
    return Status::ok();
  }
  Status clear() override { return Status::ok(); }
};

// CPU time of this thread: the work of one core, unaffected by other processes on the machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Generation alone: the three generated streams read to the end, no engine work.
double generation_seconds(int64_t rows, const FieldMapper& m, bool upper) {
  double t0 = cpu_seconds();
  GeneratedSource src(rows, true), tgt(rows, false, upper);
  GeneratedBaseline base(rows, m.mapped_target_columns(), upper);
  auto s = src.scan({m.source_projection(), 1, {}, 1000});
  auto t = tgt.scan({m.target_projection(), 1, {}, 1000});
  auto b = base.scan({});
  const Row* r = nullptr;
  const BaselineEntry* e = nullptr;
  uint64_t sink = 0;
  do {
    (void)(*s)->next(r);
    sink += r ? r->size() : 0;
  } while (r);
  do {
    (void)(*t)->next(r);
    sink += r ? r->size() : 0;
  } while (r);
  do {
    (void)(*b)->next(e);
    sink += e ? e->key.size() : 0;
  } while (e);
  if (sink == 42) std::puts("");
  return cpu_seconds() - t0;
}

int run_size(int64_t rows, bool expression) {
  Schema source = cms_schema(false), target = cms_schema(true);
  const char* mapping =
      expression
          ? R"({"post_title": "{{ m.title | upper }}", "post_content": "@body", "price": "price",
               "post_status": "status", "modified": "updated_at", "meta": "meta"})"
          : R"({"post_title": "title", "post_content": "@body", "price": "price",
               "post_status": "status", "modified": "updated_at", "meta": "meta"})";
  Result<FieldMapper> m = FieldMapper::compile(*parse_mapping_json(mapping), source, target);
  if (!m.is_ok()) {
    std::fprintf(stderr, "mapping: %s\n", m.status().to_string().c_str());
    return 1;
  }
  double gen = generation_seconds(rows, *m, expression);

  GeneratedSource src(rows, true), tgt(rows, false, expression);
  GeneratedBaseline base(rows, m->mapped_target_columns(), expression);
  NullStage stage;
  SyncPolicy policy;
  auto x = SyncExecutor::create(*m, policy, {&src, nullptr, &tgt, &base, &stage, nullptr});
  if (!x.is_ok()) return 1;
  JobOptions opt;
  opt.batch_size = 1000;
  auto wall0 = std::chrono::steady_clock::now();
  double t0 = cpu_seconds();
  JobOutcome o = x->run(opt);
  double total = cpu_seconds() - t0;
  double wall = seconds_since(wall0);
  if (o.state != JobState::kSucceeded) {
    std::fprintf(stderr, "run failed: %s\n", o.error.to_string().c_str());
    return 1;
  }
  // The plan must be exactly right, or the figures mean nothing: 1% updates, the rest unchanged.
  int64_t expected_updates = rows / 100;
  bool ok = o.progress.scanned == rows && o.progress.errors == 0 &&
            o.progress.updated == expected_updates &&
            o.progress.unchanged == rows - expected_updates;
  double engine = total - gen;
  std::printf(
      "%-10s rows=%-8lld updated=%-7lld cpu=%.3fs wall=%.3fs (%.0f rows/s, %.0f ns/row)  "
      "engine-only=%.3fs (%.0f rows/s, %.0f ns/row)  peak_rss=%.1f MiB%s\n",
      expression ? "expr-map" : "plain-map", static_cast<long long>(rows),
      static_cast<long long>(o.progress.updated), total, wall, rows / total, total * 1e9 / rows,
      engine, rows / engine, engine * 1e9 / rows, peak_rss_kib() / 1024.0,
      ok ? "" : "  (UNEXPECTED COUNTS)");
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {1000000, 5000000};
  bool expression = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      sizes.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ","))
        sizes.push_back(std::atoll(p));
    } else if (std::strcmp(argv[i], "--expression") == 0) {
      expression = true;
    } else {
      std::fprintf(stderr, "usage: %s [--rows N[,N...]] [--expression]\n", argv[0]);
      return 2;
    }
  }
  std::printf(
      "bench/engine: map + hash + three-way diff + plan, 7-column CMS rows, 1%% changed, one "
      "core\n");
  std::printf(
      "(cpu = thread CPU time of the run, including generating the three streams; engine-only\n"
      " subtracts the generation time measured alone; rows/s are per core of CPU time)\n");
  std::fflush(stdout);
  int status = 0;
  for (int64_t rows : sizes) {
    pid_t pid = fork();
    if (pid == 0) _exit(run_size(rows, expression));
    int ws = 0;
    waitpid(pid, &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) status = 1;
  }
  return status;
}
