#include "extension/src/job_runner.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/catalog_sql.hpp"
#include "common/job_catalog.hpp"
#include "engine/row_codec.hpp"
#include "engine/sync_executor.hpp"
#include "extension/src/catalog_baseline.hpp"
#include "extension/src/catalog_stage.hpp"
#include "extension/src/local_source.hpp"
#include "extension/src/local_target.hpp"
#include "extension/src/pg/errors.hpp"
#include "extension/src/pg/session.hpp"
#include "extension/src/pg/spi_catalog_session.hpp"
#include "extension/src/pg/xact.hpp"
#include "extension/src/syncs.hpp"

namespace dbsync::ext {
namespace {

using pg::spi::Param;

constexpr size_t kMaxReportedRowErrors = 5;

std::string num(int64_t v) { return std::to_string(v); }

std::optional<Row> decode_key(const std::optional<std::string>& bytes, const char* what) {
  return pg::value_or_throw(jobs::decode_key(bytes, what));
}

// Whether dbsync.cancel asked the job to stop: one primary-key lookup, planned once per job.
class CancelPoll {
 public:
  explicit CancelPoll(int64_t job_id) : job_id_(num(job_id)) {}
  bool requested() {
    pg::spi::with_safe_search_path([&] {
      if (!plan_.prepared()) plan_.prepare(catalog_sql::kCancelRequested, 1);
      pg::spi::run_bytes_into(plan_, {job_id_}, page_);
    });
    return !page_.empty();
  }

 private:
  std::string job_id_;
  pg::spi::KeptPlan plan_;
  pg::spi::BytesPage page_;
};

// How the job ended, with its final counts, in the job's transaction (committed by the caller).
// False when the job was lost to another executor: nothing recorded (the caller aborts).
bool finish(pg::SpiCatalogSession& catalog, const ClaimedJob& job, const JobOutcome& out,
            jobs::ProgressWriter& progress, const std::string& row_errors) {
  jobs::ProgressWriter::Written w = pg::value_or_throw(progress.write(catalog, out.progress));
  if (w.lost) return false;
  std::optional<std::string> error;
  if (out.state == JobState::kSucceeded && !row_errors.empty()) error = row_errors;
  if (out.state == JobState::kFailed) error = out.error.message();
  return pg::value_or_throw(jobs::finish(catalog, job.id, progress.executor(), out.state, error))
      .has_value();
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
    throw pg::PgError(pg::sqlstate("42704"), "sync " + num(sync_id) + " does not exist");
  return SyncOwner{r.text(0, 0), r.text(0, 1) != "t", r.at(0, 2)};
}

}  // namespace

void run_claimed_job(const ClaimedJob& job, const std::string& executor) {
  const SyncOwner owner = sync_owner(job.sync_id);
  const std::string& name = owner.name;
  CheckedSync k = load_postgres_sync_by_id(job.sync_id, owner.require_password);
  // Local tables are read and written with the owner's privileges, checked now (they may have
  // been revoked since the sync was saved); a sync without a live owner does not run.
  if (!owner.role_oid)
    throw pg::PgError(pg::sqlstate("42501"),
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
  pg::SpiCatalogSession catalog;
  CatalogStage stage(catalog, num(job.id), num(job.sync_id), m);
  SyncEndpoints endpoints{source.get(), source_writer, target, &baseline, &stage, nullptr};

  jobs::ProgressWriter progress(job, executor, kWorkerLeaseSeconds);
  Result<SyncExecutor> sync_executor = SyncExecutor::create(m, k.policy, endpoints);
  if (!sync_executor.is_ok()) {
    JobOutcome failed;
    failed.error = sync_executor.status().with_context("sync \"" + name + "\"");
    if (!finish(catalog, job, failed, progress, {})) {
      pg::xact::abort();
      pg::xact::begin();
    }
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
  bool cancel = false, lost = false;
  bool committing = job.step == "commit";
  CancelPoll poll(job.id);
  options.cancelled = [&] {
    if (lost) return true;
    if (committing) return false;
    cancel = cancel || poll.requested();
    return cancel;
  };
  options.on_progress = [&](const Progress& p) {
    if (p.phase == "committing") committing = true;
    if (lost) return;
    jobs::ProgressWriter::Written w = pg::value_or_throw(progress.write(catalog, p));
    // Lost: the batch is not committed (it is rolled back below) and the executor stops before
    // applying the next one.
    lost = w.lost;
    if (lost) return;
    cancel = w.cancel || cancel;
    pg::xact::commit_and_continue();
  };
  std::vector<std::string> row_errors;
  options.on_row_error = [&](const Row& key, const Status& why) {
    if (row_errors.size() < kMaxReportedRowErrors)
      row_errors.push_back(render_row(m, key) + ": " + why.message());
  };

  JobOutcome out =
      job.step == "commit" ? sync_executor->commit(options) : sync_executor->run(options);
  if (lost) {
    // Another executor took the job over: what this one wrote since its last commit goes.
    pg::xact::abort();
    pg::xact::begin();
    return;
  }
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
  if (!finish(catalog, job, out, progress,
              row_errors_text(job.errors + out.progress.errors, row_errors))) {
    pg::xact::abort();  // lost to another executor at the last moment: nothing of it stays
    pg::xact::begin();
  }
}

void record_job_failure(int64_t job_id, const std::string& executor, const std::string& message) {
  pg::xact::begin();
  pg::SpiCatalogSession catalog;
  (void)pg::value_or_throw(jobs::fail(catalog, job_id, executor, message));
  pg::xact::commit();
}

}  // namespace dbsync::ext
