#include "adapters/postgres/pg_state.hpp"

#include <map>

#include "adapters/postgres/pg_values.hpp"
#include "engine/row_codec.hpp"

namespace dbsync::pg {

namespace {

// One keyset page, planned to walk the index (see StateSql::prefer_index).
Result<PgResult> index_page(PgConnection& conn, const StateSql& sql, const std::string& query,
                            const std::vector<PgParam>& params) {
  DBSYNC_RETURN_IF_ERROR(conn.exec(sql.prefer_index));
  Result<PgResult> r = conn.query(query, params, /*binary_result=*/true);
  Status st = r.is_ok() ? conn.exec("COMMIT") : r.status();
  if (!st.is_ok()) {
    conn.rollback_quietly();
    return st;
  }
  return r;
}

// Keyset pages over the encoded keys: each page starts after the last key read, so rows the
// executor writes behind the reader (keys already passed) never disturb the order.
class StateReader : public BaselineReader {
 public:
  StateReader(PgConnection& conn, const StateSql& sql, std::string sync_name,
              std::optional<std::string> after, std::optional<std::string> upto, size_t page)
      : conn_(conn),
        sql_(sql),
        sync_name_(std::move(sync_name)),
        after_(std::move(after)),
        upto_(std::move(upto)),
        page_(page) {}

  Status next(const BaselineEntry*& entry) override {
    entry = nullptr;
    if (pos_ >= rows_.rows()) {
      if (done_) return Status::ok();
      std::vector<PgParam> params{PgParam::text(sync_name_), PgParam::text(std::to_string(page_))};
      if (after_) params.push_back(PgParam::binary(*after_));
      if (upto_) params.push_back(PgParam::binary(*upto_));
      Result<PgResult> r =
          index_page(conn_, sql_, sql_.state_page[after_ ? 1 : 0][upto_ ? 1 : 0], params);
      if (!r.is_ok()) return r.status().with_context("reading the baseline");
      rows_ = std::move(r).value();
      pos_ = 0;
      if (static_cast<size_t>(rows_.rows()) < page_) done_ = true;
      if (rows_.rows() == 0) return Status::ok();
    }
    std::string_view key_bytes = rows_.get(pos_, 0);
    after_ = std::string(key_bytes);
    Result<Row> key = decode_sortable_key(key_bytes);
    if (!key.is_ok()) return key.status().with_context("baseline key");
    Result<BaselineEntry> e = decode_baseline(rows_.get(pos_, 1), std::move(key).value());
    if (!e.is_ok()) return e.status().with_context("baseline entry");
    entry_ = std::move(e).value();
    ++pos_;
    entry = &entry_;
    return Status::ok();
  }

 private:
  PgConnection& conn_;
  const StateSql& sql_;
  std::string sync_name_;
  std::optional<std::string> after_, upto_;
  size_t page_;
  PgResult rows_;
  int pos_ = 0;
  bool done_ = false;
  BaselineEntry entry_;
};

Status in_transaction(PgConnection& conn, const std::function<Status()>& body) {
  DBSYNC_RETURN_IF_ERROR(conn.exec("BEGIN"));
  Status st = body();
  if (st.is_ok()) st = conn.exec("COMMIT");
  if (!st.is_ok()) conn.rollback_quietly();
  return st;
}

}  // namespace

Result<std::unique_ptr<PgBaseline>> PgBaseline::open(PgConnection& conn, const std::string& schema,
                                                     std::string sync_name, size_t page_size) {
  std::unique_ptr<PgBaseline> b(
      new PgBaseline(conn, schema, std::move(sync_name), page_size ? page_size : 1000));
  Status st = conn.exec(b->sql_.create_state);
  if (!st.is_ok()) return st.with_context("creating the baseline table in schema " + schema);
  return b;
}

Result<std::unique_ptr<BaselineReader>> PgBaseline::scan(const KeyRange& range) {
  std::optional<std::string> after, upto;
  if (range.after) after = encode_sortable_key(*range.after);
  if (range.upto) upto = encode_sortable_key(*range.upto);
  return std::unique_ptr<BaselineReader>(
      new StateReader(conn_, sql_, sync_name_, std::move(after), std::move(upto), page_size_));
}

Status PgBaseline::apply(const std::vector<PlannedChange>& changes) {
  // The last operation per key wins; one upsert and one delete statement per batch.
  std::map<std::string, const PlannedChange*> last;
  for (const PlannedChange& c : changes)
    if (c.baseline_op != BaselineOp::kKeep) last[encode_sortable_key(c.key)] = &c;
  if (last.empty()) return Status::ok();
  std::vector<std::string> set_keys, set_states, erase_keys;
  for (auto& [key, c] : last) {
    if (c->baseline_op == BaselineOp::kSet) {
      set_keys.push_back(key);
      set_states.push_back(encode_baseline(c->baseline));
    } else {
      erase_keys.push_back(key);
    }
  }
  Status st = in_transaction(conn_, [&]() -> Status {
    if (!set_keys.empty()) {
      DBSYNC_RETURN_IF_ERROR(
          conn_
              .query(sql_.state_upsert,
                     {PgParam::text(sync_name_), PgParam::binary(encode_bytea_array(set_keys)),
                      PgParam::binary(encode_bytea_array(set_states))})
              .status());
    }
    if (!erase_keys.empty()) {
      DBSYNC_RETURN_IF_ERROR(
          conn_
              .query(sql_.state_delete,
                     {PgParam::text(sync_name_), PgParam::binary(encode_bytea_array(erase_keys))})
              .status());
    }
    return Status::ok();
  });
  return st.is_ok() ? st : st.with_context("baseline of sync " + sync_name_);
}

Status PgBaseline::clear() {
  return conn_.query(sql_.state_clear, {PgParam::text(sync_name_)}).status();
}

Result<std::unique_ptr<PgStage>> PgStage::open(PgConnection& conn, const std::string& schema,
                                               std::string job) {
  std::unique_ptr<PgStage> s(new PgStage(conn, schema, std::move(job)));
  Status st = conn.exec(s->sql_.create_stage);
  if (!st.is_ok()) return st.with_context("creating the stage tables in schema " + schema);
  return s;
}

Status PgStage::put_changes(const std::vector<PlannedChange>& changes) {
  if (changes.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(changes.size());
  for (const PlannedChange& c : changes) encoded.push_back(encode_change(c));
  return conn_
      .query(sql_.stage_put, {PgParam::text(job_), PgParam::binary(encode_bytea_array(encoded))})
      .status();
}

Status PgStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (conflicts.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(conflicts.size());
  for (const ConflictRecord& c : conflicts) encoded.push_back(encode_conflict(c));
  return conn_
      .query(sql_.conflict_put, {PgParam::text(job_), PgParam::binary(encode_bytea_array(encoded))})
      .status();
}

Result<int64_t> PgStage::pending_conflicts() {
  DBSYNC_ASSIGN_OR_RETURN(PgResult r, conn_.query(sql_.conflict_pending, {PgParam::text(job_)}));
  return static_cast<int64_t>(std::strtoll(std::string(r.get(0, 0)).c_str(), nullptr, 10));
}

Status PgStage::read_changes(size_t batch_size,
                             const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (batch_size == 0) batch_size = 1000;
  std::string after = "0";
  for (;;) {
    // Binary results: bytea as raw bytes (seq is sent as text, so it arrives as its digits).
    DBSYNC_ASSIGN_OR_RETURN(PgResult r, index_page(conn_, sql_, sql_.stage_page,
                                                   {PgParam::text(job_), PgParam::text(after),
                                                    PgParam::text(std::to_string(batch_size))}));
    if (r.rows() == 0) return Status::ok();
    std::vector<PlannedChange> batch;
    batch.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      Result<PlannedChange> c = decode_change(r.get(i, 1));
      if (!c.is_ok()) return c.status().with_context("staged change of job " + job_);
      batch.push_back(std::move(c).value());
    }
    after = std::string(r.get(r.rows() - 1, 0));
    DBSYNC_RETURN_IF_ERROR(fn(batch));
    // Applied: the batch leaves the stage, so a commit cut off here resumes after it.
    DBSYNC_RETURN_IF_ERROR(
        conn_.query(sql_.stage_ack, {PgParam::text(job_), PgParam::text(after)}).status());
    if (static_cast<size_t>(r.rows()) < batch_size) return Status::ok();
  }
}

Status PgStage::clear() {
  return in_transaction(conn_, [&]() -> Status {
    DBSYNC_RETURN_IF_ERROR(conn_.query(sql_.stage_clear, {PgParam::text(job_)}).status());
    return conn_.query(sql_.conflict_clear, {PgParam::text(job_)}).status();
  });
}

Result<std::vector<PgStage::StoredConflict>> PgStage::list_conflicts() {
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult r, conn_.query(sql_.conflict_list, {PgParam::text(job_)}, /*binary_result=*/true));
  std::vector<StoredConflict> out;
  for (int i = 0; i < r.rows(); ++i) {
    Result<ConflictRecord> c = decode_conflict(r.get(i, 2));
    if (!c.is_ok()) return c.status().with_context("stored conflict of job " + job_);
    out.push_back({std::strtoll(std::string(r.get(i, 0)).c_str(), nullptr, 10),
                   std::string(r.get(i, 1)), std::move(c).value()});
  }
  return out;
}

Status PgStage::set_conflict_status(int64_t id, const std::string& status) {
  return conn_
      .query(sql_.conflict_set_status,
             {PgParam::text(job_), PgParam::text(std::to_string(id)), PgParam::text(status)})
      .status();
}

}  // namespace dbsync::pg
