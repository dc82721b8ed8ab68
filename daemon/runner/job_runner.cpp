#include "daemon/runner/job_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "common/catalog_baseline.hpp"
#include "common/catalog_sql.hpp"
#include "common/catalog_stage.hpp"
#include "common/pq_catalog_session.hpp"
#include "engine/row_codec.hpp"
#include "engine/sync_executor.hpp"
#include "engine/value_json.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

constexpr size_t kMaxReportedRowErrors = 5;

std::string num(int64_t v) { return std::to_string(v); }

int64_t now_unix_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A target that shares the master's transaction (a table of the master: kind local) applied in
// the job's transaction: apply() keeps the batch, and flush() — after the baseline and the
// progress were written in that transaction — applies it on the same connection, whose COMMIT
// then commits them all together.
class DeferredTarget final : public Target {
 public:
  DeferredTarget(Target& table, bool fingerprints, JobTransaction& txn)
      : table_(table), fingerprints_(fingerprints), txn_(txn) {}
  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) override {
    return table_.scan(request);
  }
  Result<int64_t> estimate_rows() override { return table_.estimate_rows(); }
  Status apply(const ChangeBatch& batch) override {
    pending_.push_back(batch);
    // The rows are written in the job's transaction: they will carry its id as their xmin.
    written_fp_ = 0;
    if (fingerprints_) {
      Result<pg::PgResult> r = txn_.query("SELECT pg_catalog.txid_current() % 4294967296");
      if (!r.is_ok()) return r.status().with_context("applying to the target");
      if (r->rows() == 1 && !r->is_null(0, 0))
        written_fp_ = std::strtoull(std::string(r->get(0, 0)).c_str(), nullptr, 10);
    }
    return Status::ok();
  }
  uint64_t written_fingerprint() const override { return written_fp_; }
  bool has_pending() const { return !pending_.empty(); }
  Status flush() {
    Status st = Status::ok();
    for (const ChangeBatch& b : pending_) {
      st = table_.apply(b);
      if (!st.is_ok()) break;
    }
    pending_.clear();
    return st;
  }
  void drop() { pending_.clear(); }

 private:
  Target& table_;
  const bool fingerprints_;
  JobTransaction& txn_;
  std::vector<ChangeBatch> pending_;
  uint64_t written_fp_ = 0;
};

std::string render_key(const FieldMapper& m, const Row& key) { return render_row(m, key); }

// The batch's progress and checkpoint (with an external stage's mark), in the job's transaction.
Result<jobs::ProgressWriter::Written> write_progress(JobTransaction& txn,
                                                     jobs::ProgressWriter& progress,
                                                     const Progress& p,
                                                     const ExternalStage* external) {
  return progress.write(txn, p,
                        external ? std::optional<std::string>(external->mark()) : std::nullopt);
}

// How the job ended, in the job's transaction (the caller commits), as the extension's finish().
Status finish(JobTransaction& txn, const ClaimedJob& job, const JobOutcome& out,
              jobs::ProgressWriter& progress, const std::string& row_errors, bool& lost,
              Stage& stage, ExternalStage* external) {
  Result<jobs::ProgressWriter::Written> w = write_progress(txn, progress, out.progress, external);
  if (!w.is_ok()) return w.status();
  if (w->lost) {
    lost = true;
    return Status::ok();
  }
  // The progress just written holds the job's row lock until the final status commits.
  std::optional<std::string> message;
  std::optional<int64_t> pending;
  switch (out.state) {
    case JobState::kSucceeded:
      // The decided conflicts join the catalog with the final status: all or nothing, so a
      // commit cut off before it resumes and copies them then, once.
      if (external) DBSYNC_RETURN_IF_ERROR(external->record_conflicts());
      if (!row_errors.empty()) message = row_errors;
      break;
    case JobState::kCancelled:
      // Its stage is dropped and its undecided conflicts end skipped (the catalog stage's; a
      // Redis stage's go with its keys): dbsync.finish_job.
      break;
    case JobState::kAwaitingResolution:
      if (external) {
        // Decisions in Redis are made by dbsyncd (daemon/redis_conflicts.*), which locks the
        // job's row while it decides: counted under our lock, a last decision is never missed.
        // Unknown counts as pending: the job waits.
        Result<int64_t> waiting = stage.pending_conflicts();
        pending = waiting.is_ok() ? *waiting : 1;
      }
      // Else the catalog counts them (dbsync.resolve locks the job row too).
      break;
    case JobState::kFailed:
      message = out.error.message();
      break;
  }
  Result<std::optional<std::string>> recorded =
      jobs::finish(txn, job.id, progress.executor(), out.state, message, pending);
  if (!recorded.is_ok()) return recorded.status();
  if (!*recorded) lost = true;
  return Status::ok();
}

// Back to the queue for any executor, from the last committed checkpoint (a graceful stop).
Status release(JobTransaction& txn, const ClaimedJob& job, const std::string& executor) {
  DBSYNC_RETURN_IF_ERROR(jobs::release(txn, job.id, executor).status());
  return txn.commit();
}

JobResult failed(pg::PgConnection& master, const ClaimedJob& job, const JobContext& ctx,
                 const std::string& message) {
  (void)record_job_failure(master, job.id, ctx.executor, message);
  return JobResult{JobEnd::kFinished, "failed", message};
}

// The stage's server is unreachable: the job goes back to the queue (checkpoint and stage kept)
// with a backoff (dbsync.pause_job), the reason in its error and phase 'paused'. The next claim
// resumes it from its checkpoint.
JobResult pause(pg::PgConnection& master, const ClaimedJob& job, const JobContext& ctx,
                const std::string& where, const Status& why) {
  master.rollback_quietly();
  PqCatalogSession catalog(master);
  Result<std::optional<std::string>> r =
      jobs::pause(catalog, job.id, ctx.executor, where, why.message());
  if (!r.is_ok())
    return JobResult{JobEnd::kReleased, "running", "could not pause: " + r.status().message()};
  if (!*r) return JobResult{JobEnd::kLost, "lost", "another executor took the job over"};
  return JobResult{JobEnd::kReleased, "queued", **r};
}

}  // namespace

Status mark_stage_cleared(pg::PgConnection& master, int64_t job_id) {
  master.rollback_quietly();
  return master.query(catalog_sql::kMarkStageCleared, {PgParam::text(jobs::id_array({job_id}))})
      .status();
}

StageFactory catalog_stage_factory() {
  return [](JobTransaction& txn, const ClaimedJob& job, const JobSync& sync,
            const JobContext&) -> Result<std::unique_ptr<Stage>> {
    return std::unique_ptr<Stage>(new CatalogStage(txn, num(job.id), sync.id, *sync.mapper));
  };
}

Status record_job_failure(pg::PgConnection& master, int64_t job_id, const std::string& executor,
                          const std::string& message) {
  master.rollback_quietly();
  PqCatalogSession catalog(master);
  return jobs::fail(catalog, job_id, executor, message).status();
}

JobResult run_job(pg::PgConnection& master, const ClaimedJob& job, const JobContext& ctx,
                  const StageFactory& stages) {
  // The extension's rule, checked by the master: an owner, its local tables, its privileges.
  if (Result<pg::PgResult> chk = master.query("SELECT dbsync.check_sync_privileges($1::bigint)",
                                              {PgParam::text(num(job.sync_id))});
      !chk.is_ok())
    return failed(master, job, ctx, chk.status().message());

  Result<std::unique_ptr<JobSync>> loaded =
      load_job_sync(master, ctx.master_conninfo, job.sync_id, ctx.key);
  if (!loaded.is_ok()) return failed(master, job, ctx, loaded.status().message());
  JobSync& sync = **loaded;
  const std::string context = "sync \"" + sync.name + "\"";
  const FieldMapper& m = *sync.mapper;
  const size_t batch = static_cast<size_t>(sync.batch_size);

  // The job's transaction: on the target's own connection when the target shares the master's
  // transaction (its rows commit with the batch's catalog writes), else on a connection of its
  // own.
  const bool local_target = sync.target.caps.shares_master_transaction;
  pg::PgConnection own;
  if (!local_target) {
    Result<pg::PgConnection> c = pg::PgConnection::connect(ctx.master_conninfo);
    if (!c.is_ok()) return failed(master, job, ctx, c.status().message());
    own = std::move(c).value();
    if (Status st = use_catalog_search_path(own); !st.is_ok())
      return failed(master, job, ctx, st.message());
  }
  JobTransaction txn(local_target ? *sync.target.master_connection : own);
  CatalogBaseline baseline(txn, sync.id, batch);
  baseline.audit_job(num(job.id), m);
  Result<std::unique_ptr<Stage>> stage = stages(txn, job, sync, ctx);
  if (!stage.is_ok()) {
    txn.rollback();
    if (stage.status().code() == ErrorCode::kUnavailable)
      return pause(master, job, ctx, "Redis", stage.status());
    return failed(master, job, ctx, stage.status().with_context(context).message());
  }
  ExternalStage* external = dynamic_cast<ExternalStage*>(stage->get());
  if (external && job.step == "commit") {
    // A stage whose TTL ran out (or that was cleared) would commit nothing: fail clearly.
    Result<bool> there = external->exists();
    if (!there.is_ok()) {
      if (there.status().code() == ErrorCode::kUnavailable)
        return pause(master, job, ctx, external->where(), there.status());
      return failed(master, job, ctx, there.status().with_context(context).message());
    }
    if (!*there)
      return failed(master, job, ctx,
                    context + ": the change set of job " + num(job.id) + " is no longer in " +
                        external->where() +
                        " (its TTL ran out or it was deleted); nothing was applied: run the sync "
                        "again");
  }
  std::optional<DeferredTarget> deferred;
  Target* target = sync.target.table.get();
  if (local_target)
    target = &deferred.emplace(*sync.target.table, sync.target.caps.fingerprints, txn);
  Target* source_writer = nullptr;
  if (sync.policy.direction == Direction::kTwoWay) source_writer = sync.source.table.get();
  SyncEndpoints endpoints{
      sync.source.table.get(), source_writer, target, &baseline, stage->get(), nullptr};

  jobs::ProgressWriter progress(job, ctx.executor, ctx.lease_seconds);
  Result<SyncExecutor> executor = SyncExecutor::create(m, sync.policy, endpoints);
  if (!executor.is_ok())
    return failed(master, job, ctx, executor.status().with_context(context).message());

  JobOptions options;
  Result<std::optional<Row>> resume = jobs::decode_key(job.checkpoint, "checkpoint");
  Result<std::optional<Row>> resume_source =
      jobs::decode_key(job.source_checkpoint, "source checkpoint");
  if (!resume.is_ok()) return failed(master, job, ctx, resume.status().message());
  if (!resume_source.is_ok()) return failed(master, job, ctx, resume_source.status().message());
  options.resume_after = *resume;
  options.resume_after_source = *resume_source;
  options.now_micros = now_unix_micros();
  options.batch_size = batch;

  bool cancel = false, lost = false;
  std::optional<Status> broken;  // a batch that could not be committed: the job fails
  // dbsync.cancel is read from the job's row each time the executor polls (every 1024 rows and
  // before each batch is applied or staged), on the master connection, which is idle meanwhile.
  // A staged change set that commits is never cancelled: it carries the decisions made on its
  // conflicts (a stop or a lost lease still ends the attempt; it resumes).
  bool committing = job.step == "commit";
  auto user_cancel = [&] {
    if (committing) return false;
    if (!cancel) {
      Result<pg::PgResult> r =
          master.query(catalog_sql::kCancelRequested, {PgParam::text(num(job.id))});
      cancel = r.is_ok() && r->rows() > 0;
    }
    return cancel || (ctx.cancel_seen && ctx.cancel_seen());
  };
  options.cancelled = [&] {
    return lost || broken || (ctx.stopping && ctx.stopping()) || user_cancel();
  };
  options.on_progress = [&](const Progress& p) {
    if (p.phase == "committing") committing = true;
    if (lost || broken) return;
    Result<jobs::ProgressWriter::Written> w = write_progress(txn, progress, p, external);
    if (!w.is_ok() || w->lost) {
      txn.rollback();
      if (deferred) deferred->drop();
      if (!w.is_ok())
        broken = w.status();
      else
        lost = true;
      return;
    }
    cancel = cancel || w->cancel;
    if (deferred && deferred->has_pending()) {
      // Its COMMIT commits the batch's catalog writes too; a failure rolls all of it back.
      Status st = deferred->flush();
      if (!st.is_ok()) {
        txn.rollback();
        broken = st.with_context("applying to the target");
        return;
      }
      // The target's retry path (an insert batch whose keys appeared meanwhile) starts over in
      // a transaction of its own: then our writes were rolled back, and the job must not go on.
      Result<pg::PgResult> x =
          master.query("SELECT txid_status($1::bigint)", {PgParam::text(w->xid)});
      if (!x.is_ok() || x->get(0, 0) != "committed") {
        broken = error(ErrorCode::kConflict,
                       "rows appeared in the target while the job ran; run the sync again");
        return;
      }
    }
    if (Status st = txn.commit(); !st.is_ok()) broken = st.with_context("committing a batch");
  };
  std::vector<std::string> row_errors;
  options.on_row_error = [&](const Row& key, const Status& why) {
    if (row_errors.size() < kMaxReportedRowErrors)
      row_errors.push_back(render_key(m, key) + ": " + why.message());
  };

  JobOutcome out = job.step == "commit" ? executor->commit(options) : executor->run(options);
  if (lost) {
    txn.rollback();
    return JobResult{JobEnd::kLost, "lost", "another executor took the job over"};
  }
  if (broken) {
    out.state = JobState::kFailed;
    out.error = *broken;
  }
  const bool cancelled_by_user = !committing && (cancel || (ctx.cancel_seen && ctx.cancel_seen()));
  if (out.state == JobState::kCancelled && !cancelled_by_user) {
    // A graceful stop: what was committed stays (with its checkpoint); the rest is undone.
    txn.rollback();
    Status st = release(txn, job, ctx.executor);
    if (!st.is_ok()) {
      txn.rollback();
      return JobResult{JobEnd::kReleased, "running", "could not release: " + st.message()};
    }
    return JobResult{JobEnd::kReleased, "queued", {}};
  }
  if (out.state == JobState::kFailed) {
    // Whatever the failed batch wrote since the last commit is dropped with the transaction.
    txn.rollback();
    if (deferred) deferred->drop();
    // Only the stage's own failure pauses the job (a target that is down still fails it).
    if (!broken && external) {
      if (std::optional<Status> down = external->unavailable())
        return pause(master, job, ctx, external->where(), *down);
    }
    out.error = out.error.with_context(context);
  }
  // A cancel that came after the executor's last poll: nobody could decide a conflict since it
  // was requested (decisions are refused then), so the job ends cancelled, not waiting.
  if (out.state == JobState::kAwaitingResolution && user_cancel()) out.state = JobState::kCancelled;
  Status st =
      finish(txn, job, out, progress, row_errors_text(job.errors + out.progress.errors, row_errors),
             lost, **stage, external);
  if (st.is_ok() && lost) {
    txn.rollback();
    return JobResult{JobEnd::kLost, "lost", "another executor took the job over"};
  }
  if (st.is_ok()) st = txn.commit();
  if (!st.is_ok()) {
    txn.rollback();
    if (external) {
      // Redis went away while the conflicts were copied: nothing of the final status was
      // committed, so the job pauses and its commit step copies them when Redis is back.
      if (std::optional<Status> down = external->unavailable())
        return pause(master, job, ctx, external->where(), *down);
    }
    std::string message = st.with_context(context).message();
    (void)record_job_failure(master, job.id, ctx.executor, message);
    return JobResult{JobEnd::kFinished, "failed", message};
  }
  if (external && out.state != JobState::kAwaitingResolution) {
    // Finished: its keys go now (the janitor retries when this fails; see StageJanitor).
    if (external->drop().is_ok()) (void)mark_stage_cleared(master, job.id);
  }
  return JobResult{JobEnd::kFinished, job_state_name(out.state),
                   out.state == JobState::kFailed ? out.error.message() : std::string()};
}

}  // namespace dbsync::daemon
