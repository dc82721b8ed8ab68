#include "common/job_catalog.hpp"

#include <charconv>

#include "common/catalog_sql.hpp"
#include "engine/hex.hpp"
#include "engine/row_codec.hpp"

namespace dbsync::jobs {
namespace {

std::string num(int64_t v) { return std::to_string(v); }

Result<int64_t> to_int(const std::optional<std::string>& text, const char* what) {
  int64_t v = 0;
  if (text) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec == std::errc() && end == text->data() + text->size()) return v;
  }
  return error(ErrorCode::kInternal, std::string("dbsync.claim_job returned a bad ") + what);
}

Result<std::optional<std::string>> from_hex(const std::optional<std::string>& text,
                                            const char* what) {
  if (!text) return std::optional<std::string>();
  std::optional<std::string> bytes = hex::decode(*text);
  if (!bytes) return error(ErrorCode::kInternal, std::string("the job's ") + what + " is not hex");
  return bytes;
}

SqlParam key_param(const std::optional<Row>& key) {
  if (!key) return SqlParam::null();
  return SqlParam::bytea(encode_sortable_key(*key));
}

SqlParam optional_text(const std::optional<std::string>& s) {
  return s ? SqlParam::text(*s) : SqlParam::null();
}

}  // namespace

Result<std::optional<ClaimedJob>> claim(CatalogSession& session, const ClaimRule& rule) {
  DBSYNC_ASSIGN_OR_RETURN(
      CatalogRows r,
      session.run(catalog_sql::kClaimJob,
                  {SqlParam::text(rule.executor), SqlParam::number(rule.lease_seconds),
                   optional_text(rule.kind), SqlParam::text(rule.take_over ? "true" : "false"),
                   SqlParam::number(rule.max_interruptions)}));
  if (r.empty()) return std::optional<ClaimedJob>();
  ClaimedJob job;
  DBSYNC_ASSIGN_OR_RETURN(job.id, to_int(r.at(0, 0), "job id"));
  DBSYNC_ASSIGN_OR_RETURN(job.sync_id, to_int(r.at(0, 1), "sync id"));
  job.step = r.text(0, 2);
  DBSYNC_ASSIGN_OR_RETURN(job.checkpoint, from_hex(r.at(0, 3), "checkpoint"));
  DBSYNC_ASSIGN_OR_RETURN(job.source_checkpoint, from_hex(r.at(0, 4), "source checkpoint"));
  int64_t* counts[] = {&job.scanned,   &job.inserted,  &job.updated, &job.deleted,
                       &job.unchanged, &job.conflicts, &job.errors};
  for (size_t i = 0; i < 7; ++i) {
    Result<int64_t> count = to_int(r.at(0, 5 + i), "count");
    if (!count.is_ok()) return count.status();
    *counts[i] = *count;
  }
  job.resumed = r.text(0, 12) == "t";
  return std::optional<ClaimedJob>(std::move(job));
}

Result<std::optional<Row>> decode_key(const std::optional<std::string>& bytes, const char* what) {
  if (!bytes) return std::optional<Row>();
  Result<Row> key = decode_sortable_key(*bytes);
  if (!key.is_ok())
    return error(ErrorCode::kInternal,
                 std::string("the job's ") + what + " does not decode: " + key.status().message());
  return std::optional<Row>(std::move(key).value());
}

Result<ProgressWriter::Written> ProgressWriter::write(
    CatalogSession& session, const Progress& p, const std::optional<std::string>& stage_mark) {
  const ProgressTally::Report report = tally_.next(p);
  const Progress& shown = report.shown;
  const Progress& delta = report.delta;
  std::vector<SqlParam> params{SqlParam::number(job_.id),
                               SqlParam::text(executor_),
                               SqlParam::text(shown.phase),
                               SqlParam::number(job_.scanned + delta.scanned),
                               SqlParam::number(job_.inserted + delta.inserted),
                               SqlParam::number(job_.updated + delta.updated),
                               SqlParam::number(job_.deleted + delta.deleted),
                               SqlParam::number(job_.unchanged + delta.unchanged),
                               SqlParam::number(job_.conflicts + delta.conflicts),
                               SqlParam::number(job_.errors + delta.errors),
                               SqlParam::number(delta.source_inserted),
                               SqlParam::number(delta.source_updated),
                               SqlParam::number(delta.source_deleted),
                               shown.total >= 0 ? SqlParam::number(shown.total) : SqlParam::null(),
                               key_param(shown.checkpoint),
                               key_param(shown.source_checkpoint),
                               SqlParam::number(lease_seconds_),
                               optional_text(stage_mark)};
  Result<CatalogRows> r = session.run(catalog_sql::kReportProgress, params, /*kept=*/true);
  if (!r.is_ok()) return r.status().with_context("recording the job's progress");
  tally_.written(report);
  Written w;
  const std::string answer = r->empty() ? std::string("lost") : r->text(0, 0);
  w.lost = answer == "lost";
  w.cancel = answer == "cancel";
  if (!r->empty()) w.xid = r->text(0, 1);
  return w;
}

Result<std::optional<std::string>> finish(CatalogSession& session, int64_t job_id,
                                          const std::string& executor, JobState state,
                                          const std::optional<std::string>& error,
                                          std::optional<int64_t> pending_conflicts) {
  Result<CatalogRows> r =
      session.run(catalog_sql::kFinishJob,
                  {SqlParam::number(job_id), SqlParam::text(executor),
                   SqlParam::text(job_state_name(state)), optional_text(error),
                   pending_conflicts ? SqlParam::number(*pending_conflicts) : SqlParam::null()});
  if (!r.is_ok()) return r.status().with_context("recording how the job ended");
  if (r->empty()) return std::optional<std::string>();
  return r->at(0, 0);
}

Result<bool> release(CatalogSession& session, int64_t job_id, const std::string& executor) {
  Result<CatalogRows> r =
      session.run(catalog_sql::kReleaseJob, {SqlParam::number(job_id), SqlParam::text(executor)});
  if (!r.is_ok()) return r.status().with_context("releasing the job");
  return !r->empty() && r->text(0, 0) == "t";
}

Result<bool> fail(CatalogSession& session, int64_t job_id, const std::string& executor,
                  const std::string& message) {
  Result<CatalogRows> r =
      session.run(catalog_sql::kFailJob,
                  {SqlParam::number(job_id), SqlParam::text(executor), SqlParam::text(message)});
  if (!r.is_ok()) return r.status().with_context("recording the job's failure");
  return !r->empty() && r->text(0, 0) == "t";
}

Result<std::optional<std::string>> pause(CatalogSession& session, int64_t job_id,
                                         const std::string& executor, const std::string& where,
                                         const std::string& why) {
  Result<CatalogRows> r =
      session.run(catalog_sql::kPauseJob, {SqlParam::number(job_id), SqlParam::text(executor),
                                           SqlParam::text(where), SqlParam::text(why)});
  if (!r.is_ok()) return r.status().with_context("pausing the job");
  if (r->empty() || !r->at(0, 0)) return std::optional<std::string>();
  return r->at(0, 0);
}

Result<bool> requeue_if_decided(CatalogSession& session, int64_t job_id,
                                std::optional<int64_t> pending_conflicts) {
  Result<CatalogRows> r =
      session.run(catalog_sql::kRequeueDecidedJob,
                  {SqlParam::number(job_id),
                   pending_conflicts ? SqlParam::number(*pending_conflicts) : SqlParam::null()});
  if (!r.is_ok()) return r.status().with_context("requeueing the job to commit");
  return !r->empty() && r->text(0, 0) == "t";
}

std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + num(ids[i]);
  return out + "}";
}

}  // namespace dbsync::jobs
