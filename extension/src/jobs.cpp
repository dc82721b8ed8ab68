// Jobs from SQL: dbsync.request_run / wait_job (behind dbsync.run), and the decisions on
// conflicts, dbsync.resolve and dbsync.resolve_all. The rest of the jobs API is plain SQL
// (dbsync.sql, section jobs).
//
// A decision is turned into the change it stands for by the engine's ConflictResolver — the
// same code that applies a strategy during a run — and that change joins the job's stage. When
// the last pending conflict of a job waiting for decisions is decided, the job goes back to the
// queue to commit its stage; all of that in the caller's transaction (a ROLLBACK undoes it).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/catalog_sql.hpp"
#include "common/job_catalog.hpp"
#include "engine/conflict_json.hpp"
#include "engine/conflict_resolver.hpp"
#include "engine/row_codec.hpp"
#include "engine/sync_types.hpp"
#include "extension/src/catalog_stage.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/spi_catalog_session.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/syncs.hpp"
#include "extension/src/workers.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;
using pg::spi::Param;

std::string num(int64_t v) { return std::to_string(v); }

std::string caller_name() {
  return pg::pg_call([&] { return std::string(GetUserNameFromId(GetOuterUserId(), false)); });
}

using pg::spi::query;

int64_t sync_id_of(const std::string& name) {
  pg::spi::Rows r = query("SELECT id FROM dbsync.syncs WHERE name = $1", {name});
  if (r.empty()) throw PgError(ERRCODE_UNDEFINED_OBJECT, "sync \"" + name + "\" does not exist");
  return std::stoll(r.text(0, 0));
}

Decision decision_arg(const std::string& text) {
  Result<Decision> d = parse_decision(text);
  if (!d.is_ok())
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown decision \"" + text + "\"", "",
                  "Decisions: source, target, merge, custom (with a row), skip.");
  return *d;
}

// The row of a custom decision (engine/conflict_json.hpp), its errors as SQLSTATEs.
Row custom_row(const FieldMapper& m, const ConflictRecord& c, const std::string& json_text) {
  Result<Row> row = custom_row_from_text(m, c, json_text);
  if (row.is_ok()) return std::move(row).value();
  const Status& st = row.status();
  switch (st.code()) {
    case ErrorCode::kNotFound:
      throw PgError(ERRCODE_UNDEFINED_COLUMN, st.message());
    case ErrorCode::kTypeMismatch:
      throw PgError(ERRCODE_INVALID_TEXT_REPRESENTATION, st.message());
    case ErrorCode::kConflict:
      throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, st.message(), "",
                    "A decision applies to the conflict's key; leave key columns out.");
    default:
      throw PgError(pg::sqlstate_for(st.code()), st.message());
  }
}

// One sync's decisions: the sync compiled once, the engine's resolver, the stage of each job.
class Decider {
 public:
  Decider(const std::string& sync_name, int64_t sync_id)
      : sync_(load_postgres_sync(sync_name, "resolve")), sync_id_(sync_id) {
    resolver_.emplace(*sync_.mapper, sync_.policy, nullptr);
    resolver_->set_now(now_unix_micros());
  }

  // Decides the pending conflict `id` of job `job_id` (both rows locked by the caller).
  void decide(int64_t id, int64_t job_id, const std::string& record_hex, Decision decision,
              const std::optional<std::string>& row_json) {
    Result<ConflictRecord> record = decode_stored_conflict(record_hex);
    if (!record.is_ok())
      throw PgError(ERRCODE_DATA_CORRUPTED,
                    "conflict " + num(id) + " does not decode: " + record.status().message());
    std::optional<Row> custom;
    if (decision == Decision::kCustom) {
      if (!row_json)
        throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "a custom decision needs a row", "",
                      "dbsync.resolve(conflict, 'custom', '{\"column\": value, ...}')");
      custom = custom_row(*sync_.mapper, *record, *row_json);
    } else if (row_json) {
      throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                    "only a custom decision takes a row (this one is " +
                        std::string(decision_name(decision)) + ")");
    }
    Result<PlannedChange> change =
        resolver_->resolve(*record, decision, custom ? &*custom : nullptr);
    if (!change.is_ok())
      throw PgError(pg::sqlstate_for(change.status().code()),
                    "conflict " + num(id) + ": " + change.status().message());
    if (!change->empty()) {
      pg::SpiCatalogSession catalog;
      CatalogStage stage(catalog, num(job_id), num(sync_id_), *sync_.mapper);
      pg::throw_if_error(stage.put_changes({std::move(change).value()}), "staging the decision");
    }
    Param resolved_row;
    if (custom) resolved_row = render_row(*sync_.mapper, *custom);
    (void)query(
        "UPDATE dbsync.conflicts SET status = CASE WHEN $2 = 'skip' THEN 'skipped' ELSE "
        "'resolved' END, resolution = $2, resolved_row = $3::jsonb, resolved_by = $4, "
        "resolved_at = now() WHERE id = $1::bigint",
        {num(id), std::string(decision_name(decision)), resolved_row, caller_name()});
  }

 private:
  CheckedSync sync_;
  int64_t sync_id_;
  std::optional<ConflictResolver> resolver_;
};

// A job waiting for decisions with none left pending goes back to the queue to commit, and
// dbsync_jobs is notified (at commit) so that a dbsyncd commits it at once. A job staged in
// Redis is decided (and requeued) by dbsyncd, never here.
bool requeue_if_decided(int64_t job_id) {
  pg::SpiCatalogSession catalog;
  if (!pg::value_or_throw(jobs::requeue_if_decided(catalog, job_id))) return false;
  wake_launcher_at_commit();
  return true;
}

// A job whose cancel was requested takes no more decisions: the cancel drops its stage, and a
// decision would be discarded with it (dbsync.cancel, in turn, refuses once one was made).
void refuse_if_cancelling(int64_t job_id, bool cancel_requested) {
  if (cancel_requested)
    throw PgError(
        ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "job " + num(job_id) + " is being cancelled: its conflicts can no longer be decided", "",
        "Its undecided conflicts end skipped; the next run raises them again.");
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;  // NOLINT: SQL entry points below

// dbsync.request_run(sync text, trigger text) RETURNS bigint.
DBSYNC_FUNCTION(dbsync_request_run) {
  std::string name = pg::text_arg(fcinfo, 0);
  std::string trigger = pg::text_arg(fcinfo, 1);
  int64_t sync_id = pg::spi::session([&] { return ext::sync_id_of(name); });
  ext::RunAnswer a = ext::request_run(sync_id, trigger, ext::caller_name());
  if (!a.created) {
    std::string msg = "sync \"" + name + "\" already has an unfinished job (" +
                      std::to_string(a.job_id) + "): that one is returned";
    pg::pg_call([&] { ereport(NOTICE, (errmsg("%s", msg.c_str()))); });
  }
  PG_RETURN_INT64(a.job_id);
}

// dbsync.wait_job(job bigint) RETURNS text: the status once finished or awaiting decisions.
DBSYNC_FUNCTION(dbsync_wait_job) {
  int64 job = PG_GETARG_INT64(0);
  if (pg::pg_call([&] { return IsolationUsesXactSnapshot(); }))
    throw pg::PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                      "waiting for a job needs READ COMMITTED (this transaction's snapshot would "
                      "never see it progress)",
                      "", "Use dbsync.run(sync, wait => false) and dbsync.job_status(job).");
  long nap_ms = 10;
  for (;;) {
    std::optional<std::string> status = pg::spi::session([&]() -> std::optional<std::string> {
      pg::spi::Rows r = ext::query(catalog_sql::kJobStatus, {std::to_string(job)});
      if (r.empty()) return std::nullopt;
      return r.text(0, 0);
    });
    if (!status)
      throw pg::PgError(ERRCODE_UNDEFINED_OBJECT, "job " + std::to_string(job) + " does not exist");
    if (*status == "succeeded" || *status == "failed" || *status == "cancelled" ||
        *status == "awaiting_resolution")
      return pg::text_datum(*status);
    pg::pg_call([&] {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, nap_ms,
                      PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    });
    nap_ms = std::min(nap_ms * 2, 200L);
  }
}

// dbsync.resolve(conflict bigint, decision text, row jsonb) RETURNS text.
DBSYNC_FUNCTION(dbsync_resolve) {
  if (PG_ARGISNULL(0))
    throw pg::PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "conflict must not be null");
  int64 conflict = PG_GETARG_INT64(0);
  Decision decision = ext::decision_arg(pg::text_arg(fcinfo, 1));
  std::optional<std::string> row;
  if (!PG_ARGISNULL(2)) row = pg::jsonb_arg_text(fcinfo, 2);
  std::string result = pg::spi::session([&] {
    pg::spi::Rows r = ext::query(catalog_sql::kConflictForDecision, {std::to_string(conflict)});
    if (r.empty())
      throw pg::PgError(ERRCODE_UNDEFINED_OBJECT,
                        "conflict " + std::to_string(conflict) + " does not exist");
    if (r.text(0, 2) != "pending")
      throw pg::PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "conflict " + std::to_string(conflict) + " is already " + r.text(0, 2));
    const std::string job_status = r.text(0, 4);
    if (job_status == "succeeded" || job_status == "failed" || job_status == "cancelled")
      throw pg::PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "the job of conflict " + std::to_string(conflict) + " is " + job_status);
    int64_t job_id = std::stoll(r.text(0, 0));
    ext::refuse_if_cancelling(job_id, r.text(0, 6) == "t");
    ext::Decider decider(r.text(0, 5), std::stoll(r.text(0, 1)));
    decider.decide(conflict, job_id, r.text(0, 3), decision, row);
    std::string out = decision == Decision::kSkip ? "skipped" : "resolved";
    if (ext::requeue_if_decided(job_id))
      out += "; job " + std::to_string(job_id) + " commits (no conflict left)";
    return out;
  });
  return pg::text_datum(result);
}

// dbsync.resolve_all(sync text, decision text) RETURNS bigint: how many were decided.
DBSYNC_FUNCTION(dbsync_resolve_all) {
  std::string name = pg::text_arg(fcinfo, 0);
  Decision decision = ext::decision_arg(pg::text_arg(fcinfo, 1));
  if (decision == Decision::kCustom)
    throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "resolve_all cannot take a custom decision (each row is different)", "",
                      "Use dbsync.resolve(conflict, 'custom', row) for each.");
  int64_t decided = pg::spi::session([&] {
    int64_t sync_id = ext::sync_id_of(name);
    // The unfinished job's row first (the executor and dbsync.resolve lock it too).
    pg::spi::Rows jobs = ext::query(catalog_sql::kUnfinishedJobsOfSync, {std::to_string(sync_id)});
    int64_t count = 0;
    std::optional<ext::Decider> decider;
    for (size_t j = 0; j < jobs.size(); ++j) {
      const std::string job_id = jobs.text(j, 0);
      ext::refuse_if_cancelling(std::stoll(job_id), jobs.text(j, 1) == "t");
      std::optional<std::string> after;
      for (;;) {
        // In pages, so that thousands of conflicts do not sit in memory at once.
        pg::spi::Rows page = ext::query(
            "SELECT id, record FROM dbsync.conflicts WHERE job_id = $1::bigint AND status = "
            "'pending' AND id > $2::bigint ORDER BY id LIMIT 500 FOR UPDATE",
            {job_id, after.value_or("0")});
        if (page.empty()) break;
        if (!decider) decider.emplace(name, sync_id);
        for (size_t i = 0; i < page.size(); ++i) {
          decider->decide(std::stoll(page.text(i, 0)), std::stoll(job_id), page.text(i, 1),
                          decision, std::nullopt);
          ++count;
        }
        after = page.text(page.size() - 1, 0);
      }
      ext::requeue_if_decided(std::stoll(job_id));
    }
    return count;
  });
  PG_RETURN_INT64(decided);
}
