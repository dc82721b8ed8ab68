// In-memory implementations of the engine's endpoint interfaces, for the engine's own tests only.
#pragma once

#include <algorithm>
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
  explicit VectorReader(std::vector<Row> rows) : rows_(std::move(rows)) {}
  Status next(const Row*& row) override {
    row = pos_ < rows_.size() ? &rows_[pos_++] : nullptr;
    return Status::ok();
  }

 private:
  std::vector<Row> rows_;
  size_t pos_ = 0;
};

inline bool in_range(const Row& key, const KeyRange& r) {
  if (r.after && compare_keys(key, *r.after) <= 0) return false;
  if (r.upto && compare_keys(key, *r.upto) > 0) return false;
  return true;
}

// A table: full rows in schema order.
class MemoryTable : public Target {
 public:
  explicit MemoryTable(Schema schema) : schema_(std::move(schema)) {}

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
    std::vector<Row> out;
    for (const Row& r : rows_) {
      Row p;
      for (size_t c : req.columns) p.push_back(r[c]);
      Row key(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(req.key_count));
      if (in_range(key, req.range)) out.push_back(std::move(p));
    }
    std::sort(out.begin(), out.end(), [&](const Row& a, const Row& b) {
      for (size_t i = 0; i < req.key_count; ++i) {
        int c = compare_values(a[i], b[i]);
        if (c != 0) return c < 0;
      }
      return false;
    });
    return std::unique_ptr<RowReader>(new VectorReader(std::move(out)));
  }
  Result<int64_t> estimate_rows() override { return static_cast<int64_t>(rows_.size()); }

  Status apply(const ChangeBatch& batch) override {
    ++apply_calls;
    if (fail_apply_after >= 0 && apply_calls > fail_apply_after)
      return error(ErrorCode::kUnavailable, "target went away");
    for (const ChangeBatch::Item& it : batch.items) {
      Row* existing = find(it.key, batch.key_columns);
      switch (it.op) {
        case RowOp::kInsert: {
          if (existing) {  // a re-applied insert updates the row (ChangeBatch's contract)
            for (size_t i = 0; i < batch.columns.size(); ++i)
              (*existing)[batch.columns[i]] = it.values[i];
            ++reapplied_inserts;
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
          if (!existing) return error(ErrorCode::kNotFound, "no row " + key_to_string(it.key));
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

  int scans = 0, apply_calls = 0, inserts = 0, updates = 0, deletes = 0, soft_deletes = 0;
  int reapplied_inserts = 0;  // inserts of a key that already existed
  int fail_apply_after = -1;
  bool fail_scan = false;

 private:
  Schema schema_;
  std::vector<Row> rows_;
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
