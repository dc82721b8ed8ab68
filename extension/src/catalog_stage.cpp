#include "extension/src/catalog_stage.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/row_codec.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/syncs.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

namespace dbsync::ext {
namespace {

using pg::spi::Param;
using pg::spi::TypedParam;

// A row of the mapped layout as a JSON object of target columns.
std::string json_row(const FieldMapper& m, const Row& row) {
  std::string out = "{";
  const size_t n = std::min(row.size(), m.mapped_count());
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += json_string(m.mapped_columns()[i]) + ": " + render_value(row[i]);
  }
  return out + "}";
}

// Field names of a set as a JSON array of strings.
std::string json_fields(const FieldMapper& m, const FieldSet& set) {
  std::string out = "[";
  bool first = true;
  for (size_t i = 0; i < set.size() && i < m.mapped_count(); ++i) {
    if (!set.test(i)) continue;
    out += (first ? "" : ", ") + json_string(m.mapped_columns()[i]);
    first = false;
  }
  return out + "]";
}

int64_t to_int64(const std::string& s) { return std::stoll(s); }

}  // namespace

CatalogStage::CatalogStage(std::string job_id, std::string sync_id, const FieldMapper& mapper)
    : job_id_(std::move(job_id)), sync_id_(std::move(sync_id)), mapper_(mapper) {}

Status CatalogStage::put_changes(const std::vector<PlannedChange>& changes) {
  if (changes.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(changes.size());
  for (const PlannedChange& c : changes) encoded.push_back(encode_change(c));
  MemoryContext cxt = pg::spi::create_context("dbsync stage put");
  pg::spi::with_safe_search_path([&] {
    // seq (an identity) follows the insertion order, which ORDER BY n makes the batch's order.
    pg::spi::execute_typed(
        "INSERT INTO dbsync.stage (job_id, change) SELECT $1::pg_catalog.text::pg_catalog.int8, "
        "u.c FROM pg_catalog.unnest($2::pg_catalog.bytea[]) WITH ORDINALITY AS u(c, n) "
        "ORDER BY u.n",
        {pg::spi::text_param(job_id_, cxt),
         {BYTEAARRAYOID, pg::spi::varlena_array(encoded, BYTEAOID, cxt), false}});
  });
  pg::spi::delete_context(cxt);
  return Status::ok();
}

Status CatalogStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (conflicts.empty()) return Status::ok();
  const size_t n = conflicts.size();
  std::vector<Param> key(n), kind(n), source(n), target(n), source_changed(n), target_changed(n),
      conflicting(n), reason(n);
  std::vector<std::string> record(n);
  for (size_t i = 0; i < n; ++i) {
    const ConflictRecord& c = conflicts[i];
    key[i] = json_row(mapper_, c.key);
    kind[i] = diff_kind_name(c.kind);
    if (c.source) source[i] = json_row(mapper_, *c.source);
    if (c.target) target[i] = json_row(mapper_, *c.target);
    source_changed[i] = json_fields(mapper_, c.source_changed);
    target_changed[i] = json_fields(mapper_, c.target_changed);
    conflicting[i] = json_fields(mapper_, c.conflicting);
    if (!c.reason.empty()) reason[i] = c.reason;
    record[i] = encode_conflict(c);
  }
  MemoryContext cxt = pg::spi::create_context("dbsync conflicts put");
  pg::spi::with_safe_search_path([&] {
    std::vector<TypedParam> p{pg::spi::text_param(job_id_, cxt),
                              pg::spi::text_param(sync_id_, cxt)};
    for (const auto* column :
         {&key, &kind, &source, &target, &source_changed, &target_changed, &conflicting, &reason})
      p.push_back({TEXTARRAYOID, pg::spi::varlena_array(*column, TEXTOID, cxt), false});
    p.push_back({BYTEAARRAYOID, pg::spi::varlena_array(record, BYTEAOID, cxt), false});
    auto names = [](const char* json) {
      return std::string("ARRAY(SELECT pg_catalog.jsonb_array_elements_text(") + json +
             "::pg_catalog.jsonb))";
    };
    auto unnest = [](int param, const char* type) {
      return "pg_catalog.unnest($" + std::to_string(param) + "::pg_catalog." + type + "[])";
    };
    pg::spi::execute_typed(
        "INSERT INTO dbsync.conflicts (job_id, sync_id, key, kind, source_row, target_row, "
        "source_changed, target_changed, conflicting, reason, record) "
        "SELECT $1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text::pg_catalog.int8, "
        "u.key::pg_catalog.jsonb, u.kind, u.src::pg_catalog.jsonb, u.tgt::pg_catalog.jsonb, " +
            names("u.sc") + ", " + names("u.tc") + ", " + names("u.cf") +
            ", u.reason, u.rec "
            "FROM ROWS FROM (" +
            unnest(3, "text") + ", " + unnest(4, "text") + ", " + unnest(5, "text") + ", " +
            unnest(6, "text") + ", " + unnest(7, "text") + ", " + unnest(8, "text") + ", " +
            unnest(9, "text") + ", " + unnest(10, "text") + ", " + unnest(11, "bytea") +
            ") WITH ORDINALITY "
            "AS u(key, kind, src, tgt, sc, tc, cf, reason, rec, n) ORDER BY u.n",
        p);
  });
  pg::spi::delete_context(cxt);
  return Status::ok();
}

Result<int64_t> CatalogStage::pending_conflicts() {
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute(
        "SELECT count(*) FROM dbsync.conflicts WHERE job_id = $1::pg_catalog.int8 "
        "AND status = 'pending'",
        {job_id_});
  });
  return to_int64(r.text(0, 0));
}

Status CatalogStage::read_changes(size_t batch_size,
                                  const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (batch_size == 0) batch_size = 1000;
  const std::string take =
      "DELETE FROM dbsync.stage WHERE job_id = $1::pg_catalog.int8 AND seq IN ("
      "SELECT seq FROM dbsync.stage WHERE job_id = $1::pg_catalog.int8 ORDER BY seq LIMIT " +
      std::to_string(batch_size) + ") RETURNING seq, change";
  std::vector<std::pair<int64_t, std::string>> taken;
  std::vector<PlannedChange> batch;
  for (;;) {
    // Removed before fn runs: see the header (the transaction commits or aborts both).
    pg::spi::Rows r =
        pg::spi::with_safe_search_path([&] { return pg::spi::execute(take, {job_id_}); });
    if (r.empty()) return Status::ok();
    taken.clear();
    for (size_t i = 0; i < r.size(); ++i) {
      Result<std::string> bytes = pg::spi::bytea_from_hex(r.text(i, 1));
      if (!bytes.is_ok()) return bytes.status().with_context("staged change of job " + job_id_);
      taken.emplace_back(to_int64(r.text(i, 0)), std::move(bytes).value());
    }
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
    if (r.size() < batch_size) return Status::ok();
  }
}

Status CatalogStage::clear() {
  pg::spi::with_safe_search_path([&] {
    pg::spi::execute("DELETE FROM dbsync.stage WHERE job_id = $1::pg_catalog.int8", {job_id_});
  });
  return Status::ok();
}

Result<ConflictRecord> decode_stored_conflict(const std::string& record_hex) {
  Result<std::string> bytes = pg::spi::bytea_from_hex(record_hex);
  if (!bytes.is_ok()) return bytes.status().with_context("dbsync.conflicts record");
  Result<ConflictRecord> c = decode_conflict(*bytes);
  if (!c.is_ok()) return c.status().with_context("dbsync.conflicts record");
  return c;
}

Result<StoredConflict> load_conflict(int64_t conflict_id, bool lock) {
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute(
        std::string("SELECT id, job_id, sync_id, status, record FROM dbsync.conflicts "
                    "WHERE id = $1::pg_catalog.int8") +
            (lock ? " FOR UPDATE" : ""),
        {std::to_string(conflict_id)});
  });
  if (r.empty())
    return error(ErrorCode::kNotFound, "conflict " + std::to_string(conflict_id) + " not found");
  StoredConflict out;
  out.id = to_int64(r.text(0, 0));
  out.job_id = to_int64(r.text(0, 1));
  out.sync_id = to_int64(r.text(0, 2));
  out.status = r.text(0, 3);
  DBSYNC_ASSIGN_OR_RETURN(out.record, decode_stored_conflict(r.text(0, 4)));
  return out;
}

}  // namespace dbsync::ext
