#include "adapters/postgres/pg_connection.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace dbsync::pg {

std::string quote_ident(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

namespace {

bool unquoted_ident_char(unsigned char c, bool first) {
  if (c >= 0x80) return true;  // PostgreSQL accepts non-ASCII letters in identifiers
  if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return !first && ((c >= '0' && c <= '9') || c == '$');
}

// Reads one identifier at text[pos]: quoted ("" is a quote) or unquoted (folded to lower case).
Status read_ident(std::string_view text, size_t& pos, std::string& out) {
  out.clear();
  if (pos < text.size() && text[pos] == '"') {
    for (++pos; pos < text.size(); ++pos) {
      if (text[pos] == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          out.push_back('"');
          ++pos;
        } else {
          ++pos;
          if (out.empty()) return error(ErrorCode::kInvalidArgument, "empty quoted identifier");
          return Status::ok();
        }
      } else {
        out.push_back(text[pos]);
      }
    }
    return error(ErrorCode::kInvalidArgument, "unterminated quoted identifier");
  }
  size_t start = pos;
  while (pos < text.size() &&
         unquoted_ident_char(static_cast<unsigned char>(text[pos]), pos == start)) {
    char c = text[pos++];
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (out.empty())
    return error(ErrorCode::kInvalidArgument,
                 "expected an identifier at position " + std::to_string(start + 1));
  return Status::ok();
}

ErrorCode code_for_sqlstate(const char* state) {
  if (!state || std::strlen(state) != 5) return ErrorCode::kInternal;
  std::string_view s(state, 5);
  if (s.substr(0, 2) == "08" || s.substr(0, 2) == "53" || s.substr(0, 2) == "57") {
    return s == "57014" ? ErrorCode::kCancelled : ErrorCode::kUnavailable;
  }
  if (s.substr(0, 2) == "40") return ErrorCode::kUnavailable;  // serialization/deadlock: retry
  if (s == "23505") return ErrorCode::kConflict;
  if (s == "42P01" || s == "42703" || s == "3F000" || s == "3D000") return ErrorCode::kNotFound;
  if (s.substr(0, 2) == "22") {
    return s == "22003" || s == "22001" ? ErrorCode::kOutOfRange : ErrorCode::kTypeMismatch;
  }
  if (s.substr(0, 2) == "23" || s.substr(0, 2) == "42" || s.substr(0, 2) == "28")
    return ErrorCode::kInvalidArgument;
  return ErrorCode::kInternal;
}

std::string trim_message(const char* m) {
  std::string s = m ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

}  // namespace

Result<QualifiedName> QualifiedName::parse(std::string_view text) {
  QualifiedName q;
  size_t pos = 0;
  std::string first;
  auto bad = [&](const Status& why) {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid table name '" + std::string(text) + "': " + why.message());
  };
  if (Status st = read_ident(text, pos, first); !st.is_ok()) return bad(st);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::string second;
    if (Status st = read_ident(text, pos, second); !st.is_ok()) return bad(st);
    q.schema = std::move(first);
    q.name = std::move(second);
  } else {
    q.name = std::move(first);
  }
  if (pos != text.size())
    return bad(error(ErrorCode::kInvalidArgument,
                     "unexpected '" + std::string(1, text[pos]) + "' at position " +
                         std::to_string(pos + 1) +
                         " (quote names with special characters: \"My table\")"));
  return q;
}

std::string QualifiedName::quoted() const {
  return schema.empty() ? quote_ident(name) : quote_ident(schema) + "." + quote_ident(name);
}

std::string QualifiedName::display() const { return schema.empty() ? name : schema + "." + name; }

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (r_) PQclear(r_);
}

int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }
int PgResult::cols() const { return r_ ? PQnfields(r_) : 0; }
bool PgResult::is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view PgResult::get(int row, int col) const {
  return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
}
int64_t PgResult::affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

Result<PgConnection> PgConnection::connect(const std::string& conninfo,
                                           int connect_timeout_seconds) {
  // Parse first: to describe the server in messages and to scrub the password from them.
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> opts(
      PQconninfoParse(conninfo.c_str(), &parse_error));
  if (!opts) {
    std::string why = parse_error ? trim_message(parse_error) : "out of memory";
    if (parse_error) PQfreemem(parse_error);
    return error(ErrorCode::kInvalidArgument, "invalid connection string: " + why);
  }
  std::string host, port, dbname, user, password;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "host" || (k == "hostaddr" && host.empty()))
      host = o->val;
    else if (k == "port")
      port = o->val;
    else if (k == "dbname")
      dbname = o->val;
    else if (k == "user")
      user = o->val;
    else if (k == "password")
      password = o->val;
  }
  // Unset parts come from the environment, as libpq will do.
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (host.empty()) host = env("PGHOST").empty() ? "localhost" : env("PGHOST");
  if (port.empty()) port = env("PGPORT").empty() ? "5432" : env("PGPORT");
  if (dbname.empty()) dbname = env("PGDATABASE");

  PgConnection c;
  c.where_ = host + ":" + port + (dbname.empty() ? "" : "/" + dbname);

  // Our timeout first: the expanded conninfo (dbname) overrides it when it names one.
  std::string timeout = std::to_string(connect_timeout_seconds);
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {timeout.c_str(), "dbsync", conninfo.c_str(), nullptr};
  c.conn_ = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  if (!c.conn_)
    return error(ErrorCode::kUnavailable, "cannot connect to " + c.where_ + ": out of memory");
  if (PQstatus(c.conn_) != CONNECTION_OK) {
    std::string msg = trim_message(PQerrorMessage(c.conn_));
    if (!password.empty()) {
      for (size_t at; (at = msg.find(password)) != std::string::npos;)
        msg.replace(at, password.size(), "***");
    }
    return error(ErrorCode::kUnavailable,
                 "cannot connect to PostgreSQL at " + c.where_ + ": " + msg);
  }
  // Values come back in the forms value_from_text expects, whatever the server's defaults.
  DBSYNC_RETURN_IF_ERROR(
      c.exec("SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
             "SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3; SET bytea_output = "
             "'hex'; SET client_min_messages = 'warning'"));
  return c;
}

PgConnection& PgConnection::operator=(PgConnection&& o) noexcept {
  if (this != &o) {
    if (conn_) PQfinish(conn_);
    conn_ = o.conn_;
    where_ = std::move(o.where_);
    o.conn_ = nullptr;
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

Status PgConnection::connection_error(std::string_view what) const {
  return error(ErrorCode::kUnavailable,
               std::string(what) + " on " + where_ + ": " +
                   trim_message(conn_ ? PQerrorMessage(conn_) : "not connected"));
}

Status PgConnection::result_status(pg_result* r, int expected) const {
  if (!r) return connection_error("query failed");
  ExecStatusType st = PQresultStatus(r);
  if (static_cast<int>(st) == expected) return Status::ok();
  if (st == PGRES_COMMAND_OK && expected == static_cast<int>(PGRES_TUPLES_OK)) return Status::ok();
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  if (!primary) {
    if (PQstatus(conn_) != CONNECTION_OK) return connection_error("connection lost");
    return error(ErrorCode::kInternal,
                 "unexpected result " + std::string(PQresStatus(st)) + " from " + where_);
  }
  std::string msg = primary;
  if (const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL))
    msg += " (" + std::string(detail) + ")";
  ErrorCode code = code_for_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE));
  if (PQstatus(conn_) != CONNECTION_OK) code = ErrorCode::kUnavailable;
  return error(code, msg);
}

Status PgConnection::exec(std::string_view sql) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  Status st = result_status(r, PGRES_COMMAND_OK);
  if (r) PQclear(r);
  return st;
}

Result<PgResult> PgConnection::query(std::string_view sql, const std::vector<PgParam>& params,
                                     bool binary_result) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(sql);
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].is_null ? nullptr : params[i].data.c_str();
    lengths[i] = static_cast<int>(params[i].data.size());
    formats[i] = params[i].is_binary ? 1 : 0;
  }
  PGresult* r = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), lengths.data(), formats.data(), binary_result ? 1 : 0);
  Status st = result_status(r, PGRES_TUPLES_OK);
  if (!st.is_ok()) {
    if (r) PQclear(r);
    return st;
  }
  return PgResult(r);
}

Status PgConnection::copy_in(std::string_view copy_sql, std::string_view data) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(copy_sql);
  PGresult* r = PQexec(conn_, text.c_str());
  Status st = result_status(r, PGRES_COPY_IN);
  if (r) PQclear(r);
  if (!st.is_ok()) return st;
  constexpr size_t kChunk = 1 << 20;
  bool sent = true;
  for (size_t at = 0; at < data.size() && sent; at += kChunk) {
    size_t n = std::min(kChunk, data.size() - at);
    sent = PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) == 1;
  }
  if (!sent) return connection_error("COPY failed");
  if (PQputCopyEnd(conn_, nullptr) != 1) return connection_error("COPY failed");
  Status out;
  while (PGresult* res = PQgetResult(conn_)) {
    if (out.is_ok()) out = result_status(res, PGRES_COMMAND_OK);
    PQclear(res);
  }
  return out;
}

Status PgConnection::copy_out(std::string_view copy_sql,
                              const std::function<Status(std::string_view)>& line) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(copy_sql);
  PGresult* r = PQexec(conn_, text.c_str());
  Status st = result_status(r, PGRES_COPY_OUT);
  if (r) PQclear(r);
  if (!st.is_ok()) return st;
  Status cb;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n < 0) break;  // -1: done, -2: error (reported by the final result)
    if (cb.is_ok()) {
      std::string_view row(buf, static_cast<size_t>(n));
      if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
      cb = line(row);
    }
    PQfreemem(buf);
  }
  Status out;
  while (PGresult* res = PQgetResult(conn_)) {
    if (out.is_ok()) out = result_status(res, PGRES_COMMAND_OK);
    PQclear(res);
  }
  return cb.is_ok() ? out : cb;
}

void PgConnection::rollback_quietly() {
  if (!conn_ || PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
  PGresult* r = PQexec(conn_, "ROLLBACK");
  if (r) PQclear(r);
}

}  // namespace dbsync::pg
