// Remote PostgreSQL servers from inside a backend, through the one libpq wrapper
// (adapters/postgres: PgConnection, PgTable). libpq never blocks the backend: the adapter waits
// through its SocketWait hook, and the backend's hook waits on the socket *and* the process
// latch (WaitLatchOrSocket), serving interrupts: a cancel, statement_timeout or terminate raises
// its ERROR through pg_call, which unwinds the adapter's RAII (connections, results) normally.
#pragma once

#include <memory>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_table.hpp"

namespace dbsync::pg {

// Installs the backend's SocketWait hook (idempotent; cheap). Called before any connection a
// backend opens, so that the module's _PG_init need not know about it.
void use_backend_socket_wait();

// Whether the role that called the current SQL function is a superuser (our functions are
// SECURITY DEFINER: superuser() would answer for their owner). Connections made for any other
// role must have used a password (ConnectOptions::require_password).
bool caller_is_superuser();

// What the remote side of a datasource needs (datasources.cpp reads and decrypts it).
struct RemoteDatasource {
  std::string name;
  std::string kind;
  int timeout_ms = 10000;  // options.connect_timeout
};

// Opens `table` (as a user writes it) on the Postgres-family datasource `datasource` with its
// decrypted conninfo, its connect_timeout and `require_password`. Errors are SQL errors naming
// the datasource: 42704 unknown datasource, 42602 a table name that is not valid syntax, 08001
// the server cannot be reached, 2F003 a password was required, 42P01 no such table. Call inside
// an SPI session or not (it opens its own).
std::unique_ptr<PgTable> open_remote_table(const std::string& datasource, const std::string& table,
                                           bool require_password);

}  // namespace dbsync::pg
