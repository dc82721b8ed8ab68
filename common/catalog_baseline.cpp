#include "common/catalog_baseline.hpp"

#include <charconv>
#include <optional>
#include <utility>

#include "common/catalog_sql.hpp"
#include "engine/row_codec.hpp"

namespace dbsync {
namespace {

class CatalogBaselineReader final : public BaselineReader {
 public:
  CatalogBaselineReader(CatalogSession& session, std::string sync_id,
                        std::optional<std::string> after, std::optional<std::string> upto,
                        size_t page_rows)
      : session_(session),
        sync_id_(std::move(sync_id)),
        after_(std::move(after)),
        upto_(std::move(upto)),
        page_rows_(page_rows) {}

  Status next(const BaselineEntry*& entry) override {
    entry = nullptr;
    if (pos_ >= page_.size()) {
      if (done_) return Status::ok();
      DBSYNC_RETURN_IF_ERROR(fetch());
      if (page_.empty()) return Status::ok();
    }
    const size_t r = pos_++;
    if (page_.is_null(r, 0) || page_.is_null(r, 1))
      return error(ErrorCode::kInternal, "dbsync.sync_state: a NULL key or state");
    if (Status st = decode_sortable_key_into(page_.at(r, 0), current_.key); !st.is_ok())
      return st.with_context("dbsync.sync_state key");
    if (Status st = decode_baseline_into(page_.at(r, 1), current_); !st.is_ok())
      return st.with_context("dbsync.sync_state state");
    entry = &current_;
    return Status::ok();
  }

 private:
  Status fetch() {
    // After the previous page's last key.
    if (!page_.empty()) after_ = std::string(page_.at(page_.size() - 1, 0));
    std::vector<SqlParam> params{SqlParam::text(sync_id_)};
    std::string sql =
        "SELECT s.key, s.state FROM dbsync.sync_state s "
        "WHERE s.sync_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8";
    if (after_) {
      params.push_back(SqlParam::bytea(*after_));
      sql += " AND s.key OPERATOR(pg_catalog.>) $" + std::to_string(params.size()) +
             "::pg_catalog.bytea";
    }
    if (upto_) {
      params.push_back(SqlParam::bytea(*upto_));
      sql += " AND s.key OPERATOR(pg_catalog.<=) $" + std::to_string(params.size()) +
             "::pg_catalog.bytea";
    }
    // ORDER BY both index columns: the primary key's order, so the planner walks the index and
    // stops after a page, whatever it guesses about the table (a bitmap scan plus a sort would
    // read every remaining key for every page).
    sql += " ORDER BY s.sync_id, s.key LIMIT " + std::to_string(page_rows_);
    // Kept: planned once per shape (the first page's, maybe without a lower bound; every later
    // page's).
    Status st = session_.read_bytes(sql, params, page_, /*kept=*/true);
    if (!st.is_ok()) return st.with_context("reading the baseline");
    pos_ = 0;
    if (page_.size() < page_rows_) done_ = true;
    return Status::ok();
  }

  CatalogSession& session_;
  std::string sync_id_;
  std::optional<std::string> after_, upto_;  // raw encoded keys
  size_t page_rows_;
  BytesPage page_;
  size_t pos_ = 0;
  bool done_ = false;
  BaselineEntry current_;
};

}  // namespace

CatalogBaseline::CatalogBaseline(CatalogSession& session, std::string sync_id, size_t page_rows)
    : session_(session), sync_id_(std::move(sync_id)), page_rows_(page_rows ? page_rows : 1000) {}

Result<std::unique_ptr<BaselineReader>> CatalogBaseline::scan(const KeyRange& range) {
  std::optional<std::string> after, upto;
  if (range.after) after = encode_sortable_key(*range.after);
  if (range.upto) upto = encode_sortable_key(*range.upto);
  return std::unique_ptr<BaselineReader>(
      new CatalogBaselineReader(session_, sync_id_, std::move(after), std::move(upto), page_rows_));
}

void CatalogBaseline::audit_job(std::string job_id, const FieldMapper& mapper) {
  audit_job_id_ = std::move(job_id);
  audit_.emplace(mapper);
}

Status CatalogBaseline::write_audit(const std::vector<PlannedChange>& changes) {
  if (!audit_) return Status::ok();
  if (!audit_enabled_) {
    Result<CatalogRows> r = session_.run(catalog_sql::kAuditEnabled, {SqlParam::text(sync_id_)});
    if (!r.is_ok()) return r.status().with_context("reading the sync's audit option");
    audit_enabled_ = !r->empty() && r->text(0, 0) == "t";
  }
  if (!*audit_enabled_) return Status::ok();
  const AuditBatch b = audit_->build(changes);
  if (b.empty()) return Status::ok();
  for (const auto& [name, side] :
       {std::pair{"target", &b.target}, std::pair{"source", &b.source}}) {
    if (side->count == 0) continue;
    // Kept: parsing and planning it per batch cost about 1% of a load.
    DBSYNC_RETURN_IF_ERROR(
        session_
            .run(catalog_sql::kAuditInsert,
                 {SqlParam::text(audit_job_id_), SqlParam::text(name),
                  SqlParam::text(std::to_string(static_cast<int64_t>(side->digest))),
                  SqlParam::text(side->columns), SqlParam::text(side->keys),
                  SqlParam::text(side->operations), SqlParam::text(side->fields)},
                 /*kept=*/true)
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
  const SqlParam sync = SqlParam::text(sync_id_);
  if (!new_keys.empty()) {
    int64_t id = 0;
    auto [end, ec] = std::from_chars(sync_id_.data(), sync_id_.data() + sync_id_.size(), id);
    const bool numeric = ec == std::errc() && end == sync_id_.data() + sync_id_.size();
    // New keys (a first sync's baseline, mostly) in bulk where the session can; SQL otherwise.
    if (!numeric || !session_.bulk_insert_baseline(id, new_keys, new_states))
      DBSYNC_RETURN_IF_ERROR(
          session_
              .run("INSERT INTO dbsync.sync_state (sync_id, key, state) "
                   "SELECT $1::pg_catalog.text::pg_catalog.int8, u.k, u.s "
                   "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.bytea[]), "
                   "pg_catalog.unnest($3::pg_catalog.bytea[])) AS u(k, s)",
                   {sync, SqlParam::bytea_array(new_keys), SqlParam::bytea_array(new_states)})
              .status()
              .with_context("updating the baseline"));
  }
  if (!set_keys.empty())
    DBSYNC_RETURN_IF_ERROR(
        session_
            .run("INSERT INTO dbsync.sync_state (sync_id, key, state) "
                 "SELECT $1::pg_catalog.text::pg_catalog.int8, u.k, u.s "
                 "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.bytea[]), "
                 "pg_catalog.unnest($3::pg_catalog.bytea[])) AS u(k, s) "
                 "ON CONFLICT (sync_id, key) DO UPDATE SET state = EXCLUDED.state",
                 {sync, SqlParam::bytea_array(set_keys), SqlParam::bytea_array(set_states)})
            .status()
            .with_context("updating the baseline"));
  if (!erase_keys.empty())
    DBSYNC_RETURN_IF_ERROR(
        session_
            .run("DELETE FROM dbsync.sync_state AS b "
                 "USING pg_catalog.unnest($2::pg_catalog.bytea[]) AS u(k) "
                 "WHERE b.sync_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8 "
                 "AND b.key OPERATOR(pg_catalog.=) u.k",
                 {sync, SqlParam::bytea_array(erase_keys)})
            .status()
            .with_context("updating the baseline"));
  return Status::ok();
}

}  // namespace dbsync
