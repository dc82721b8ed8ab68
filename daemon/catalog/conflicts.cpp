#include "daemon/catalog/conflicts.hpp"

namespace dbsync::daemon::catalog {

using nlohmann::json;

DbResult<bool> redis_staged(pg::PgConnection& db, long long sync_id) {
  auto r = run(db,
               "SELECT EXISTS (SELECT 1 FROM dbsync.jobs WHERE sync_id = $1::bigint "
               "AND stage = 'redis' AND status IN ('queued', 'running', "
               "'awaiting_resolution', 'committing'))",
               {std::to_string(sync_id)});
  if (!r.is_ok()) return r.failure();
  return r.value().get(0, 0) == "t";
}

DbResult<json> list_conflicts(pg::PgConnection& db, const ConflictFilter& f) {
  return json_rows(
      db,
      "SELECT to_jsonb(l) FROM dbsync.conflict_list l WHERE l.sync = $1"
      "   AND ($2::text IS NULL OR l.status = $2)"
      "   AND ($3::bigint IS NULL OR l.job_id = $3)"
      "   AND ($4::bigint IS NULL OR l.id > $4)"
      " ORDER BY l.id LIMIT $5",
      {f.sync, f.status, id_param(f.job_id), id_param(f.after), std::to_string(f.limit)});
}

DbResult<std::optional<json>> get_conflict(pg::PgConnection& db, long long id) {
  return json_row(db, "SELECT to_jsonb(l) FROM dbsync.conflict_list l WHERE l.id = $1",
                  {std::to_string(id)});
}

DbResult<std::optional<long long>> conflict_sync(pg::PgConnection& db, long long id) {
  auto r = run(db, "SELECT sync_id FROM dbsync.conflicts WHERE id = $1", {std::to_string(id)});
  if (!r.is_ok()) return r.failure();
  if (r.value().rows() == 0) return std::optional<long long>{};
  return std::optional<long long>{std::stoll(std::string(r.value().get(0, 0)))};
}

DbResult<std::string> resolve(pg::PgConnection& db, long long conflict, const std::string& decision,
                              const DbParam& row_json) {
  auto r = run(db, "SELECT dbsync.resolve($1::bigint, $2, $3::jsonb)",
               {std::to_string(conflict), decision, row_json});
  if (!r.is_ok()) return r.failure();
  return std::string(r.value().get(0, 0));
}

DbResult<json> resolve_all(pg::PgConnection& db, const std::string& sync,
                           const std::string& decision) {
  auto r = json_rows(db, "SELECT to_jsonb(dbsync.resolve_all($1, $2))", {sync, decision});
  if (!r.is_ok()) return r.failure();
  return std::move(r.value()[0]);
}

}  // namespace dbsync::daemon::catalog
