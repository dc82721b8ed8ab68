// libpq inside a backend, never blocking it: connections and queries to remote PostgreSQL
// servers wait on the socket *and* the process latch (WaitLatchOrSocket), so a cancel or a
// terminate is honoured at once, and every wait has a deadline.
//
// Expected failures (server down, refused, bad password, timeout) are values (Status
// kUnavailable / kInvalidArgument) whose messages come from libpq with the password removed.
// An interrupt (cancel, terminate) is a PgError thrown through pg_call.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.hpp"

typedef struct pg_conn PGconn;  // libpq-fe.h

namespace dbsync::pg {

class RemoteConnection {
 public:
  using Row = std::vector<std::optional<std::string>>;

  // Connects with a libpq key/value string or a postgres:// URL (expanded as dbname), giving
  // up after `timeout_ms`. With `require_password` (a connection made for a role that is not a
  // superuser), a connection the server let in without a password is refused, as dblink does:
  // otherwise such a role could reach this server over trust authentication as any user.
  static Result<RemoteConnection> connect(const std::string& conninfo, int timeout_ms,
                                          bool require_password);

  // Runs one statement; the rows of its last result, as text (nullopt = SQL null).
  Result<std::vector<Row>> query(const std::string& sql, int timeout_ms);

  PGconn* raw() const { return conn_.get(); }

 private:
  struct Finish {
    void operator()(PGconn* c) const;
  };
  explicit RemoteConnection(PGconn* c) : conn_(c) {}

  std::unique_ptr<PGconn, Finish> conn_;
};

// libpq's message for `conn` without trailing newlines and with its password (if any) masked.
std::string remote_error_message(PGconn* conn);

}  // namespace dbsync::pg
