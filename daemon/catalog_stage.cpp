#include "daemon/catalog_stage.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "adapters/postgres/pg_values.hpp"
#include "engine/row_codec.hpp"
#include "engine/value_json.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

nlohmann::json json_fields(const FieldMapper& m, const FieldSet& set) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < set.size() && i < m.mapped_count(); ++i)
    if (set.test(i)) out.push_back(m.mapped_columns()[i]);
  return out;
}

}  // namespace

CatalogStage::CatalogStage(JobTransaction& txn, std::string job_id, std::string sync_id,
                           const FieldMapper& mapper)
    : txn_(txn), job_id_(std::move(job_id)), sync_id_(std::move(sync_id)), mapper_(mapper) {}

Status CatalogStage::put_changes(const std::vector<PlannedChange>& changes) {
  if (changes.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(changes.size());
  for (const PlannedChange& c : changes) encoded.push_back(encode_change(c));
  // seq (an identity) follows the insertion order, which ORDER BY n makes the batch's order.
  return txn_
      .query(
          "INSERT INTO dbsync.stage (job_id, change) SELECT $1::bigint, u.c "
          "FROM unnest($2::bytea[]) WITH ORDINALITY AS u(c, n) ORDER BY u.n",
          {PgParam::text(job_id_), PgParam::binary(pg::encode_bytea_array(encoded))})
      .status()
      .with_context("staging changes of job " + job_id_);
}

Status CatalogStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (conflicts.empty()) return Status::ok();
  // The readable columns as one JSON array of objects (rows rendered as the extension renders
  // them), the exact records as a bytea[]; both joined on their ordinal.
  std::string readable = "[";
  std::vector<std::string> records;
  records.reserve(conflicts.size());
  for (size_t i = 0; i < conflicts.size(); ++i) {
    const ConflictRecord& c = conflicts[i];
    nlohmann::json o;
    o["kind"] = diff_kind_name(c.kind);
    o["sc"] = json_fields(mapper_, c.source_changed);
    o["tc"] = json_fields(mapper_, c.target_changed);
    o["cf"] = json_fields(mapper_, c.conflicting);
    o["reason"] = c.reason.empty() ? nlohmann::json() : nlohmann::json(c.reason);
    std::string head = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    head.pop_back();  // the closing brace: the rows follow as rendered JSON text
    head += ", \"key\": " + render_row(mapper_, c.key);
    head += ", \"src\": " + (c.source ? render_row(mapper_, *c.source) : "null");
    head += ", \"tgt\": " + (c.target ? render_row(mapper_, *c.target) : "null") + "}";
    readable += (i ? ", " : "") + head;
    records.push_back(encode_conflict(c));
  }
  readable += "]";
  auto names = [](const char* field) {
    return std::string("ARRAY(SELECT jsonb_array_elements_text(e.o -> '") + field + "'))";
  };
  return txn_
      .query(
          "INSERT INTO dbsync.conflicts (job_id, sync_id, key, kind, source_row, target_row, "
          "source_changed, target_changed, conflicting, reason, record) "
          "SELECT $1::bigint, $2::bigint, e.o -> 'key', e.o ->> 'kind', "
          "NULLIF(e.o -> 'src', 'null'::jsonb), NULLIF(e.o -> 'tgt', 'null'::jsonb), " +
              names("sc") + ", " + names("tc") + ", " + names("cf") +
              ", e.o ->> 'reason', r.rec "
              "FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(o, n) "
              "JOIN unnest($4::bytea[]) WITH ORDINALITY AS r(rec, n) ON r.n = e.n "
              "ORDER BY e.n",
          {PgParam::text(job_id_), PgParam::text(sync_id_), PgParam::text(readable),
           PgParam::binary(pg::encode_bytea_array(records))})
      .status()
      .with_context("recording conflicts of job " + job_id_);
}

Result<int64_t> CatalogStage::pending_conflicts() {
  Result<pg::PgResult> r = txn_.query(
      "SELECT count(*) FROM dbsync.conflicts WHERE job_id = $1::bigint AND status = 'pending'",
      {PgParam::text(job_id_)});
  if (!r.is_ok()) return r.status().with_context("reading the conflicts of job " + job_id_);
  return static_cast<int64_t>(std::strtoll(std::string(r->get(0, 0)).c_str(), nullptr, 10));
}

Status CatalogStage::read_changes(size_t batch_size,
                                  const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (batch_size == 0) batch_size = 1000;
  const std::string take =
      "DELETE FROM dbsync.stage WHERE job_id = $1::bigint AND seq IN (SELECT seq FROM "
      "dbsync.stage WHERE job_id = $1::bigint ORDER BY seq LIMIT " +
      std::to_string(batch_size) + ") RETURNING seq::text, change";
  std::vector<std::pair<int64_t, std::string_view>> taken;
  std::vector<PlannedChange> batch;
  for (;;) {
    // Removed before fn runs: the job's transaction commits or aborts both.
    Result<pg::PgResult> r = txn_.query(take, {PgParam::text(job_id_)}, /*binary_result=*/true);
    if (!r.is_ok()) return r.status().with_context("reading the stage of job " + job_id_);
    const int rows = r->rows();
    if (rows == 0) return Status::ok();
    taken.clear();
    for (int i = 0; i < rows; ++i)
      taken.emplace_back(std::strtoll(std::string(r->get(i, 0)).c_str(), nullptr, 10),
                         r->get(i, 1));
    // RETURNING has no order of its own.
    std::sort(taken.begin(), taken.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    batch.clear();
    batch.reserve(taken.size());
    for (const auto& [seq, bytes] : taken) {
      Result<PlannedChange> c = decode_change(bytes);
      if (!c.is_ok())
        return c.status().with_context("staged change " + std::to_string(seq) + " of job " +
                                       job_id_);
      batch.push_back(std::move(c).value());
    }
    DBSYNC_RETURN_IF_ERROR(fn(batch));
    if (static_cast<size_t>(rows) < batch_size) return Status::ok();
  }
}

Status CatalogStage::clear() {
  return txn_.query("DELETE FROM dbsync.stage WHERE job_id = $1::bigint", {PgParam::text(job_id_)})
      .status()
      .with_context("clearing the stage of job " + job_id_);
}

}  // namespace dbsync::daemon
