// The daemon's settings in dbsync.settings (keys "daemon.<name>"), and the master's check at
// start and for /healthz.
#pragma once

#include <optional>
#include <string>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon::catalog {

// Every "daemon." setting as a JSON object by name (without the prefix).
DbResult<nlohmann::json> daemon_settings(pg::PgConnection& db);

// The Redis settings as stored: the URL, and the password's JSON type ("string": in clear,
// "object": sealed) with its text (the sealed text for an object).
struct StoredRedis {
  std::optional<std::string> url;
  std::optional<std::string> password_type;
  std::string password;
};
DbResult<StoredRedis> stored_redis(pg::PgConnection& db);
// Stores daemon.<name> as a JSON string, or as {"sealed": value} when `sealed`; nullopt
// deletes it.
DbStatus put_daemon_setting(pg::PgConnection& db, const std::string& name,
                            const std::optional<std::string>& value, bool sealed = false);

// The master's dbsync extension: its version, and whether it has the API's tables
// (dbsync.api_tokens); nullopt when it is not installed.
struct Extension {
  std::string version;
  bool has_api = false;
};
DbResult<std::optional<Extension>> dbsync_extension(pg::PgConnection& db);

}  // namespace dbsync::daemon::catalog
