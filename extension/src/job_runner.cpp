#include "extension/src/job_runner.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>  // before PostgreSQL's headers (port.h redefines snprintf)

#include "common/catalog_sql.hpp"
#include "engine/job_progress.hpp"
#include "engine/row_codec.hpp"
#include "engine/sync_executor.hpp"
#include "extension/src/catalog_baseline.hpp"
#include "extension/src/catalog_stage.hpp"
#include "extension/src/local_source.hpp"
#include "extension/src/local_target.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/pg/xact.hpp"
#include "extension/src/syncs.hpp"

namespace dbsync::ext {
namespace {

using pg::spi::Param;

constexpr size_t kMaxReportedRowErrors = 5;

std::string num(int64_t v) { return std::to_string(v); }

Param bytes_param(const std::optional<Row>& key) {
  if (!key) return std::nullopt;
  return pg::spi::bytea_hex(encode_sortable_key(*key));
}

std::optional<Row> decode_key(const std::optional<std::string>& bytes, const char* what) {
  if (!bytes) return std::nullopt;
  Result<Row> key = decode_sortable_key(*bytes);
  if (!key.is_ok())
    throw pg::PgError(ERRCODE_DATA_CORRUPTED, std::string("the job's ") + what +
                                                  " does not decode: " + key.status().message());
  return std::move(key).value();
}

// The job's counts: what earlier attempts committed plus this attempt's progress.
struct Counts {
  const ClaimedJob& base;
  std::vector<Param> params(const Progress& p) const {
    return {num(base.scanned + p.scanned),
            num(base.inserted + p.inserted),
            num(base.updated + p.updated),
            num(base.deleted + p.deleted),
            num(base.unchanged + p.unchanged),
            num(base.conflicts + p.conflicts),
            num(base.errors + p.errors),
            num(p.source_inserted),
            num(p.source_updated),
            num(p.source_deleted)};
  }
};

using catalog_sql::kJobCountColumns;

// Progress after a batch (the caller commits): counts, checkpoint, a renewed lease. Returns
// whether a cancel was requested. Source write-back counts are added per report, so the
// reported deltas are tracked here.
class ProgressWriter {
 public:
  explicit ProgressWriter(const ClaimedJob& job) : job_(job) {}

  bool write(const Progress& p) {
    const ProgressTally::Report report = tally_.next(p);
    tally_.written(report);
    const Progress& shown = report.shown;
    const Progress& delta = report.delta;

    std::vector<Param> params{num(job_.id), shown.phase};
    for (Param& c : Counts{job_}.params(delta)) params.push_back(std::move(c));
    params.push_back(shown.total >= 0 ? Param(num(shown.total)) : Param());
    params.push_back(bytes_param(shown.checkpoint));
    params.push_back(bytes_param(shown.source_checkpoint));
    pg::spi::Rows r = pg::spi::query(
        std::string("UPDATE dbsync.jobs SET phase = $2, ") + kJobCountColumns +
            ", total = $13::bigint, checkpoint = $14::bytea, source_checkpoint = $15::bytea, "
            "lease_until = now() + interval '5 minutes' WHERE id = $1::bigint "
            "RETURNING cancel_requested",
        params);
    return !r.empty() && r.text(0, 0) == "t";
  }

 private:
  const ClaimedJob& job_;
  ProgressTally tally_;
};

// Whether dbsync.cancel asked the job to stop: one primary-key lookup, planned once per job.
class CancelPoll {
 public:
  explicit CancelPoll(int64_t job_id) : job_id_(num(job_id)) {}
  bool requested() {
    pg::spi::with_safe_search_path([&] {
      if (!plan_.prepared())
        plan_.prepare(
            "SELECT ''::bytea FROM dbsync.jobs WHERE id = $1::bigint AND cancel_requested", 1);
      pg::spi::run_bytes_into(plan_, {job_id_}, page_);
    });
    return !page_.empty();
  }

 private:
  std::string job_id_;
  pg::spi::KeptPlan plan_;
  pg::spi::BytesPage page_;
};

// A cancelled job keeps nothing staged, and its conflicts nobody decided end skipped (they can
// no longer be decided: the job is over), as when a job waiting for decisions is cancelled.
void drop_cancelled_stage(const ClaimedJob& job) {
  (void)pg::spi::query("SELECT dbsync.drop_cancelled_stage($1::bigint)", {num(job.id)});
}

// How the job ended, with its final counts (the transaction is committed by the caller).
void finish(const ClaimedJob& job, const JobOutcome& out, ProgressWriter& progress,
            const std::string& row_errors) {
  (void)progress.write(out.progress);
  std::string sql;
  std::vector<Param> params{num(job.id)};
  switch (out.state) {
    case JobState::kSucceeded:
      sql =
          "UPDATE dbsync.jobs SET status = 'succeeded', phase = 'done', finished_at = now(), "
          "executor = NULL, lease_until = NULL, error = $2 WHERE id = $1::bigint";
      params.push_back(row_errors.empty() ? Param() : Param(row_errors));
      break;
    case JobState::kCancelled:
      drop_cancelled_stage(job);
      sql =
          "UPDATE dbsync.jobs SET status = 'cancelled', finished_at = now(), executor = NULL, "
          "lease_until = NULL, error = 'cancelled' WHERE id = $1::bigint";
      break;
    case JobState::kAwaitingResolution:
      // Decisions may have come in since the engine counted them: with none left pending the
      // job goes straight back to the queue to commit (dbsync.resolve locks the job row too).
      sql =
          "UPDATE dbsync.jobs j SET executor = NULL, lease_until = NULL, step = 'commit', "
          "status = CASE WHEN EXISTS (SELECT 1 FROM dbsync.conflicts c WHERE c.job_id = j.id "
          "AND c.status = 'pending') THEN 'awaiting_resolution' ELSE 'queued' END, "
          "phase = 'awaiting_resolution', not_before = now() WHERE j.id = $1::bigint";
      break;
    case JobState::kFailed:
      sql =
          "UPDATE dbsync.jobs SET status = 'failed', finished_at = now(), executor = NULL, "
          "lease_until = NULL, error = $2 WHERE id = $1::bigint";
      params.push_back(out.error.message());
      break;
  }
  (void)pg::spi::query(sql, params);
}

// The sync's name, and whether remote connections made for it need a password: they are made
// for the role that created the sync, and a role that is not a superuser must not reach a
// server through trust authentication (dblink's rule). A sync without a recorded creator, or
// whose creator is gone, is treated as not a superuser's.
struct SyncOwner {
  std::string name;
  bool require_password = true;
  std::optional<std::string> role_oid;  // created_by; none when the row was not made by create_sync
};

SyncOwner sync_owner(int64_t sync_id) {
  pg::spi::Rows r = pg::spi::query(
      "SELECT s.name, COALESCE(a.rolsuper, false), a.oid::text FROM dbsync.syncs s "
      "LEFT JOIN pg_roles a ON a.oid = s.created_by WHERE s.id = $1::bigint",
      {num(sync_id)});
  if (r.empty())
    throw pg::PgError(ERRCODE_UNDEFINED_OBJECT, "sync " + num(sync_id) + " does not exist");
  return SyncOwner{r.text(0, 0), r.text(0, 1) != "t", r.at(0, 2)};
}

}  // namespace

void run_claimed_job(const ClaimedJob& job) {
  const SyncOwner owner = sync_owner(job.sync_id);
  const std::string& name = owner.name;
  CheckedSync k = load_postgres_sync_by_id(job.sync_id, owner.require_password);
  // Local tables are read and written with the owner's privileges, checked now (they may have
  // been revoked since the sync was saved); a sync without a live owner does not run.
  if (!owner.role_oid)
    throw pg::PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      "sync \"" + name +
                          "\" has no owner (its creating role is gone, or it was not saved by "
                          "dbsync.create_sync)",
                      "",
                      "Save it again with dbsync.alter_sync as a role that may use its tables.");
  check_local_privileges(k, *owner.role_oid);
  const FieldMapper& m = *k.mapper;
  const size_t batch = static_cast<size_t>(k.batch_size);

  // Local ends through SPI, remote ones through their PgTable (non-blocking libpq).
  std::unique_ptr<Source> source = source_reader(k);
  std::optional<LocalTarget> local_target, local_source_writer;
  Target* target = k.target.remote ? static_cast<Target*>(k.target.remote.get())
                                   : &local_target.emplace(*k.target.local);
  Target* source_writer = nullptr;
  if (k.policy.direction == Direction::kTwoWay)
    source_writer = k.source.remote ? static_cast<Target*>(k.source.remote.get())
                                    : &local_source_writer.emplace(*k.source.local, k.filter);
  CatalogBaseline baseline(k.id, batch);
  baseline.audit_job(num(job.id), m);
  CatalogStage stage(num(job.id), num(job.sync_id), m);
  SyncEndpoints endpoints{source.get(), source_writer, target, &baseline, &stage, nullptr};

  ProgressWriter progress(job);
  Result<SyncExecutor> executor = SyncExecutor::create(m, k.policy, endpoints);
  if (!executor.is_ok()) {
    JobOutcome failed;
    failed.error = executor.status().with_context("sync \"" + name + "\"");
    finish(job, failed, progress, {});
    return;
  }

  JobOptions options;
  options.resume_after = decode_key(job.checkpoint, "checkpoint");
  options.resume_after_source = decode_key(job.source_checkpoint, "source checkpoint");
  options.now_micros = now_unix_micros();
  options.batch_size = batch;
  // A cancel is read from the job's row each time the executor polls (every 1024 rows and
  // before each batch is applied or staged): a primary-key lookup with a kept plan. A staged
  // change set that commits is never cancelled: it carries the decisions made on its conflicts.
  bool cancel = false;
  bool committing = job.step == "commit";
  CancelPoll poll(job.id);
  options.cancelled = [&] {
    if (committing) return false;
    cancel = cancel || poll.requested();
    return cancel;
  };
  options.on_progress = [&](const Progress& p) {
    if (p.phase == "committing") committing = true;
    cancel = progress.write(p) || cancel;
    pg::xact::commit_and_continue();
  };
  std::vector<std::string> row_errors;
  options.on_row_error = [&](const Row& key, const Status& why) {
    if (row_errors.size() < kMaxReportedRowErrors)
      row_errors.push_back(render_row(m, key) + ": " + why.message());
  };

  JobOutcome out = job.step == "commit" ? executor->commit(options) : executor->run(options);
  if (out.state == JobState::kFailed) {
    // Whatever the failed batch wrote since the last commit is dropped with the transaction.
    pg::xact::abort();
    pg::xact::begin();
    out.error = out.error.with_context("sync \"" + name + "\"");
  }
  // A cancel that came after the executor's last poll: nobody could decide a conflict since it
  // was requested (dbsync.resolve refuses then), so the job ends cancelled, not waiting.
  if (out.state == JobState::kAwaitingResolution && (cancel || poll.requested()))
    out.state = JobState::kCancelled;
  finish(job, out, progress, row_errors_text(job.errors + out.progress.errors, row_errors));
}

void record_job_failure(int64_t job_id, const std::string& message) {
  pg::xact::begin();
  (void)pg::spi::query(
      "UPDATE dbsync.jobs SET status = 'failed', finished_at = now(), executor = NULL, "
      "lease_until = NULL, error = $2 WHERE id = $1::bigint AND finished_at IS NULL",
      {num(job_id), message});
  pg::xact::commit();
}

}  // namespace dbsync::ext
