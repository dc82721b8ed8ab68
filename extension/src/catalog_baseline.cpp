#include "extension/src/catalog_baseline.hpp"

#include <optional>
#include <utility>

#include "common/catalog_sql.hpp"
#include "engine/row_codec.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/bulk_insert.hpp"
#include "extension/src/pg/spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

namespace dbsync::ext {
namespace {

using pg::spi::Param;

class CatalogBaselineReader final : public BaselineReader {
 public:
  CatalogBaselineReader(std::string sync_id, std::optional<std::string> after,
                        std::optional<std::string> upto, size_t page_rows)
      : sync_id_(std::move(sync_id)), upto_(std::move(upto)), page_rows_(page_rows) {
    if (after) after_literal_ = pg::spi::bytea_hex(*after);
  }

  Status next(const BaselineEntry*& entry) override {
    entry = nullptr;
    if (pos_ >= page_.size()) {
      if (done_) return Status::ok();
      fetch();
      if (page_.empty()) return Status::ok();
    }
    size_t r = pos_++;
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
  void fetch() {
    // The previous page's last key (raw bytes: read without the hex text form).
    if (!page_.empty())
      after_literal_ = pg::spi::bytea_hex(std::string(page_.at(page_.size() - 1, 0)));
    std::vector<Param> params{sync_id_};
    std::string sql = "SELECT key, state FROM dbsync.sync_state WHERE sync_id = $1::bigint";
    if (after_literal_) {
      params.push_back(after_literal_);
      sql += " AND key > $" + std::to_string(params.size()) + "::bytea";
    }
    if (upto_) {
      params.push_back(pg::spi::bytea_hex(*upto_));
      sql += " AND key <= $" + std::to_string(params.size()) + "::bytea";
    }
    // ORDER BY both index columns: the primary key's order, so the planner walks the index and
    // stops after a page, whatever it guesses about the table (a bitmap scan plus a sort would
    // read every remaining key for every page).
    sql += " ORDER BY sync_id, key LIMIT " + std::to_string(page_rows_);
    // Planned once per shape and scan: the first page's (maybe without a lower bound), then the
    // one of every later page.
    pg::spi::KeptPlan& plan = after_literal_ ? after_plan_ : first_plan_;
    pg::spi::with_safe_search_path([&] {
      if (!plan.prepared()) plan.prepare(sql, static_cast<int>(params.size()));
      pg::spi::run_bytes_into(plan, params, page_);
    });
    pos_ = 0;
    if (page_.size() < page_rows_) {
      done_ = true;
      first_plan_.free();
      after_plan_.free();
    }
  }

  std::string sync_id_;
  std::optional<std::string> upto_;
  std::optional<std::string> after_literal_;  // as a bytea literal
  size_t page_rows_;
  pg::spi::BytesPage page_;
  pg::spi::KeptPlan first_plan_, after_plan_;
  size_t pos_ = 0;
  bool done_ = false;
  BaselineEntry current_;
};

}  // namespace

CatalogBaseline::CatalogBaseline(std::string sync_id, size_t page_rows)
    : sync_id_(std::move(sync_id)), page_rows_(page_rows ? page_rows : 1000) {}

Result<std::unique_ptr<BaselineReader>> CatalogBaseline::scan(const KeyRange& range) {
  std::optional<std::string> after, upto;
  if (range.after) after = encode_sortable_key(*range.after);
  if (range.upto) upto = encode_sortable_key(*range.upto);
  return std::unique_ptr<BaselineReader>(
      new CatalogBaselineReader(sync_id_, std::move(after), std::move(upto), page_rows_));
}

void CatalogBaseline::audit_job(std::string job_id, const FieldMapper& mapper) {
  audit_job_id_ = std::move(job_id);
  audit_.emplace(mapper);
}

void CatalogBaseline::write_audit(const std::vector<PlannedChange>& changes) {
  if (!audit_) return;
  if (!audit_enabled_) {
    pg::spi::Rows r = pg::spi::execute(catalog_sql::kAuditEnabled, {sync_id_});
    audit_enabled_ = !r.empty() && r.text(0, 0) == "t";
  }
  if (!*audit_enabled_) return;
  const AuditBatch b = audit_->build(changes);
  if (b.empty()) return;
  for (const auto& [name, side] :
       {std::pair{"target", &b.target}, std::pair{"source", &b.source}}) {
    if (side->count == 0) continue;
    // Prepared once per job (parsing and planning it per batch cost about 1% of a load).
    if (!audit_plan_.prepared()) audit_plan_.prepare(catalog_sql::kAuditInsert, 7);
    audit_plan_.run({audit_job_id_, std::string(name),
                     std::to_string(static_cast<int64_t>(side->digest)), side->columns, side->keys,
                     side->operations, side->fields});
  }
}

Status CatalogBaseline::apply(const std::vector<PlannedChange>& changes) {
  pg::spi::with_safe_search_path([&] { write_audit(changes); });
  // The last operation per key wins; keys found without a baseline entry are plain inserts (no
  // ON CONFLICT for the common first-sync case): the baseline is written in the job's
  // transaction together with its checkpoint, so no entry of this job can exist yet.
  BaselineWrites w = baseline_writes(changes);
  if (w.empty()) return Status::ok();
  const auto& [new_keys, new_states, set_keys, set_states, erase_keys] = w;
  MemoryContext cxt = pg::spi::create_context("dbsync baseline apply");
  pg::spi::with_safe_search_path([&] {
    pg::spi::TypedParam sync = pg::spi::text_param(sync_id_, cxt);
    // New keys (a first sync's baseline, mostly) as COPY writes rows; SQL if that cannot be.
    const bool bulk_done =
        new_keys.empty() || pg::bulk::insert_sync_state(std::stoll(sync_id_), new_keys, new_states);
    if (!bulk_done) {
      pg::spi::execute_typed(
          "INSERT INTO dbsync.sync_state (sync_id, key, state) "
          "SELECT $1::pg_catalog.text::pg_catalog.int8, u.k, u.s "
          "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.bytea[]), "
          "pg_catalog.unnest($3::pg_catalog.bytea[])) AS u(k, s)",
          {sync,
           {BYTEAARRAYOID, pg::spi::varlena_array(new_keys, BYTEAOID, cxt), false},
           {BYTEAARRAYOID, pg::spi::varlena_array(new_states, BYTEAOID, cxt), false}});
    }
    if (!set_keys.empty()) {
      pg::spi::execute_typed(
          "INSERT INTO dbsync.sync_state (sync_id, key, state) "
          "SELECT $1::pg_catalog.text::pg_catalog.int8, u.k, u.s "
          "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.bytea[]), "
          "pg_catalog.unnest($3::pg_catalog.bytea[])) AS u(k, s) "
          "ON CONFLICT (sync_id, key) DO UPDATE SET state = EXCLUDED.state",
          {sync,
           {BYTEAARRAYOID, pg::spi::varlena_array(set_keys, BYTEAOID, cxt), false},
           {BYTEAARRAYOID, pg::spi::varlena_array(set_states, BYTEAOID, cxt), false}});
    }
    if (!erase_keys.empty()) {
      pg::spi::execute_typed(
          "DELETE FROM dbsync.sync_state AS b USING pg_catalog.unnest($2::pg_catalog.bytea[]) AS "
          "u(k) WHERE b.sync_id = $1::pg_catalog.text::pg_catalog.int8 AND b.key = u.k",
          {sync, {BYTEAARRAYOID, pg::spi::varlena_array(erase_keys, BYTEAOID, cxt), false}});
    }
  });
  pg::spi::delete_context(cxt);
  return Status::ok();
}

}  // namespace dbsync::ext
