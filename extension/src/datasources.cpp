// The datasources API, C++ side: sealing a conninfo (validate per kind, encrypt with the key of
// dbsync.secret_key_file, keep a password-free endpoint summary) and testing a datasource.
// The catalog side (add/alter/drop, the view) is SQL in extension/sql/dbsync.sql; it calls
// dbsync.seal_conninfo. Nothing here returns a decrypted secret: plaintext lives only in C++
// strings that are wiped after use.
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_table.hpp"
#include "engine/datasource_kinds.hpp"
#include "engine/hex.hpp"
#include "extension/src/module.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/remote.hpp"
#include "extension/src/pg/session.hpp"
#include "extension/src/pg/text.hpp"
#include "common/secrets.hpp"

extern "C" {
#include "libpq-fe.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

using dbsync::pg::pg_call;
using dbsync::pg::PgError;

namespace {

namespace secrets = dbsync::secrets;
namespace spi = dbsync::pg::spi;

// A plaintext secret that is wiped when it goes out of scope.
struct Plain {
  std::string text;
  Plain() = default;
  explicit Plain(std::string t) : text(std::move(t)) {}
  Plain(const Plain&) = delete;
  Plain& operator=(const Plain&) = delete;
  ~Plain() { secrets::wipe(text); }
};

// How datasources of `kind` store their conninfo (engine/datasource_kinds.hpp); kNone for an
// unknown kind.
dbsync::ConninfoForm conninfo_form(std::string_view kind) {
  const dbsync::DatasourceKind* k = dbsync::find_datasource_kind(kind);
  return k == nullptr ? dbsync::ConninfoForm::kNone : k->conninfo;
}

secrets::Key configured_key() {
  const char* path = dbsync::ext::settings.secret_key_file;
  if (path == nullptr || path[0] == '\0')
    throw PgError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                  "no key to encrypt datasource secrets: dbsync.secret_key_file is not set",
                  "Datasource secrets are stored encrypted (AES-256-GCM).",
                  "A superuser sets dbsync.secret_key_file (postgresql.conf or ALTER SYSTEM, then "
                  "reload) to a file readable by the server holding 32 random bytes or 64 "
                  "hexadecimal digits, e.g. made with: openssl rand -hex 32.");
  dbsync::Result<secrets::Key> key = secrets::load_key_file(path);
  if (!key.is_ok()) {
    bool io = key.status().code() == dbsync::ErrorCode::kUnavailable;
    throw PgError(io ? ERRCODE_IO_ERROR : ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                  "dbsync.secret_key_file: " + key.status().message(), "",
                  "A relative path is relative to the data directory.");
  }
  return std::move(key).value();
}

// user@host:port/dbname, each part only when present: what the datasource points at, without
// secrets.
std::string endpoint_of(const std::string& user, const std::string& host, const std::string& port,
                        const std::string& db) {
  std::string out;
  if (!user.empty()) out += user + "@";
  out += host;
  if (!port.empty()) out += ":" + port;
  if (!db.empty()) out += "/" + db;
  return out;
}

[[noreturn]] void bad_conninfo(const std::string& kind, const std::string& why,
                               const std::string& hint) {
  // The message never repeats the conninfo: it may hold a password.
  throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                "invalid conninfo for a " + kind + " datasource: " + why, "", hint);
}

std::string postgres_endpoint(const std::string& kind, const std::string& conninfo) {
  const char* pg_hint =
      "Give a libpq connection string (host=... port=... dbname=... user=... "
      "password=...) or a URL postgres://user:password@host:port/dbname.";
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err != nullptr) PQfreemem(err);  // libpq's message may quote the password: not shown
  if (opts == nullptr) bad_conninfo(kind, "not a connection string or URL libpq accepts", pg_hint);
  std::string host, hostaddr, port, db, user;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view k = o->keyword;
    if (k == "host")
      host = o->val;
    else if (k == "hostaddr")
      hostaddr = o->val;
    else if (k == "port")
      port = o->val;
    else if (k == "dbname")
      db = o->val;
    else if (k == "user")
      user = o->val;
  }
  PQconninfoFree(opts);
  if (host.empty()) host = hostaddr;
  // Without a host libpq would use this server's Unix socket as the server's OS user.
  if (host.empty() || host[0] == '/' || host[0] == '@')
    bad_conninfo(kind, "a host name or address is required",
                 "Use kind 'local' for this server itself.");
  return endpoint_of(user, host, port, db);
}

// mysql://user[:password]@host[:port]/database[?options]
std::string mysql_endpoint(const std::string& kind, const std::string& conninfo) {
  const char* hint = "Give a URL mysql://user:password@host:port/database.";
  constexpr std::string_view scheme = "mysql://";
  if (conninfo.compare(0, scheme.size(), scheme) != 0)
    bad_conninfo(kind, "it must start with mysql://", hint);
  std::string rest = conninfo.substr(scheme.size());
  size_t at = rest.rfind('@');
  if (at == std::string::npos) bad_conninfo(kind, "a user is required (mysql://user@...)", hint);
  std::string user = rest.substr(0, at).substr(0, rest.substr(0, at).find(':'));
  if (user.empty()) bad_conninfo(kind, "a user is required (mysql://user@...)", hint);
  std::string hostpart = rest.substr(at + 1);
  size_t slash = hostpart.find('/');
  if (slash == std::string::npos) bad_conninfo(kind, "a database is required (.../database)", hint);
  std::string hostport = hostpart.substr(0, slash);
  std::string db = hostpart.substr(slash + 1);
  db = db.substr(0, db.find('?'));
  if (db.empty()) bad_conninfo(kind, "a database is required (.../database)", hint);
  std::string host = hostport, port;
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']', colon) == std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::atoi(port.c_str()) < 1 || std::atoi(port.c_str()) > 65535)
      bad_conninfo(kind, "the port must be a number from 1 to 65535", hint);
  }
  if (host.empty()) bad_conninfo(kind, "a host is required", hint);
  return endpoint_of(user, host, port, db);
}

// One datasource row, read with the privileges of the calling SECURITY DEFINER function.
struct DatasourceRow {
  std::string kind;
  std::optional<std::string> sealed;
  std::optional<std::string> connect_timeout;
};

// Reads as the owner of dbsync.datasources (what a SECURITY DEFINER function does): the
// conninfo column is not readable by dbsync_admin, yet the functions that connect for such a
// role (create_sync, preview, diff...) run with the caller's rights, so that the caller's
// privileges still govern local tables. The secret never leaves C++.
std::optional<DatasourceRow> load_datasource(const std::string& name) {
  spi::Rows r = spi::session([&] {
    return spi::as_owner_of("dbsync", "datasources", [&] {
      return spi::query(
          "SELECT kind, conninfo, options OPERATOR(pg_catalog.->>) 'connect_timeout'"
          "  FROM dbsync.datasources WHERE name OPERATOR(pg_catalog.=) $1",
          {name});
    });
  });
  if (r.empty()) return std::nullopt;
  DatasourceRow row;
  row.kind = r.text(0, 0);
  if (r.at(0, 1)) {
    // bytea in hex (spi::query's output settings); it is ciphertext, not the secret.
    std::optional<std::string> sealed = dbsync::hex::decode_bytea(*r.at(0, 1));
    if (!sealed)
      throw PgError(ERRCODE_DATA_CORRUPTED,
                    "datasource \"" + name + "\": conninfo not in bytea hex output form");
    row.sealed = std::move(*sealed);
  }
  row.connect_timeout = r.at(0, 2);
  return row;
}

int connect_timeout_ms(const std::optional<std::string>& option) {
  if (!option) return 10000;
  char* end = nullptr;
  double seconds = std::strtod(option->c_str(), &end);
  if (end == option->c_str() || *end != '\0' || !(seconds > 0) || seconds > 3600)
    throw PgError(
        ERRCODE_INVALID_PARAMETER_VALUE,
        "option connect_timeout must be a number of seconds from 0 to 3600 (exclusive of 0)");
  return static_cast<int>(seconds * 1000);
}

struct Probe {
  std::optional<bool> ok;
  std::optional<std::string> version;
  std::optional<double> latency_ms;
  std::optional<std::string> error;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Probe probe_local() {
  auto t0 = std::chrono::steady_clock::now();
  spi::Rows r = spi::session(
      [] { return spi::execute("SELECT pg_catalog.current_setting('server_version')", {}, 1); });
  std::optional<std::string> version = r.empty() ? std::nullopt : r.at(0, 0);
  return Probe{true, version, ms_since(t0), std::nullopt};
}

Probe probe_postgres(const std::string& conninfo, int timeout_ms) {
  auto t0 = std::chrono::steady_clock::now();
  dbsync::pg::use_backend_socket_wait();
  std::string server_message;
  auto conn = dbsync::pg::PgConnection::connect(
      conninfo, {timeout_ms, !dbsync::pg::caller_is_superuser()}, &server_message);
  if (!conn.is_ok())
    return Probe{false, std::nullopt, std::nullopt,
                 server_message.empty() ? conn.status().message() : server_message};
  auto rows = conn->query("SHOW server_version");
  if (!rows.is_ok()) return Probe{false, std::nullopt, std::nullopt, rows.status().message()};
  double latency = ms_since(t0);
  std::optional<std::string> version;
  if (rows->rows() > 0 && !rows->is_null(0, 0)) version = std::string(rows->get(0, 0));
  return Probe{true, version, latency, std::nullopt};
}

// The datasource's conninfo, decrypted (into a Plain, wiped after use) and its timeout.
void open_conninfo(const std::string& name, const DatasourceRow& row, Plain& conninfo) {
  if (!row.sealed)
    throw PgError(ERRCODE_DATA_CORRUPTED, "datasource \"" + name + "\" has no conninfo");
  secrets::Key key = configured_key();
  auto opened = secrets::open(key, *row.sealed);
  if (!opened.is_ok())
    throw PgError(
        ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "cannot decrypt the conninfo of datasource \"" + name + "\": " + opened.status().message(),
        "", "dbsync.secret_key_file must name the key the datasource was added with.");
  conninfo.text = std::move(opened).value();
}

}  // namespace

std::unique_ptr<dbsync::pg::PgTable> dbsync::pg::open_remote_table(const std::string& datasource,
                                                                   const std::string& table,
                                                                   bool require_password) {
  std::optional<DatasourceRow> row = load_datasource(datasource);
  if (!row)
    throw PgError(ERRCODE_UNDEFINED_OBJECT, "datasource \"" + datasource + "\" does not exist");
  if (conninfo_form(row->kind) != ConninfoForm::kLibpq)
    throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                  "datasource \"" + datasource + "\" (" + row->kind +
                      ") is not a PostgreSQL server: dbsyncd reaches it");
  dbsync::Result<QualifiedName> name = QualifiedName::parse(table);
  if (!name.is_ok())
    throw PgError(ERRCODE_SYNTAX_ERROR,
                  "datasource \"" + datasource + "\": " + name.status().message());
  int timeout_ms = connect_timeout_ms(row->connect_timeout);
  Plain conninfo;
  open_conninfo(datasource, *row, conninfo);
  use_backend_socket_wait();
  auto opened = PgTable::open(conninfo.text, table, ConnectOptions{timeout_ms, require_password});
  if (opened.is_ok()) return std::move(opened).value();
  const dbsync::Status& st = opened.status();
  const std::string where = "datasource \"" + datasource + "\"";
  switch (st.code()) {
    case dbsync::ErrorCode::kNotFound:
      throw PgError(ERRCODE_UNDEFINED_TABLE,
                    "table " + name->display() + " does not exist on " + where);
    case dbsync::ErrorCode::kUnavailable:
      throw PgError(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                    where + " cannot be reached: " + st.message());
    case dbsync::ErrorCode::kInvalidArgument:
      if (st.message().rfind("password is required", 0) == 0)
        throw PgError(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED, where + ": " + st.message(),
                      "", "Only superusers may use connections without password authentication.");
      throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, where + ": " + st.message());
    default:
      throw PgError(sqlstate_for(st.code()),
                    where + ", table " + name->display() + ": " + st.message());
  }
}

// dbsync.seal_conninfo(kind text, conninfo text, OUT sealed bytea, OUT endpoint text):
// validates a conninfo for its kind and encrypts it; the endpoint is its password-free summary.
// Used by add_datasource and alter_datasource (it returns ciphertext only: never a secret).
DBSYNC_FUNCTION(dbsync_seal_conninfo) {
  std::string kind = dbsync::pg::text_arg(fcinfo, 0);
  Plain conninfo(dbsync::pg::text_arg(fcinfo, 1));
  std::string endpoint;
  const dbsync::ConninfoForm form = conninfo_form(kind);
  if (form == dbsync::ConninfoForm::kLibpq)
    endpoint = postgres_endpoint(kind, conninfo.text);
  else if (form == dbsync::ConninfoForm::kMysqlUrl)
    endpoint = mysql_endpoint(kind, conninfo.text);
  else
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "kind '" + kind + "' has no conninfo to seal");

  secrets::Key key = configured_key();
  std::string sealed =
      dbsync::pg::value_or_throw(secrets::seal(key, conninfo.text), "encrypting the conninfo");

  return pg_call([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "seal_conninfo must return a composite");
    desc = BlessTupleDesc(desc);
    bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + sealed.size()));
    SET_VARSIZE(b, VARHDRSZ + sealed.size());
    memcpy(VARDATA(b), sealed.data(), sealed.size());
    Datum values[2] = {PointerGetDatum(b),
                       PointerGetDatum(cstring_to_text_with_len(
                           endpoint.data(), static_cast<int>(endpoint.size())))};
    bool nulls[2] = {false, false};
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}

// dbsync.test_datasource(name text) RETURNS TABLE(ok, server_version, latency_ms, error):
// one row. A server that cannot be reached is ok = false with libpq's message (password
// masked), not an ERROR; a missing or wrong key is an ERROR (a configuration problem).
DBSYNC_FUNCTION(dbsync_test_datasource) {
  if (PG_ARGISNULL(0))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "datasource name must not be null");
  std::string name = dbsync::pg::text_arg(fcinfo, 0);
  std::optional<DatasourceRow> row = load_datasource(name);
  if (!row)
    throw PgError(ERRCODE_UNDEFINED_OBJECT, "datasource \"" + name + "\" does not exist", "",
                  "dbsync.datasource_list shows the datasources.");

  Probe probe;
  if (dbsync::is_master_kind(row->kind)) {
    probe = probe_local();
  } else {
    int timeout_ms = connect_timeout_ms(row->connect_timeout);
    Plain conninfo;
    open_conninfo(name, *row, conninfo);
    if (conninfo_form(row->kind) == dbsync::ConninfoForm::kLibpq) {
      probe = probe_postgres(conninfo.text, timeout_ms);
    } else {
      probe.error = "not tested here: the extension has no MySQL client; dbsyncd tests " +
                    row->kind + " datasources (POST /api/datasources/{id}/test)";
    }
  }

  pg_call([&] {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    Datum values[4] = {0, 0, 0, 0};
    bool nulls[4] = {!probe.ok, !probe.version, !probe.latency_ms, !probe.error};
    if (probe.ok) values[0] = BoolGetDatum(*probe.ok);
    if (probe.version) values[1] = CStringGetTextDatum(probe.version->c_str());
    if (probe.latency_ms) values[2] = Float8GetDatum(*probe.latency_ms);
    if (probe.error) values[3] = CStringGetTextDatum(probe.error->c_str());
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  });
  return (Datum)0;
}

// dbsync.datasource_kinds() RETURNS TABLE(kind, family, executor, conninfo, is_master,
// fingerprints): the kinds of engine/datasource_kinds.hpp, in their order. The catalog's checks
// (dbsync.is_datasource_kind, add_datasource's hint) read it.
DBSYNC_FUNCTION(dbsync_datasource_kinds) {
  pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  for (const dbsync::DatasourceKind& k : dbsync::datasource_kinds()) {
    const std::string name(k.name);
    pg_call([&] {
      ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
      Datum values[6] = {CStringGetTextDatum(name.c_str()),
                         CStringGetTextDatum(dbsync::kind_family_name(k.family)),
                         CStringGetTextDatum(dbsync::kind_executor_name(k.executor)),
                         CStringGetTextDatum(dbsync::conninfo_form_name(k.conninfo)),
                         BoolGetDatum(k.is_master),
                         BoolGetDatum(k.fingerprints)};
      bool nulls[6] = {false, false, false, false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}
