#include "common/catalog_stage.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "engine/conflict_json.hpp"
#include "engine/hex.hpp"
#include "engine/row_codec.hpp"

namespace dbsync {
namespace {

std::optional<int64_t> to_int64(const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

CatalogStage::CatalogStage(CatalogSession& session, std::string job_id, std::string sync_id,
                           const FieldMapper& mapper)
    : session_(session),
      job_id_(std::move(job_id)),
      sync_id_(std::move(sync_id)),
      mapper_(mapper) {}

Status CatalogStage::put_changes(const std::vector<PlannedChange>& changes) {
  if (changes.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(changes.size());
  for (const PlannedChange& c : changes) encoded.push_back(encode_change(c));
  // seq (an identity) follows the insertion order, which ORDER BY n makes the batch's order.
  return session_
      .run(
          "INSERT INTO dbsync.stage (job_id, change) SELECT $1::pg_catalog.text::pg_catalog.int8, "
          "u.c FROM pg_catalog.unnest($2::pg_catalog.bytea[]) WITH ORDINALITY AS u(c, n) "
          "ORDER BY u.n",
          {SqlParam::text(job_id_), SqlParam::bytea_array(encoded)})
      .status()
      .with_context("staging changes of job " + job_id_);
}

Status CatalogStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (conflicts.empty()) return Status::ok();
  const size_t n = conflicts.size();
  using Column = std::vector<std::optional<std::string>>;
  Column key(n), kind(n), source(n), target(n), source_changed(n), target_changed(n),
      conflicting(n), reason(n);
  std::vector<std::string> record(n);
  for (size_t i = 0; i < n; ++i) {
    ConflictView v = conflict_view(mapper_, conflicts[i]);
    key[i] = std::move(v.key);
    kind[i] = std::move(v.kind);
    source[i] = std::move(v.source_row);
    target[i] = std::move(v.target_row);
    source_changed[i] = std::move(v.source_changed);
    target_changed[i] = std::move(v.target_changed);
    conflicting[i] = std::move(v.conflicting);
    reason[i] = std::move(v.reason);
    record[i] = encode_conflict(conflicts[i]);
  }
  std::vector<SqlParam> params{SqlParam::text(job_id_), SqlParam::text(sync_id_)};
  for (Column* column :
       {&key, &kind, &source, &target, &source_changed, &target_changed, &conflicting, &reason})
    params.push_back(SqlParam::text_array(std::move(*column)));
  params.push_back(SqlParam::bytea_array(record));
  auto names = [](const char* json) {
    return std::string("ARRAY(SELECT pg_catalog.jsonb_array_elements_text(") + json +
           "::pg_catalog.jsonb))";
  };
  auto unnest = [](int param, const char* type) {
    return "pg_catalog.unnest($" + std::to_string(param) + "::pg_catalog." + type + "[])";
  };
  return session_
      .run(
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
          params)
      .status()
      .with_context("recording conflicts of job " + job_id_);
}

Result<int64_t> CatalogStage::pending_conflicts() {
  Result<CatalogRows> r = session_.run(
      "SELECT pg_catalog.count(*) FROM dbsync.conflicts c "
      "WHERE c.job_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8 "
      "AND c.status OPERATOR(pg_catalog.=) 'pending'",
      {SqlParam::text(job_id_)});
  if (!r.is_ok()) return r.status().with_context("reading the conflicts of job " + job_id_);
  std::optional<int64_t> n = r->empty() ? std::nullopt : to_int64(r->text(0, 0));
  if (!n) return error(ErrorCode::kInternal, "counting the conflicts of job " + job_id_);
  return *n;
}

Status CatalogStage::read_changes(size_t batch_size,
                                  const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (batch_size == 0) batch_size = 1000;
  const std::string take =
      "DELETE FROM dbsync.stage s "
      "WHERE s.job_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8 "
      "AND s.seq IN (SELECT t.seq FROM dbsync.stage t "
      "WHERE t.job_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8 "
      "ORDER BY t.seq LIMIT " +
      std::to_string(batch_size) + ") RETURNING s.seq, pg_catalog.encode(s.change, 'hex')";
  std::vector<std::pair<int64_t, std::string>> taken;
  std::vector<PlannedChange> batch;
  for (;;) {
    // Removed before fn runs: see the header (the transaction commits or aborts both).
    Result<CatalogRows> r = session_.run(take, {SqlParam::text(job_id_)});
    if (!r.is_ok()) return r.status().with_context("reading the stage of job " + job_id_);
    if (r->empty()) return Status::ok();
    taken.clear();
    for (size_t i = 0; i < r->size(); ++i) {
      std::optional<int64_t> seq = to_int64(r->text(i, 0));
      std::optional<std::string> bytes = hex::decode(r->text(i, 1));
      if (!seq || !bytes)
        return error(ErrorCode::kInternal, "a staged change of job " + job_id_ + " is unreadable");
      taken.emplace_back(*seq, std::move(*bytes));
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
    if (r->size() < batch_size) return Status::ok();
  }
}

Status CatalogStage::clear() {
  return session_
      .run(
          "DELETE FROM dbsync.stage s "
          "WHERE s.job_id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8",
          {SqlParam::text(job_id_)})
      .status()
      .with_context("clearing the stage of job " + job_id_);
}

}  // namespace dbsync
