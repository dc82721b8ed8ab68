#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/remote.hpp"

extern "C" {
#include "libpq-fe.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace dbsync::pg {

namespace {

using Clock = std::chrono::steady_clock;

long remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<long>(left.count()) : 0;
}

void mask(std::string& text, const std::string& secret) {
  if (secret.empty()) return;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
}

// Waits until `socket` is ready for `socket_events` or the deadline passes; serves interrupts
// (a cancel raises an ERROR through pg_call, unwinding the caller's RAII). False on timeout.
bool wait_socket(int socket, int socket_events, Clock::time_point deadline) {
  for (;;) {
    long timeout = remaining_ms(deadline);
    if (timeout <= 0) return false;
    int rc = pg_call([&] {
      return WaitLatchOrSocket(MyLatch,
                               socket_events | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                               socket, timeout, PG_WAIT_EXTENSION);
    });
    if (rc & WL_LATCH_SET)
      pg_call([] {
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      });
    if (rc & socket_events) return true;
  }
}

}  // namespace

void RemoteConnection::Finish::operator()(PGconn* c) const { PQfinish(c); }

std::string remote_error_message(PGconn* conn) {
  std::string msg = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (conn != nullptr) {
    if (PQconninfoOption* opts = PQconninfo(conn)) {
      for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
        if (std::string(o->keyword) == "password" && o->val != nullptr) mask(msg, o->val);
      PQconninfoFree(opts);
    }
  }
  if (msg.empty()) msg = "connection failed";
  return msg;
}

Result<RemoteConnection> RemoteConnection::connect(const std::string& conninfo, int timeout_ms,
                                                   bool require_password) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "dbsync", nullptr};
  RemoteConnection rc(PQconnectStartParams(keywords, values, /*expand_dbname=*/1));
  PGconn* c = rc.raw();
  if (c == nullptr) return error(ErrorCode::kUnavailable, "out of memory starting a connection");
  if (PQstatus(c) == CONNECTION_BAD) return error(ErrorCode::kUnavailable, remote_error_message(c));

  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return error(ErrorCode::kUnavailable, remote_error_message(c));
    int events = st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
    if (!wait_socket(PQsocket(c), events, deadline))
      return error(ErrorCode::kUnavailable, "timeout: no connection after " +
                                                std::to_string(timeout_ms) +
                                                " ms (option connect_timeout)");
    st = PQconnectPoll(c);
  }
  if (require_password && !PQconnectionUsedPassword(c))
    return error(ErrorCode::kInvalidArgument,
                 "password is required: the server accepted the connection without one, and "
                 "only superusers may use such connections (give a password in the conninfo and "
                 "make the server ask for it)");
  if (PQsetnonblocking(c, 1) != 0) return error(ErrorCode::kUnavailable, remote_error_message(c));
  return rc;
}

Result<std::vector<RemoteConnection::Row>> RemoteConnection::query(const std::string& sql,
                                                                   int timeout_ms) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  PGconn* c = raw();
  auto timed_out = [&] {
    return error(ErrorCode::kUnavailable, "timeout waiting for the remote server");
  };
  if (PQsendQuery(c, sql.c_str()) != 1)
    return error(ErrorCode::kUnavailable, remote_error_message(c));
  // Flush the query (non-blocking mode), reading meanwhile so the server never stalls on us.
  for (int f = PQflush(c); f != 0; f = PQflush(c)) {
    if (f < 0) return error(ErrorCode::kUnavailable, remote_error_message(c));
    if (!wait_socket(PQsocket(c), WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE, deadline))
      return timed_out();
    if (PQconsumeInput(c) != 1) return error(ErrorCode::kUnavailable, remote_error_message(c));
  }
  std::vector<Row> rows;
  std::string failure;
  for (;;) {
    while (PQisBusy(c)) {
      if (!wait_socket(PQsocket(c), WL_SOCKET_READABLE, deadline)) return timed_out();
      if (PQconsumeInput(c) != 1) return error(ErrorCode::kUnavailable, remote_error_message(c));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> owned(PQgetResult(c), &PQclear);
    PGresult* res = owned.get();
    if (res == nullptr) break;
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_TUPLES_OK) {
      rows.clear();
      int n = PQntuples(res), m = PQnfields(res);
      rows.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        Row row;
        for (int j = 0; j < m; ++j)
          row.push_back(PQgetisnull(res, i, j) ? std::nullopt
                                               : std::optional<std::string>(PQgetvalue(res, i, j)));
        rows.push_back(std::move(row));
      }
    } else if (s != PGRES_COMMAND_OK && failure.empty()) {
      failure = PQresultErrorMessage(res);
      while (!failure.empty() && failure.back() == '\n') failure.pop_back();
    }
  }
  if (!failure.empty()) return error(ErrorCode::kInvalidArgument, "remote server: " + failure);
  return rows;
}

}  // namespace dbsync::pg
