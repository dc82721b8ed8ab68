// dbsync.datasources through the SQL API (add/alter/drop/test_datasource), and browsing a
// datasource's tables (dbsync.tables, columns, rows).
#pragma once

#include <optional>
#include <string>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

// The datasources with id > after (all when nullopt), by id, at most `limit`.
DbResult<nlohmann::json> list_datasources(pg::PgConnection& db, std::optional<long long> after,
                                          long long limit);
DbResult<std::optional<nlohmann::json>> get_datasource(pg::PgConnection& db, long long id);
// The name of the datasource with this id (the SQL API takes names).
DbResult<std::optional<std::string>> datasource_name(pg::PgConnection& db, long long id);
// dbsync.add_datasource; the new id. `options_json`: a JSON object's text, nullopt for {}.
DbResult<long long> add_datasource(pg::PgConnection& db, const std::string& name,
                                   const std::string& kind, const DbParam& conninfo,
                                   const DbParam& options_json);
// dbsync.alter_datasource: what is nullopt stays.
DbStatus alter_datasource(pg::PgConnection& db, const std::string& name, const DbParam& conninfo,
                          const DbParam& options_json, const DbParam& new_name);
DbStatus drop_datasource(pg::PgConnection& db, const std::string& name);
DbResult<std::optional<nlohmann::json>> test_datasource(pg::PgConnection& db,
                                                        const std::string& name);

// ---- browsing (dbsync.tables / columns / rows)
DbResult<nlohmann::json> browse_tables(pg::PgConnection& db, const std::string& datasource,
                                       const DbParam& after_schema, const DbParam& after_name,
                                       long long limit);
DbResult<nlohmann::json> browse_columns(pg::PgConnection& db, const std::string& datasource,
                                        const std::string& table);
// `after_json`: a JSON object of the key columns' values.
DbResult<nlohmann::json> browse_rows(pg::PgConnection& db, const std::string& datasource,
                                     const std::string& table, const DbParam& after_json,
                                     long long limit);
// The key columns' names, in key order.
DbResult<nlohmann::json> browse_key(pg::PgConnection& db, const std::string& datasource,
                                    const std::string& table);

}  // namespace dbsync::daemon::catalog
