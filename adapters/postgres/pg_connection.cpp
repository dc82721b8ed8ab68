#include "adapters/postgres/pg_connection.hpp"

#include <libpq-fe.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

void mask(std::string& text, const std::string& secret) {
  if (secret.empty()) return;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
}

SocketWait g_wait = &poll_socket_wait;

// Owns a PGresult until it is handed over.
struct ResultOwner {
  PGresult* r = nullptr;
  explicit ResultOwner(PGresult* p) : r(p) {}
  ResultOwner(const ResultOwner&) = delete;
  ResultOwner& operator=(const ResultOwner&) = delete;
  ~ResultOwner() {
    if (r) PQclear(r);
  }
  PGresult* release() {
    PGresult* p = r;
    r = nullptr;
    return p;
  }
};

}  // namespace

int64_t steady_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status poll_socket_wait(int fd, bool for_read, bool for_write, int64_t deadline_ms) {
  for (;;) {
    int timeout = -1;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - steady_clock_ms();
      if (left <= 0) return error(ErrorCode::kUnavailable, "timeout");
      timeout = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    pollfd p{fd, static_cast<short>((for_read ? POLLIN : 0) | (for_write ? POLLOUT : 0)), 0};
    int rc = ::poll(&p, 1, timeout);
    if (rc > 0) return Status::ok();
    if (rc < 0 && errno != EINTR)
      return error(ErrorCode::kUnavailable, std::string("poll: ") + std::strerror(errno));
  }
}

SocketWait set_socket_wait(SocketWait wait) {
  SocketWait old = g_wait;
  g_wait = wait ? wait : &poll_socket_wait;
  return old;
}

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
                                           const ConnectOptions& options,
                                           std::string* server_message) {
  // Parse first: to describe the server in messages and to scrub the password from them.
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> opts(
      PQconninfoParse(conninfo.c_str(), &parse_error));
  if (!opts) {
    // libpq's message may quote the conninfo (and so a password): shown only without one.
    std::string why = parse_error ? trim_message(parse_error) : "out of memory";
    if (parse_error) PQfreemem(parse_error);
    return error(ErrorCode::kInvalidArgument, "invalid connection string: " + why);
  }
  std::string host, port, dbname, password;
  for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "host" || (k == "hostaddr" && host.empty()))
      host = o->val;
    else if (k == "port")
      port = o->val;
    else if (k == "dbname")
      dbname = o->val;
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
  auto failed = [&](std::string msg) {
    mask(msg, password);
    if (server_message) *server_message = msg;
    return error(ErrorCode::kUnavailable,
                 "cannot connect to PostgreSQL at " + c.where_ + ": " + msg);
  };

  // A password from elsewhere (PGPASSWORD, a .pgpass of the process's user) is not the caller's:
  // with require_password the conninfo must give one itself (dblink's rule too).
  if (options.require_password && password.empty())
    return error(ErrorCode::kInvalidArgument,
                 "password is required: the connection string has none, and only superusers may "
                 "connect without one");
  const int64_t deadline = steady_clock_ms() + std::max(options.timeout_ms, 1);
  // application_name first: the expanded conninfo (dbname) overrides it when it names one.
  const char* keys[] = {"application_name", "dbname", nullptr};
  const char* vals[] = {"dbsync", conninfo.c_str(), nullptr};
  c.conn_ = PQconnectStartParams(keys, vals, /*expand_dbname=*/1);
  if (!c.conn_) return failed("out of memory");
  if (PQstatus(c.conn_) == CONNECTION_BAD) return failed(trim_message(PQerrorMessage(c.conn_)));
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return failed(trim_message(PQerrorMessage(c.conn_)));
    Status w = g_wait(PQsocket(c.conn_), st == PGRES_POLLING_READING, st == PGRES_POLLING_WRITING,
                      deadline);
    if (!w.is_ok()) {
      if (steady_clock_ms() >= deadline)
        return failed("timeout: no connection after " + std::to_string(options.timeout_ms) +
                      " ms (option connect_timeout)");
      return failed(w.message());
    }
    st = PQconnectPoll(c.conn_);
  }
  if (options.require_password && !PQconnectionUsedPassword(c.conn_))
    return error(ErrorCode::kInvalidArgument,
                 "password is required: the server accepted the connection without one, and only "
                 "superusers may use such connections (give a password in the conninfo and make "
                 "the server ask for it)");
  if (PQsetnonblocking(c.conn_, 1) != 0) return failed(trim_message(PQerrorMessage(c.conn_)));
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
    failure_ = std::move(o.failure_);
    o.conn_ = nullptr;
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

Status PgConnection::connection_error(std::string_view what) const {
  Status st = error(ErrorCode::kUnavailable,
                    std::string(what) + " on " + where_ + ": " +
                        trim_message(conn_ ? PQerrorMessage(conn_) : "not connected"));
  failure_ = PgFailure{"08006", st.message(), {}, {}};
  return st;
}

Status PgConnection::result_status(pg_result* r, int expected) const {
  if (!r) return connection_error("query failed");
  ExecStatusType st = PQresultStatus(r);
  if (static_cast<int>(st) == expected) return Status::ok();
  if (st == PGRES_COMMAND_OK && expected == static_cast<int>(PGRES_TUPLES_OK)) return Status::ok();
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  if (!primary) {
    if (PQstatus(conn_) != CONNECTION_OK) return connection_error("connection lost");
    Status unexpected =
        error(ErrorCode::kInternal,
              "unexpected result " + std::string(PQresStatus(st)) + " from " + where_);
    failure_ = PgFailure{"XX000", unexpected.message(), {}, {}};
    return unexpected;
  }
  auto field = [r](int code) {
    const char* v = PQresultErrorField(r, code);
    return std::string(v ? v : "");
  };
  failure_ = PgFailure{field(PG_DIAG_SQLSTATE), primary, field(PG_DIAG_MESSAGE_DETAIL),
                       field(PG_DIAG_MESSAGE_HINT)};
  if (failure_.sqlstate.empty()) failure_.sqlstate = "XX000";
  std::string msg = primary;
  if (!failure_.detail.empty()) msg += " (" + failure_.detail + ")";
  ErrorCode code = code_for_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE));
  if (PQstatus(conn_) != CONNECTION_OK) code = ErrorCode::kUnavailable;
  return error(code, msg);
}

Status PgConnection::wait(bool for_read, bool for_write) {
  int fd = PQsocket(conn_);
  if (fd < 0) return connection_error("connection lost");
  return g_wait(fd, for_read, for_write, -1);
}

Status PgConnection::flush() {
  for (int f = PQflush(conn_); f != 0; f = PQflush(conn_)) {
    if (f < 0) return connection_error("sending failed");
    // Read meanwhile, so that a server blocked on writing to us never stalls us both.
    DBSYNC_RETURN_IF_ERROR(wait(true, true));
    if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
  }
  return Status::ok();
}

Status PgConnection::await_result() {
  while (PQisBusy(conn_)) {
    DBSYNC_RETURN_IF_ERROR(wait(true, false));
    if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
  }
  return Status::ok();
}

Status PgConnection::drain(int expected, PgResult* keep) {
  Status out;
  for (;;) {
    DBSYNC_RETURN_IF_ERROR(await_result());
    ResultOwner r(PQgetResult(conn_));
    if (!r.r) break;
    ExecStatusType st = PQresultStatus(r.r);
    if (st == PGRES_COPY_IN) {
      // Not asked for (a COPY inside exec): end it so the connection stays usable.
      if (out.is_ok()) out = error(ErrorCode::kInvalidArgument, "unexpected COPY FROM STDIN");
      if (PQputCopyEnd(conn_, "not expected") < 0) return connection_error("COPY failed");
      DBSYNC_RETURN_IF_ERROR(flush());
      continue;
    }
    if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      if (out.is_ok()) out = error(ErrorCode::kInvalidArgument, "unexpected COPY TO STDOUT");
      for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(conn_, &buf, 1);
        if (buf) PQfreemem(buf);
        if (n == 0) {
          DBSYNC_RETURN_IF_ERROR(wait(true, false));
          if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
        } else if (n < 0) {
          break;
        }
      }
      continue;
    }
    if (out.is_ok()) out = result_status(r.r, expected);
    if (keep) *keep = PgResult(r.release());
  }
  return out;
}

Status PgConnection::exec(std::string_view sql) {
  if (!failure_.sqlstate.empty()) failure_ = PgFailure{};
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) != 1) return connection_error("query failed");
  DBSYNC_RETURN_IF_ERROR(flush());
  return drain(PGRES_COMMAND_OK, nullptr);
}

Result<PgResult> PgConnection::query(std::string_view sql, const std::vector<PgParam>& params,
                                     bool binary_result) {
  DBSYNC_RETURN_IF_ERROR(send(sql, params, binary_result));
  return receive();
}

Status PgConnection::send(std::string_view sql, const std::vector<PgParam>& params,
                          bool binary_result) {
  if (!failure_.sqlstate.empty()) failure_ = PgFailure{};
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(sql);
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].is_null ? nullptr : params[i].data.c_str();
    lengths[i] = static_cast<int>(params[i].data.size());
    formats[i] = params[i].is_binary ? 1 : 0;
  }
  // The extended protocol: one statement only, whatever the text holds.
  if (PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                        values.data(), lengths.data(), formats.data(), binary_result ? 1 : 0) != 1)
    return connection_error("query failed");
  return flush();
}

Status PgConnection::absorb() {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
  return Status::ok();
}

Result<PgResult> PgConnection::receive() {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  PgResult out;
  DBSYNC_RETURN_IF_ERROR(drain(PGRES_TUPLES_OK, &out));
  return out;
}

Status PgConnection::copy_in(std::string_view copy_sql, std::string_view data) {
  DBSYNC_RETURN_IF_ERROR(copy_in_send(copy_sql, data));
  return copy_in_receive();
}

Status PgConnection::copy_in_receive() {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  DBSYNC_RETURN_IF_ERROR(flush());
  return drain(PGRES_COMMAND_OK, nullptr);
}

Status PgConnection::pump() {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  if (PQflush(conn_) < 0) return connection_error("sending failed");
  if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
  return Status::ok();
}

Status PgConnection::copy_in_send(std::string_view copy_sql, std::string_view data,
                                  PgResult* prelude, bool end) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(copy_sql);
  if (PQsendQuery(conn_, text.c_str()) != 1) return connection_error("COPY failed");
  DBSYNC_RETURN_IF_ERROR(flush());
  for (;;) {
    DBSYNC_RETURN_IF_ERROR(await_result());
    ResultOwner r(PQgetResult(conn_));
    const ExecStatusType st = r.r ? PQresultStatus(r.r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COPY_IN) break;
    if (r.r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
      // A statement before the COPY.
      if (st == PGRES_TUPLES_OK && prelude) *prelude = PgResult(r.release());
      continue;
    }
    Status out = result_status(r.r, PGRES_COPY_IN);
    if (out.is_ok()) out = error(ErrorCode::kInternal, "COPY did not start");
    if (r.r) {
      Status rest = drain(PGRES_COMMAND_OK, nullptr);
      (void)rest;
    }
    return out;
  }
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min(kChunk, data.size() - at);
    int rc = PQputCopyData(conn_, data.data() + at, static_cast<int>(n));
    if (rc < 0) return connection_error("COPY failed");
    if (rc == 0) {  // the output buffer is full (non-blocking): wait until it drains
      DBSYNC_RETURN_IF_ERROR(wait(true, true));
      if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
      if (PQflush(conn_) < 0) return connection_error("COPY failed");
      continue;
    }
    at += n;
  }
  return end ? copy_in_end() : Status::ok();
}

Status PgConnection::copy_in_end(const char* failure) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  for (;;) {
    int rc = PQputCopyEnd(conn_, failure);
    if (rc < 0) return connection_error("COPY failed");
    if (rc == 1) break;
    DBSYNC_RETURN_IF_ERROR(wait(true, true));
    if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
  }
  if (PQflush(conn_) < 0) return connection_error("COPY failed");
  return Status::ok();
}

Status PgConnection::copy_out(std::string_view copy_sql,
                              const std::function<Status(std::string_view)>& line) {
  if (!conn_) return error(ErrorCode::kUnavailable, "not connected");
  std::string text(copy_sql);
  if (PQsendQuery(conn_, text.c_str()) != 1) return connection_error("COPY failed");
  DBSYNC_RETURN_IF_ERROR(flush());
  DBSYNC_RETURN_IF_ERROR(await_result());
  {
    ResultOwner r(PQgetResult(conn_));
    if (!r.r || PQresultStatus(r.r) != PGRES_COPY_OUT) {
      Status st = result_status(r.r, PGRES_COPY_OUT);
      if (st.is_ok()) st = error(ErrorCode::kInternal, "COPY did not start");
      Status rest = drain(PGRES_COMMAND_OK, nullptr);
      (void)rest;
      return st;
    }
  }
  Status cb;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, /*async=*/1);
    if (n == 0) {
      DBSYNC_RETURN_IF_ERROR(wait(true, false));
      if (PQconsumeInput(conn_) != 1) return connection_error("connection lost");
      continue;
    }
    if (n < 0) break;  // -1: done, -2: error (reported by the final result)
    std::unique_ptr<char, decltype(&PQfreemem)> owned(buf, &PQfreemem);
    if (cb.is_ok()) {
      std::string_view row(buf, static_cast<size_t>(n));
      if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
      cb = line(row);
    }
  }
  Status out = drain(PGRES_COMMAND_OK, nullptr);
  return cb.is_ok() ? out : cb;
}

bool PgConnection::in_transaction() const {
  if (!conn_) return false;
  const PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

void PgConnection::rollback_quietly() {
  if (!conn_ || PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
  // A connection still busy with a command (an error mid-COPY) cannot take a ROLLBACK: the
  // statuses say so and are ignored; closing the connection rolls back anyway.
  (void)exec("ROLLBACK");
}

}  // namespace dbsync::pg
