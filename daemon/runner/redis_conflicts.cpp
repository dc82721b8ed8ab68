#include "daemon/runner/redis_conflicts.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "common/catalog_sql.hpp"
#include "common/catalog_stage.hpp"
#include "common/job_catalog.hpp"
#include "common/pq_catalog_session.hpp"
#include "daemon/runner/job_sync.hpp"
#include "daemon/runner/redis_stage_factory.hpp"
#include "engine/conflict_json.hpp"
#include "engine/conflict_resolver.hpp"
#include "engine/types.hpp"
#include "engine/value_json.hpp"

namespace dbsync::daemon {
namespace {

using nlohmann::json;
using pg::PgParam;

std::string num(int64_t v) { return std::to_string(v); }

int64_t now_unix_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json row_json(const FieldMapper& m, const std::optional<Row>& row) {
  if (!row) return nullptr;
  return json::parse(render_row(m, *row), nullptr, false);
}

std::string iso_time_ms(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// A conflict as the API shows it: the engine's conflict JSON, with its id, job and decision.
json render(const FieldMapper& m, int64_t job_id, const redis::RedisStage::StoredConflict& s) {
  json o = json::parse(conflict_json(m, s.conflict), nullptr, false);
  o["id"] = s.id;
  o["job_id"] = job_id;
  o["status"] = s.status;
  o["resolution"] = s.decision ? json(decision_name(*s.decision)) : json();
  o["resolved_row"] = row_json(m, s.resolved_row);
  o["resolved_by"] = s.decision ? json(s.decided_by) : json();
  o["resolved_at"] = s.decision ? json(iso_time_ms(s.decided_at_ms)) : json();
  return o;
}

// The row of a custom decision, by the engine's rule (engine/conflict_json.hpp). The HTTP API
// answers every custom-row error 400 (the SQL API tells them apart by SQLSTATE).
Result<Row> custom_row(const FieldMapper& m, const ConflictRecord& c, const json& j) {
  Result<Row> row = custom_row_from_json(m, c, j);
  if (!row.is_ok()) return error(ErrorCode::kInvalidArgument, row.status().message());
  return row;
}

// What a decision needs: the master (in a transaction holding the job's row), the sync, the
// resolver and the job's Redis stage.
struct Open {
  pg::PgConnection master;
  int64_t job_id = 0;
  std::string job_status;
  std::unique_ptr<JobSync> sync;
  std::optional<ConflictResolver> resolver;
  std::unique_ptr<RedisJobStage> stage;
  bool in_transaction = false;

  ~Open() {
    if (in_transaction) master.rollback_quietly();
  }
};

Result<std::unique_ptr<Open>> open_job(const std::string& conninfo, const secrets::Key* key,
                                       int64_t sync_id, bool lock) {
  auto o = std::make_unique<Open>();
  DBSYNC_ASSIGN_OR_RETURN(o->master, pg::PgConnection::connect(conninfo));
  if (lock) {
    DBSYNC_RETURN_IF_ERROR(o->master.exec("BEGIN"));
    o->in_transaction = true;
  }
  Result<pg::PgResult> r =
      o->master.query(lock ? catalog_sql::kRedisJobOfSyncLocked : catalog_sql::kRedisJobOfSync,
                      {PgParam::text(num(sync_id))});
  if (!r.is_ok()) return r.status().with_context("reading the sync's job");
  if (r->rows() == 0)
    return error(ErrorCode::kNotFound, "sync " + num(sync_id) + " does not exist");
  if (r->is_null(0, 0))
    return error(ErrorCode::kNotFound,
                 "sync " + num(sync_id) + " has no unfinished job staged in Redis");
  o->job_id = std::stoll(std::string(r->get(0, 0)));
  std::string status_step = std::string(r->get(0, 1));
  o->job_status = status_step.substr(0, status_step.find(' '));
  if (lock && status_step.substr(status_step.find(' ') + 1) != "commit")
    // A run still scanning may return its stage to its last checkpoint (a resume): decisions
    // wait until it awaits resolution, so none is ever dropped.
    return error(ErrorCode::kConflict, "job " + num(o->job_id) +
                                           " is still running: its conflicts can be decided once "
                                           "it awaits resolution");
  DBSYNC_ASSIGN_OR_RETURN(o->sync, load_job_sync(o->master, conninfo, sync_id, key));
  o->resolver.emplace(*o->sync->mapper, o->sync->policy, nullptr);
  o->resolver->set_now(now_unix_micros());
  DBSYNC_ASSIGN_OR_RETURN(std::optional<RedisSettings> settings,
                          read_redis_settings(o->master, key));
  if (!settings)
    return error(ErrorCode::kUnavailable,
                 "job " + num(o->job_id) +
                     " keeps its conflicts in Redis, but the settings no longer name a Redis "
                     "(daemon.redis_url)");
  DBSYNC_ASSIGN_OR_RETURN(redis::RedisStageOptions options, redis_stage_options(o->master));
  DBSYNC_ASSIGN_OR_RETURN(o->stage, RedisJobStage::open(*settings, o->job_id, std::move(options)));
  return o;
}

// No conflict left pending: the job goes back to the queue to commit (as dbsync.resolve does),
// then the transaction commits. Returns whether it was requeued.
Result<bool> requeue_and_commit(Open& o, int64_t pending, int64_t decided) {
  bool requeued = false;
  // Counted where dbsync.cancel sees it (under the job's row lock): a job with decisions is
  // never cancelled, so no decision is discarded with its stage.
  if (decided > 0) {
    Result<pg::PgResult> r = o.master.query(
        catalog_sql::kCountDecisions, {PgParam::text(num(o.job_id)), PgParam::text(num(decided))});
    if (!r.is_ok()) return r.status().with_context("counting the decision");
  }
  if (pending == 0 && o.job_status == "awaiting_resolution") {
    PqCatalogSession catalog(o.master);
    DBSYNC_ASSIGN_OR_RETURN(requeued, jobs::requeue_if_decided(catalog, o.job_id, pending));
  }
  Status st = o.master.exec("COMMIT");
  o.in_transaction = false;
  if (!st.is_ok()) return st.with_context("committing the decision");
  return requeued;
}

Result<Decision> decision_of(const std::string& text) {
  Result<Decision> d = parse_decision(text);
  if (!d.is_ok())
    return error(ErrorCode::kInvalidArgument,
                 "unknown decision \"" + text +
                     "\" (decisions: source, target, merge, custom with a row, skip)");
  return d;
}

}  // namespace

RedisConflicts::RedisConflicts(std::string master_conninfo, const secrets::Key* key)
    : master_conninfo_(std::move(master_conninfo)), key_(key) {}

Result<std::optional<int64_t>> RedisConflicts::redis_job(int64_t sync_id) {
  DBSYNC_ASSIGN_OR_RETURN(pg::PgConnection master, pg::PgConnection::connect(master_conninfo_));
  Result<pg::PgResult> r =
      master.query(catalog_sql::kRedisJobIdOfSync, {PgParam::text(num(sync_id))});
  if (!r.is_ok()) return r.status().with_context("reading the sync's job");
  if (r->rows() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(std::stoll(std::string(r->get(0, 0))));
}

Result<json> RedisConflicts::list(int64_t sync_id, const std::optional<std::string>& status,
                                  int64_t after_id, int64_t limit) {
  if (status && *status != "pending" && *status != "resolved" && *status != "skipped")
    return error(ErrorCode::kInvalidArgument,
                 "status must be pending, resolved or skipped, not \"" + *status + "\"");
  if (limit < 1 || limit > 1000)
    return error(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  if (after_id < 0) return error(ErrorCode::kInvalidArgument, "after must not be negative");
  DBSYNC_ASSIGN_OR_RETURN(std::unique_ptr<Open> o,
                          open_job(master_conninfo_, key_, sync_id, /*lock=*/false));
  Result<std::vector<redis::RedisStage::StoredConflict>> page =
      o->stage->stage().list_conflicts(after_id, static_cast<size_t>(limit), status);
  if (!page.is_ok()) return page.status();
  json items = json::array();
  for (const auto& s : *page) items.push_back(render(*o->sync->mapper, o->job_id, s));
  json next = nullptr;
  if (static_cast<int64_t>(page->size()) == limit) next = page->back().id;
  return json{{"job_id", o->job_id}, {"items", std::move(items)}, {"next_after", next}};
}

Result<json> RedisConflicts::decide(int64_t sync_id, int64_t conflict_id,
                                    const std::string& decision_text,
                                    const std::optional<json>& custom, const std::string& by) {
  DBSYNC_ASSIGN_OR_RETURN(Decision decision, decision_of(decision_text));
  if (decision == Decision::kCustom && !custom)
    return error(ErrorCode::kInvalidArgument, "a custom decision needs a row");
  if (decision != Decision::kCustom && custom)
    return error(ErrorCode::kInvalidArgument,
                 std::string("only a custom decision takes a row (this one is ") +
                     decision_name(decision) + ")");
  DBSYNC_ASSIGN_OR_RETURN(std::unique_ptr<Open> o,
                          open_job(master_conninfo_, key_, sync_id, /*lock=*/true));
  redis::RedisStage& stage = o->stage->stage();
  std::optional<Row> row;
  Result<std::string> done = std::string();
  if (custom) {
    Result<redis::RedisStage::StoredConflict> stored = stage.get_conflict(conflict_id);
    if (!stored.is_ok()) return stored.status();
    if (stored->status != "pending")
      return error(ErrorCode::kConflict,
                   "conflict " + num(conflict_id) + " is already " + stored->status);
    DBSYNC_ASSIGN_OR_RETURN(row, custom_row(*o->sync->mapper, stored->conflict, *custom));
    done = stage.decide_listed(*stored, decision, &*row, *o->resolver, by);
  } else {
    done = stage.decide(conflict_id, decision, nullptr, *o->resolver, by);
  }
  if (!done.is_ok()) return done.status();
  DBSYNC_ASSIGN_OR_RETURN(int64_t pending, stage.pending_conflicts());
  DBSYNC_ASSIGN_OR_RETURN(bool requeued, requeue_and_commit(*o, pending, 1));
  return json{{"job_id", o->job_id},
              {"conflict_id", conflict_id},
              {"status", *done},
              {"pending", pending},
              {"job_requeued", requeued}};
}

Result<json> RedisConflicts::decide_all(int64_t sync_id, const std::string& decision_text,
                                        const std::string& by) {
  DBSYNC_ASSIGN_OR_RETURN(Decision decision, decision_of(decision_text));
  if (decision == Decision::kCustom)
    return error(ErrorCode::kInvalidArgument,
                 "deciding all conflicts cannot take a custom decision (each row is different)");
  DBSYNC_ASSIGN_OR_RETURN(std::unique_ptr<Open> o,
                          open_job(master_conninfo_, key_, sync_id, /*lock=*/true));
  redis::RedisStage& stage = o->stage->stage();
  DBSYNC_ASSIGN_OR_RETURN(int64_t decided, stage.decide_all(decision, *o->resolver, by));
  DBSYNC_ASSIGN_OR_RETURN(int64_t pending, stage.pending_conflicts());
  DBSYNC_ASSIGN_OR_RETURN(bool requeued, requeue_and_commit(*o, pending, decided));
  return json{{"job_id", o->job_id},
              {"decided", decided},
              {"pending", pending},
              {"job_requeued", requeued}};
}

}  // namespace dbsync::daemon
