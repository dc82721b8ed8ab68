#include "daemon/catalog/jobs.hpp"

namespace dbsync::daemon::catalog {

using nlohmann::json;

namespace {
const char* kJobJson =
    "SELECT to_jsonb(l) - 'duration' || jsonb_build_object('duration_ms', "
    "round(extract(epoch FROM l.duration) * 1000)) ";
}  // namespace

DbResult<std::optional<json>> job_status(pg::PgConnection& db, long long id) {
  return json_row(db, std::string(kJobJson) + "FROM dbsync.job_status($1::bigint) l",
                  {std::to_string(id)});
}

DbResult<bool> job_exists(pg::PgConnection& db, long long id) {
  auto r = run(db, "SELECT 1 FROM dbsync.jobs WHERE id = $1::bigint", {std::to_string(id)});
  if (!r.is_ok()) return r.failure();
  return r.value().rows() > 0;
}

DbResult<json> list_jobs(pg::PgConnection& db, const JobFilter& f) {
  return json_rows(
      db,
      std::string(kJobJson) +
          "FROM dbsync.job_list l JOIN dbsync.jobs j ON j.id = l.id"
          " WHERE ($1::text IS NULL OR j.status = $1)"
          "   AND ($2::text IS NULL OR l.sync = $2)"
          "   AND ($3::bigint IS NULL OR j.sync_id = $3)"
          "   AND ($4::bigint IS NULL OR j.id < $4)"
          " ORDER BY j.id DESC LIMIT $5",
      {f.status, f.sync_name, id_param(f.sync_id), id_param(f.before), std::to_string(f.limit)});
}

DbResult<json> audit_page(pg::PgConnection& db, const AuditPage& p) {
  return json_rows(db,
                   "SELECT jsonb_build_object('job_id', l.job_id, 'sync_id', l.sync_id, "
                   "'side', l.side, 'at', l.at, 'key', l.key, 'operation', l.operation, "
                   "'fields', to_jsonb(l.fields), 'audit_id', l.audit_id, 'position', "
                   "l.position) FROM dbsync.audit_log l"
                   " WHERE l.audit_id = ANY (ARRAY("
                   "   SELECT a.id FROM dbsync.audit a JOIN dbsync.jobs j ON j.id = a.job_id"
                   "    WHERE ($1::bigint IS NULL OR j.sync_id = $1)"
                   "      AND ($2::bigint IS NULL OR a.job_id = $2) AND a.id >= $3::bigint"
                   "    ORDER BY a.id LIMIT $5::bigint + 1))"
                   "   AND (l.audit_id, l.position) > ($3::bigint, $4::bigint)"
                   " ORDER BY l.audit_id, l.position LIMIT $5::bigint",
                   {id_param(p.sync_id), id_param(p.job_id), std::to_string(p.after_audit),
                    std::to_string(p.after_position), std::to_string(p.limit)});
}

DbResult<std::optional<JobState>> job_state(pg::PgConnection& db, long long id) {
  auto r = run(db,
               "SELECT l.id, l.status, to_jsonb(l) - 'duration' "
               "FROM dbsync.job_status($1::bigint) l",
               {std::to_string(id)});
  if (!r.is_ok()) return r.failure();
  const pg::PgResult& rows = r.value();
  if (rows.rows() == 0) return std::optional<JobState>{};
  return std::optional<JobState>{JobState{std::stoll(std::string(rows.get(0, 0))),
                                          std::string(rows.get(0, 1)),
                                          parse_json(rows.get(0, 2)).dump()}};
}

DbResult<std::vector<JobState>> job_states(pg::PgConnection& db,
                                           const std::vector<long long>& ids) {
  std::string array = "{";
  for (long long id : ids) array += (array.size() > 1 ? "," : "") + std::to_string(id);
  array += "}";
  auto r = run(db,
               "SELECT l.id, l.status, to_jsonb(l) - 'duration' FROM dbsync.job_list l "
               "WHERE l.id = ANY($1::bigint[])",
               {array});
  if (!r.is_ok()) return r.failure();
  std::vector<JobState> out;
  const pg::PgResult& rows = r.value();
  for (int i = 0; i < rows.rows(); ++i)
    // Compact (a change is a different text).
    out.push_back(JobState{std::stoll(std::string(rows.get(i, 0))), std::string(rows.get(i, 1)),
                           parse_json(rows.get(i, 2)).dump()});
  return out;
}

DbResult<CatalogGauges> catalog_gauges(pg::PgConnection& db) {
  auto jobs = run(db,
                  "SELECT s.status, count(j.id) FROM unnest(ARRAY['queued','running',"
                  "'awaiting_resolution','committing','succeeded','failed','cancelled']) "
                  "s(status) LEFT JOIN dbsync.jobs j ON j.status = s.status "
                  "GROUP BY s.status ORDER BY s.status");
  if (!jobs.is_ok()) return jobs.failure();
  CatalogGauges g;
  for (int i = 0; i < jobs.value().rows(); ++i)
    g.jobs_by_status.emplace_back(jobs.value().get(i, 0), jobs.value().get(i, 1));
  // The others are best effort: a gauge that cannot be read is left out of the scrape.
  if (auto c = run(db, "SELECT count(*) FROM dbsync.conflicts WHERE status = 'pending'"); c.is_ok())
    g.conflicts_pending = std::string(c.value().get(0, 0));
  // Sums over the jobs the catalog keeps (deleting old jobs lowers them).
  if (auto a = run(db,
                   "SELECT COALESCE(sum(inserted), 0), COALESCE(sum(updated), 0), "
                   "COALESCE(sum(deleted), 0), COALESCE(sum(source_inserted), 0), "
                   "COALESCE(sum(source_updated), 0), COALESCE(sum(source_deleted), 0) "
                   "FROM dbsync.jobs");
      a.is_ok())
    for (int i = 0; i < 6; ++i) g.rows_applied.emplace_back(a.value().get(0, i));
  return g;
}

}  // namespace dbsync::daemon::catalog
