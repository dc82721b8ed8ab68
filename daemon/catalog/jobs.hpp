// Jobs as the API shows them (dbsync.job_status, job_list), their audit trail
// (dbsync.audit_log), the event hub's poll, and the job and conflict gauges of /metrics.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

// A job's JSON (dbsync.job_status, duration in ms); nullopt: no such job.
DbResult<std::optional<nlohmann::json>> job_status(pg::PgConnection& db, long long id);
DbResult<bool> job_exists(pg::PgConnection& db, long long id);

struct JobFilter {
  std::optional<std::string> status;
  std::optional<std::string> sync_name;
  std::optional<long long> sync_id;
  std::optional<long long> before;  // ids below this one
  long long limit = 50;
};
// Newest first.
DbResult<nlohmann::json> list_jobs(pg::PgConnection& db, const JobFilter& filter);

// One page of applied changes (dbsync.audit_log) by (audit_id, position) after the cursor, of
// one sync's or one job's jobs. At most limit + 1 audit rows (batches) are expanded per page:
// each holds one change at least.
struct AuditPage {
  std::optional<long long> sync_id;
  std::optional<long long> job_id;
  long long after_audit = 0;
  long long after_position = 0;
  long long limit = 100;
};
DbResult<nlohmann::json> audit_page(pg::PgConnection& db, const AuditPage& page);

// What an event stream sends first and the hub polls: the job (dbsync.job_list without its
// duration) and its status.
struct JobState {
  long long id = 0;
  std::string status;
  std::string json;  // compact
};
DbResult<std::optional<JobState>> job_state(pg::PgConnection& db, long long id);
// The jobs among `ids` that exist.
DbResult<std::vector<JobState>> job_states(pg::PgConnection& db, const std::vector<long long>& ids);

// The gauges of /metrics.
struct CatalogGauges {
  std::vector<std::pair<std::string, std::string>> jobs_by_status;  // every status, maybe 0
  std::optional<std::string> conflicts_pending;
  // inserted, updated, deleted on the target, then on the source; empty when unread.
  std::vector<std::string> rows_applied;
};
DbResult<CatalogGauges> catalog_gauges(pg::PgConnection& db);

}  // namespace dbsync::daemon::catalog
