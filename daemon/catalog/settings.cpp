#include "daemon/catalog/settings.hpp"

#include "common/catalog_sql.hpp"

namespace dbsync::daemon::catalog {

DbResult<nlohmann::json> daemon_settings(pg::PgConnection& db) {
  auto r = json_rows(db,
                     "SELECT COALESCE(jsonb_object_agg(substr(key, 8), value), '{}') "
                     "FROM dbsync.settings WHERE key LIKE 'daemon.%'");
  if (!r.is_ok()) return r.failure();
  return std::move(r.value()[0]);
}

DbResult<StoredRedis> stored_redis(pg::PgConnection& db) {
  auto r = run(db, catalog_sql::kRedisSettings);
  if (!r.is_ok()) return r.failure();
  const pg::PgResult& rows = r.value();
  StoredRedis s;
  if (!rows.is_null(0, 0)) s.url = std::string(rows.get(0, 0));
  if (!rows.is_null(0, 1)) s.password_type = std::string(rows.get(0, 1));
  if (!rows.is_null(0, 2)) s.password = std::string(rows.get(0, 2));
  return s;
}

DbStatus put_daemon_setting(pg::PgConnection& db, const std::string& name,
                            const std::optional<std::string>& value, bool sealed) {
  const std::string key = "daemon." + name;
  if (!value) return exec(db, "DELETE FROM dbsync.settings WHERE key = $1", {key});
  return exec(db,
              std::string("INSERT INTO dbsync.settings (key, value) VALUES ($1, ") +
                  (sealed ? "jsonb_build_object('sealed', $2::text)" : "to_jsonb($2::text)") +
                  ") ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
              {key, *value});
}

DbResult<std::optional<Extension>> dbsync_extension(pg::PgConnection& db) {
  auto r = run(db,
               "SELECT extversion, to_regclass('dbsync.api_tokens') IS NOT NULL "
               "FROM pg_extension WHERE extname = 'dbsync'");
  if (!r.is_ok()) return r.failure();
  if (r.value().rows() == 0) return std::optional<Extension>{};
  return std::optional<Extension>{
      Extension{std::string(r.value().get(0, 0)), r.value().get(0, 1) == "t"}};
}

}  // namespace dbsync::daemon::catalog
