// In-memory implementations of the engine's endpoint interfaces, for the engine's own tests only.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/endpoints.hpp"
#include "engine/schema.hpp"
#include "engine/types.hpp"

namespace dbsync::testing {

inline TypeSpec pg_type(const std::string& name) {
  Result<TypeSpec> t = parse_type(name, Dialect::kPostgres);
  return t.is_ok() ? *t : TypeSpec{};
}

// Schema from "name type" pairs; the first `key_count` columns are the primary key.
inline Schema make_schema(const std::vector<std::pair<std::string, std::string>>& cols,
                          size_t key_count = 1) {
  Schema s;
  for (const auto& [name, type] : cols) s.columns.push_back({name, pg_type(type), true});
  for (size_t i = 0; i < key_count; ++i) s.key.push_back(i);
  return s;
}

struct KeyLess {
  bool operator()(const Row& a, const Row& b) const { return compare_keys(a, b) < 0; }
};

class VectorReader : public RowReader {
 public:
  using Lookup = std::function<Status(const std::vector<Row>&,
                                      const std::function<Status(const Row&, uint64_t)>&)>;
  explicit VectorReader(std::vector<Row> rows, std::vector<uint64_t> fps = {}, bool light = false,
                        Lookup lookup = nullptr)
      : rows_(std::move(rows)), fps_(std::move(fps)), light_(light), lookup_(std::move(lookup)) {}
  Status next(const Row*& row) override {
    fp_ = pos_ < fps_.size() ? fps_[pos_] : 0;
    row = pos_ < rows_.size() ? &rows_[pos_++] : nullptr;
    return Status::ok();
  }
  uint64_t fingerprint() const override { return fp_; }
  bool light() const override { return light_; }
  Status lookup(const std::vector<Row>& keys,
                const std::function<Status(const Row&, uint64_t)>& fn) override {
    if (!lookup_) return RowReader::lookup(keys, fn);
    return lookup_(keys, fn);
  }

 private:
  std::vector<Row> rows_;
  std::vector<uint64_t> fps_;
  bool light_ = false;
  Lookup lookup_;
  size_t pos_ = 0;
  uint64_t fp_ = 0;
};

inline bool in_range(const Row& key, const KeyRange& r) {
  if (r.after && compare_keys(key, *r.after) <= 0) return false;
  if (r.upto && compare_keys(key, *r.upto) > 0) return false;
  return true;
}

// A table: full rows in schema order.
//
// With `fingerprints` (the default when DBSYNC_TEST_FINGERPRINTS is set, so that the executor's
// tests run both ways), rows carry fingerprints as PostgreSQL's xmin behaves: a row written by
// apply() carries that apply's stamp (written_fingerprint) until its values change; any other
// row a hash of its values. Light scans are then honoured, and lookups counted.
class MemoryTable : public Target {
 public:
  explicit MemoryTable(Schema schema)
      : fingerprints(std::getenv("DBSYNC_TEST_FINGERPRINTS") != nullptr),
        schema_(std::move(schema)) {}

  bool fingerprints = false;
  int lookups = 0;            // lookup calls
  size_t looked_up_keys = 0;  // keys asked for in them

  uint64_t fingerprint_of(const Row& row) const {
    const uint64_t content = (hash_row(row, row.size()) >> 2) | 1;
    auto it = stamps_.find(key_of(row));
    if (it != stamps_.end() && it->second.first == content) return it->second.second;
    return content;
  }
  uint64_t written_fingerprint() const override { return fingerprints ? last_stamp_ : 0; }

  const Schema& schema() const { return schema_; }
  std::vector<Row>& rows() { return rows_; }

  void put(Row row) {
    row.resize(schema_.columns.size());
    rows_.push_back(std::move(row));
  }
  Row* find(const Row& key, const std::vector<size_t>& key_cols) {
    for (Row& r : rows_) {
      bool same = true;
      for (size_t i = 0; i < key_cols.size() && same; ++i) same = r[key_cols[i]] == key[i];
      if (same) return &r;
    }
    return nullptr;
  }
  Row* find(const Row& key) { return find(key, schema_.key); }

  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& req) override {
    ++scans;
    if (fail_scan) return error(ErrorCode::kUnavailable, "table is down");
    std::vector<std::pair<Row, uint64_t>> out;
    for (const Row& r : rows_) {
      Row p;
      for (size_t c : req.columns) p.push_back(r[c]);
      Row key(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(req.key_count));
      if (in_range(key, req.range)) out.emplace_back(std::move(p), fingerprint_of(r));
    }
    std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
      for (size_t i = 0; i < req.key_count; ++i) {
        int c = compare_values(a.first[i], b.first[i]);
        if (c != 0) return c < 0;
      }
      return false;
    });
    const bool light = fingerprints && req.light;
    std::vector<Row> rows;
    std::vector<uint64_t> fps;
    for (auto& [row, fp] : out) {
      if (light) row.resize(req.key_count);
      rows.push_back(std::move(row));
      if (fingerprints) fps.push_back(fp);
    }
    VectorReader::Lookup lookup;
    if (light) {
      lookup = [this, req](const std::vector<Row>& keys,
                           const std::function<Status(const Row&, uint64_t)>& fn) -> Status {
        ++lookups;
        looked_up_keys += keys.size();
        std::vector<size_t> key_cols(
            req.columns.begin(), req.columns.begin() + static_cast<std::ptrdiff_t>(req.key_count));
        for (const Row& key : keys) {
          const Row* r = find(key, key_cols);
          if (!r) continue;
          Row p;
          for (size_t c : req.columns) p.push_back((*r)[c]);
          DBSYNC_RETURN_IF_ERROR(fn(p, fingerprint_of(*r)));
        }
        return Status::ok();
      };
    }
    return std::unique_ptr<RowReader>(
        new VectorReader(std::move(rows), std::move(fps), light, std::move(lookup)));
  }
  Result<int64_t> estimate_rows() override { return static_cast<int64_t>(rows_.size()); }

  Status apply(const ChangeBatch& batch) override {
    ++apply_calls;
    if (fail_apply_after >= 0 && apply_calls > fail_apply_after)
      return error(ErrorCode::kUnavailable, "target went away");
    last_stamp_ = (uint64_t{1} << 63) | static_cast<uint64_t>(apply_calls);
    // Every row the batch writes carries its stamp (set once the batch is applied).
    struct Stamp {
      Row key;
    };
    std::vector<Stamp> written;
    for (const ChangeBatch::Item& it : batch.items)
      if (it.op == RowOp::kInsert || it.op == RowOp::kUpdate || it.op == RowOp::kSoftDelete)
        written.push_back({it.key});
    struct StampOnExit {
      MemoryTable& t;
      std::vector<Stamp>& written;
      const std::vector<size_t>& cols;
      ~StampOnExit() {
        for (const Stamp& w : written)
          if (const Row* r = t.find(w.key, cols))
            t.stamps_[w.key] = {(hash_row(*r, r->size()) >> 2) | 1, t.last_stamp_};
      }
    } stamp_on_exit{*this, written, batch.key_columns};
    skipped_.clear();
    if (before_apply) before_apply(*this);
    for (size_t n = 0; n < batch.items.size(); ++n) {
      const ChangeBatch::Item& it = batch.items[n];
      Row* existing = find(it.key, batch.key_columns);
      // The write contract (ChangeBatch): only the row version the job read is written.
      const bool writes_existing =
          it.op == RowOp::kUpdate || it.op == RowOp::kDelete || it.op == RowOp::kSoftDelete;
      if (writes_existing && existing && !as_read(*existing, it, batch.expect_columns)) {
        skipped_.push_back(n);
        continue;
      }
      if ((it.op == RowOp::kUpdate || it.op == RowOp::kSoftDelete) && !existing) {
        skipped_.push_back(n);  // deleted since the read
        continue;
      }
      switch (it.op) {
        case RowOp::kInsert: {
          if (existing) {
            // The same values (a batch applied again): written. Others: a row that appeared
            // since the read, left alone.
            bool same = true;
            for (size_t i = 0; i < batch.columns.size() && same; ++i)
              same = compare_values((*existing)[batch.columns[i]], it.values[i]) == 0;
            if (same)
              ++reapplied_inserts;
            else
              skipped_.push_back(n);
            break;
          }
          Row r(schema_.columns.size());
          for (size_t i = 0; i < batch.key_columns.size(); ++i) r[batch.key_columns[i]] = it.key[i];
          for (size_t i = 0; i < batch.columns.size(); ++i) r[batch.columns[i]] = it.values[i];
          rows_.push_back(std::move(r));
          ++inserts;
          break;
        }
        case RowOp::kUpdate:
          for (size_t i = 0; i < batch.columns.size(); ++i)
            (*existing)[batch.columns[i]] = it.values[i];
          if (it.restore && batch.soft_delete_column >= 0)
            (*existing)[static_cast<size_t>(batch.soft_delete_column)] = batch.soft_restore_value;
          ++updates;
          break;
        case RowOp::kDelete:
          if (existing) {
            rows_.erase(rows_.begin() + (existing - rows_.data()));
            ++deletes;
          }
          break;
        case RowOp::kSoftDelete:
          if (existing)
            (*existing)[static_cast<size_t>(batch.soft_delete_column)] = batch.soft_delete_value;
          ++soft_deletes;
          break;
        case RowOp::kNone:
          break;
      }
    }
    return Status::ok();
  }

  // Called at the start of every apply: a test edits the table here to play a user whose write
  // lands between the job's read and its write.
  std::function<void(MemoryTable&)> before_apply;

  int scans = 0, apply_calls = 0, inserts = 0, updates = 0, deletes = 0, soft_deletes = 0;
  int reapplied_inserts = 0;  // inserts of a key that already existed
  int fail_apply_after = -1;
  bool fail_scan = false;

  // Whether a row is the version a change's item read (ChangeBatch::Item::expect_fp/expect).
  bool as_read(const Row& row, const ChangeBatch::Item& it,
               const std::vector<size_t>& expect_columns) const {
    if (it.expect_fp != 0 && fingerprints) return fingerprint_of(row) == it.expect_fp;
    if (it.expect.empty()) return true;  // unknown: unconditional
    for (size_t i = 0; i < expect_columns.size() && i < it.expect.size(); ++i)
      if (compare_values(row[expect_columns[i]], it.expect[i]) != 0) return false;
    return true;
  }

 private:
  Row key_of(const Row& row) const {
    Row key;
    for (size_t c : schema_.key) key.push_back(row[c]);
    return key;
  }

  Schema schema_;
  std::vector<Row> rows_;
  std::map<Row, std::pair<uint64_t, uint64_t>, KeyLess> stamps_;  // key -> (content, stamp)
  uint64_t last_stamp_ = 0;
};

class MapBaselineReader : public BaselineReader {
 public:
  explicit MapBaselineReader(std::vector<BaselineEntry> e) : entries_(std::move(e)) {}
  Status next(const BaselineEntry*& entry) override {
    entry = pos_ < entries_.size() ? &entries_[pos_++] : nullptr;
    return Status::ok();
  }

 private:
  std::vector<BaselineEntry> entries_;
  size_t pos_ = 0;
};

class MemoryBaseline : public Baseline {
 public:
  std::map<Row, BaselineEntry, KeyLess> entries;

  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) override {
    std::vector<BaselineEntry> out;
    for (const auto& [k, e] : entries)
      if (in_range(k, range)) out.push_back(e);
    return std::unique_ptr<BaselineReader>(new MapBaselineReader(std::move(out)));
  }
  Status apply(const std::vector<PlannedChange>& changes) override {
    for (const PlannedChange& c : changes) {
      if (c.baseline_op == BaselineOp::kSet) entries[c.key] = c.baseline;
      if (c.baseline_op == BaselineOp::kErase) entries.erase(c.key);
    }
    return Status::ok();
  }
};

class MemoryStage : public Stage {
 public:
  std::vector<PlannedChange> changes;
  std::vector<ConflictRecord> conflicts;
  std::vector<bool> decided;

  Status put_changes(const std::vector<PlannedChange>& c) override {
    changes.insert(changes.end(), c.begin(), c.end());
    return Status::ok();
  }
  Status put_conflicts(const std::vector<ConflictRecord>& c) override {
    conflicts.insert(conflicts.end(), c.begin(), c.end());
    decided.resize(conflicts.size(), false);
    return Status::ok();
  }
  Result<int64_t> pending_conflicts() override {
    return static_cast<int64_t>(std::count(decided.begin(), decided.end(), false));
  }
  Status read_changes(size_t batch_size,
                      const std::function<Status(std::vector<PlannedChange>&)>& fn) override {
    while (!changes.empty()) {
      size_t n = std::min(changes.size(), batch_size);
      std::vector<PlannedChange> b(changes.begin(),
                                   changes.begin() + static_cast<std::ptrdiff_t>(n));
      DBSYNC_RETURN_IF_ERROR(fn(b));
      changes.erase(changes.begin(), changes.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return Status::ok();
  }
  Status clear() override {
    changes.clear();
    conflicts.clear();
    decided.clear();
    return Status::ok();
  }
};

}  // namespace dbsync::testing
