#include "daemon/catalog/datasources.hpp"

namespace dbsync::daemon::catalog {

namespace {
const char* kDatasourceJson =
    "SELECT jsonb_build_object('id', d.id, 'name', d.name, 'kind', d.kind, 'endpoint', "
    "d.endpoint, 'options', d.options, 'created_at', d.created_at, 'updated_at', d.updated_at) "
    "FROM dbsync.datasources d ";
}  // namespace

DbResult<nlohmann::json> list_datasources(pg::PgConnection& db, std::optional<long long> after,
                                          long long limit) {
  return json_rows(db,
                   std::string(kDatasourceJson) +
                       "WHERE ($1::bigint IS NULL OR d.id > $1) ORDER BY d.id LIMIT $2",
                   {id_param(after), std::to_string(limit)});
}

DbResult<std::optional<nlohmann::json>> get_datasource(pg::PgConnection& db, long long id) {
  return json_row(db, std::string(kDatasourceJson) + "WHERE d.id = $1", {std::to_string(id)});
}

DbResult<std::optional<std::string>> datasource_name(pg::PgConnection& db, long long id) {
  auto r = run(db, "SELECT name FROM dbsync.datasources WHERE id = $1", {std::to_string(id)});
  if (!r.is_ok()) return r.failure();
  if (r.value().rows() == 0) return std::optional<std::string>{};
  return std::optional<std::string>{std::string(r.value().get(0, 0))};
}

DbResult<long long> add_datasource(pg::PgConnection& db, const std::string& name,
                                   const std::string& kind, const DbParam& conninfo,
                                   const DbParam& options_json) {
  auto r = run(db, "SELECT dbsync.add_datasource($1, $2, $3, COALESCE($4::jsonb, '{}'))",
               {name, kind, conninfo, options_json});
  if (!r.is_ok()) return r.failure();
  return std::stoll(std::string(r.value().get(0, 0)));
}

DbStatus alter_datasource(pg::PgConnection& db, const std::string& name, const DbParam& conninfo,
                          const DbParam& options_json, const DbParam& new_name) {
  return exec(db, "SELECT dbsync.alter_datasource($1, $2, $3::jsonb, $4)",
              {name, conninfo, options_json, new_name});
}

DbStatus drop_datasource(pg::PgConnection& db, const std::string& name) {
  return exec(db, "SELECT dbsync.drop_datasource($1)", {name});
}

DbResult<std::optional<nlohmann::json>> test_datasource(pg::PgConnection& db,
                                                        const std::string& name) {
  return json_row(db, "SELECT to_jsonb(t) FROM dbsync.test_datasource($1) t", {name});
}

DbResult<nlohmann::json> browse_tables(pg::PgConnection& db, const std::string& datasource,
                                       const DbParam& after_schema, const DbParam& after_name,
                                       long long limit) {
  return json_rows(db, "SELECT to_jsonb(t) FROM dbsync.tables($1, $2, $3, $4::integer) t",
                   {datasource, after_schema, after_name, std::to_string(limit)});
}

DbResult<nlohmann::json> browse_columns(pg::PgConnection& db, const std::string& datasource,
                                        const std::string& table) {
  return json_rows(db, "SELECT to_jsonb(c) FROM dbsync.columns($1, $2) c", {datasource, table});
}

DbResult<nlohmann::json> browse_rows(pg::PgConnection& db, const std::string& datasource,
                                     const std::string& table, const DbParam& after_json,
                                     long long limit) {
  return json_rows(db, "SELECT r FROM dbsync.rows($1, $2, $3::jsonb, $4::integer) r",
                   {datasource, table, after_json, std::to_string(limit)});
}

DbResult<nlohmann::json> browse_key(pg::PgConnection& db, const std::string& datasource,
                                    const std::string& table) {
  return json_rows(db,
                   "SELECT to_jsonb(c.name) FROM dbsync.columns($1, $2) c "
                   "WHERE c.key_position IS NOT NULL ORDER BY c.key_position",
                   {datasource, table});
}

}  // namespace dbsync::daemon::catalog
