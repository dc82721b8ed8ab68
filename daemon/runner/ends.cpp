#include "daemon/runner/ends.hpp"

#include <array>
#include <cstdlib>
#include <utility>

#include "adapters/postgres/pg_table.hpp"

namespace dbsync::daemon {
namespace {

// The conninfo of a remote end, decrypted; wiped by the caller once connected.
Result<std::string> open_conninfo(const std::string& datasource, std::string_view sealed,
                                  const secrets::Key* key) {
  if (!key)
    return error(ErrorCode::kInvalidArgument,
                 "SECRET_KEY is not set: cannot read the conninfo of datasource \"" + datasource +
                     "\" (set it to the key of dbsync.secret_key_file)");
  Result<std::string> plain = secrets::open(*key, sealed);
  if (!plain.is_ok())
    return error(ErrorCode::kInvalidArgument, "cannot decrypt the conninfo of datasource \"" +
                                                  datasource + "\": " + plain.status().message() +
                                                  " (is SECRET_KEY the key of "
                                                  "dbsync.secret_key_file?)");
  return plain;
}

// A PostgreSQL-family end through libpq: the master itself (DATABASE_URL) or a server named by
// the datasource's sealed conninfo.
Result<OpenedEnd> open_postgres_end(const EndSpec& spec, const DatasourceKind& kind,
                                    const EndContext& context) {
  const pg::ConnectionProfile profile = postgres_profile(spec, kind);
  Result<std::unique_ptr<pg::PgTable>> t = error(ErrorCode::kInternal, "not opened");
  if (kind.is_master) {
    t = pg::PgTable::open(context.master_conninfo, spec.table, profile);
  } else {
    if (!spec.sealed_conninfo)
      return error(ErrorCode::kInvalidArgument,
                   "datasource \"" + spec.datasource + "\" has no conninfo");
    DBSYNC_ASSIGN_OR_RETURN(std::string conninfo,
                            open_conninfo(spec.datasource, *spec.sealed_conninfo, context.key));
    t = pg::PgTable::open(conninfo, spec.table, profile);
    secrets::wipe(conninfo);
  }
  if (!t.is_ok()) return t.status().with_context(end_where(spec));
  pg::PgTable& table = **t;
  if (spec.filter) table.set_filter(*spec.filter);
  OpenedEnd end;
  end.schema = &table.schema();
  end.caps.fingerprints = kind.fingerprints && table.has_fingerprints();
  end.caps.filter_dialect = kind.family;
  end.caps.shares_master_transaction = kind.is_master;
  if (kind.is_master) end.master_connection = &table.connection();
  end.table = std::move(t).value();
  return end;
}

using EndOpener = Result<OpenedEnd> (*)(const EndSpec&, const DatasourceKind&, const EndContext&);

struct EndAdapter {
  std::string_view kind;
  EndOpener open;
};

// The kinds dbsyncd opens, and with what. mysql and wordpress come with their adapters.
constexpr std::array<EndAdapter, 4> kEndAdapters{{
    {"local", open_postgres_end},
    {"postgres", open_postgres_end},
    {"supabase", open_postgres_end},
    {"neon", open_postgres_end},
}};

const EndAdapter* find_adapter(std::string_view kind) {
  for (const EndAdapter& a : kEndAdapters)
    if (a.kind == kind) return &a;
  return nullptr;
}

}  // namespace

pg::ConnectionProfile postgres_profile(const EndSpec& spec, const DatasourceKind& kind) {
  pg::ConnectionProfile profile;
  profile.kind = std::string(kind.name);
  if (kind.is_master) {
    // DATABASE_URL is the daemon's own: no password rule, the default timeout.
    profile.connect = pg::ConnectOptions{10000, false};
    return profile;
  }
  int timeout_ms = 10000;
  if (spec.connect_timeout) {
    double seconds = std::strtod(spec.connect_timeout->c_str(), nullptr);
    if (seconds > 0 && seconds <= 3600) timeout_ms = static_cast<int>(seconds * 1000);
  }
  profile.connect = pg::ConnectOptions{timeout_ms, spec.require_password};
  return profile;
}

std::string end_where(const EndSpec& spec) {
  return "the " + spec.side + " " + spec.table + " on datasource \"" + spec.datasource + "\"";
}

bool can_open_kind(std::string_view kind) {
  return find_adapter(kind) != nullptr && find_datasource_kind(kind) != nullptr;
}

Result<OpenedEnd> open_end(const EndSpec& spec, const EndContext& context) {
  const DatasourceKind* kind = find_datasource_kind(spec.kind);
  const EndAdapter* adapter = find_adapter(spec.kind);
  if (!kind || !adapter)
    return error(ErrorCode::kInvalidArgument, "the " + spec.side + " datasource \"" +
                                                  spec.datasource + "\" is of kind " + spec.kind +
                                                  ", which this dbsyncd cannot reach yet");
  Result<OpenedEnd> end = adapter->open(spec, *kind, context);
  if (!end.is_ok()) return end.status();
  end->kind = spec.kind;
  return end;
}

}  // namespace dbsync::daemon
