#include "daemon/catalog_baseline.hpp"

#include <optional>
#include <utility>

#include "adapters/postgres/pg_values.hpp"
#include "common/catalog_sql.hpp"
#include "engine/row_codec.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

class CatalogBaselineReader final : public BaselineReader {
 public:
  CatalogBaselineReader(JobTransaction& txn, std::string sync_id, std::optional<std::string> after,
                        std::optional<std::string> upto, size_t page_rows)
      : txn_(txn),
        sync_id_(std::move(sync_id)),
        after_(std::move(after)),
        upto_(std::move(upto)),
        page_rows_(page_rows) {}

  Status next(const BaselineEntry*& entry) override {
    entry = nullptr;
    if (pos_ >= page_.rows()) {
      if (done_) return Status::ok();
      DBSYNC_RETURN_IF_ERROR(fetch());
      if (page_.rows() == 0) return Status::ok();
    }
    const int r = pos_++;
    if (page_.is_null(r, 0) || page_.is_null(r, 1))
      return error(ErrorCode::kInternal, "dbsync.sync_state: a NULL key or state");
    after_ = std::string(page_.get(r, 0));
    Result<Row> key = decode_sortable_key(page_.get(r, 0));
    if (!key.is_ok()) return key.status().with_context("dbsync.sync_state key");
    Result<BaselineEntry> decoded = decode_baseline(page_.get(r, 1), std::move(key).value());
    if (!decoded.is_ok()) return decoded.status().with_context("dbsync.sync_state state");
    current_ = std::move(decoded).value();
    entry = &current_;
    return Status::ok();
  }

 private:
  Status fetch() {
    std::vector<PgParam> params{PgParam::text(sync_id_)};
    std::string sql = "SELECT key, state FROM dbsync.sync_state WHERE sync_id = $1::bigint";
    if (after_) {
      params.push_back(PgParam::binary(*after_));
      sql += " AND key > $" + std::to_string(params.size()) + "::bytea";
    }
    if (upto_) {
      params.push_back(PgParam::binary(*upto_));
      sql += " AND key <= $" + std::to_string(params.size()) + "::bytea";
    }
    // Both primary key columns: the planner walks the index and stops after a page.
    sql += " ORDER BY sync_id, key LIMIT " + std::to_string(page_rows_);
    Result<pg::PgResult> r = txn_.query(sql, params, /*binary_result=*/true);
    if (!r.is_ok()) return r.status().with_context("reading the baseline");
    page_ = std::move(r).value();
    pos_ = 0;
    if (static_cast<size_t>(page_.rows()) < page_rows_) done_ = true;
    return Status::ok();
  }

  JobTransaction& txn_;
  std::string sync_id_;
  std::optional<std::string> after_, upto_;  // raw encoded keys
  size_t page_rows_;
  pg::PgResult page_;
  int pos_ = 0;
  bool done_ = false;
  BaselineEntry current_;
};

}  // namespace

CatalogBaseline::CatalogBaseline(JobTransaction& txn, std::string sync_id, size_t page_rows)
    : txn_(txn), sync_id_(std::move(sync_id)), page_rows_(page_rows ? page_rows : 1000) {}

Result<std::unique_ptr<BaselineReader>> CatalogBaseline::scan(const KeyRange& range) {
  std::optional<std::string> after, upto;
  if (range.after) after = encode_sortable_key(*range.after);
  if (range.upto) upto = encode_sortable_key(*range.upto);
  return std::unique_ptr<BaselineReader>(
      new CatalogBaselineReader(txn_, sync_id_, std::move(after), std::move(upto), page_rows_));
}

void CatalogBaseline::audit_job(std::string job_id, const FieldMapper& mapper) {
  audit_job_id_ = std::move(job_id);
  audit_.emplace(mapper);
}

Status CatalogBaseline::write_audit(const std::vector<PlannedChange>& changes) {
  if (!audit_) return Status::ok();
  if (!audit_enabled_) {
    Result<pg::PgResult> r = txn_.query(catalog_sql::kAuditEnabled, {PgParam::text(sync_id_)});
    if (!r.is_ok()) return r.status().with_context("reading the sync's audit option");
    audit_enabled_ = r->rows() > 0 && !r->is_null(0, 0) && r->get(0, 0) == "t";
  }
  if (!*audit_enabled_) return Status::ok();
  const AuditBatch b = audit_->build(changes);
  if (b.empty()) return Status::ok();
  for (const auto& [name, side] :
       {std::pair{"target", &b.target}, std::pair{"source", &b.source}}) {
    if (side->count == 0) continue;
    DBSYNC_RETURN_IF_ERROR(
        txn_.query(catalog_sql::kAuditInsert,
                   {PgParam::text(audit_job_id_), PgParam::text(name),
                    PgParam::text(std::to_string(static_cast<int64_t>(side->digest))),
                    PgParam::text(side->columns), PgParam::text(side->keys),
                    PgParam::text(side->operations), PgParam::text(side->fields)})
            .status()
            .with_context("writing the audit"));
  }
  return Status::ok();
}

Status CatalogBaseline::apply(const std::vector<PlannedChange>& changes) {
  DBSYNC_RETURN_IF_ERROR(write_audit(changes));
  // The last operation per key wins; keys found without a baseline entry are plain inserts (no
  // ON CONFLICT for the common first-sync case): the baseline is written in the job's
  // transaction together with its checkpoint, so no entry of this job can exist yet.
  BaselineWrites w = baseline_writes(changes);
  if (w.empty()) return Status::ok();
  const auto& [new_keys, new_states, set_keys, set_states, erase_keys] = w;
  const PgParam sync = PgParam::text(sync_id_);
  if (!new_keys.empty()) {
    DBSYNC_RETURN_IF_ERROR(
        txn_.query("INSERT INTO dbsync.sync_state (sync_id, key, state) "
                   "SELECT $1::bigint, u.k, u.s FROM unnest($2::bytea[], $3::bytea[]) AS u(k, s)",
                   {sync, PgParam::binary(pg::encode_bytea_array(new_keys)),
                    PgParam::binary(pg::encode_bytea_array(new_states))})
            .status()
            .with_context("updating the baseline"));
  }
  if (!set_keys.empty()) {
    DBSYNC_RETURN_IF_ERROR(
        txn_.query("INSERT INTO dbsync.sync_state (sync_id, key, state) "
                   "SELECT $1::bigint, u.k, u.s FROM unnest($2::bytea[], $3::bytea[]) AS u(k, s) "
                   "ON CONFLICT (sync_id, key) DO UPDATE SET state = EXCLUDED.state",
                   {sync, PgParam::binary(pg::encode_bytea_array(set_keys)),
                    PgParam::binary(pg::encode_bytea_array(set_states))})
            .status()
            .with_context("updating the baseline"));
  }
  if (!erase_keys.empty()) {
    DBSYNC_RETURN_IF_ERROR(
        txn_.query("DELETE FROM dbsync.sync_state AS b USING unnest($2::bytea[]) AS u(k) "
                   "WHERE b.sync_id = $1::bigint AND b.key = u.k",
                   {sync, PgParam::binary(pg::encode_bytea_array(erase_keys))})
            .status()
            .with_context("updating the baseline"));
  }
  return Status::ok();
}

}  // namespace dbsync::daemon
