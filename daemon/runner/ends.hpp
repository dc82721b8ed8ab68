// The ends of a sync as dbsyncd opens them: a registry from datasource kind to the adapter that
// opens an end of that kind as an engine Target, with what the runner needs beside it (the
// table's schema, what the end can do, where its writes commit). The runner and the conflict
// routes see only this: adding a kind dbsyncd runs (MySQL, WordPress) is one entry in
// kEndAdapters (ends.cpp) and its adapter. The kinds themselves (family, executor,
// capabilities) are engine/datasource_kinds.hpp's table.
//
// Why in the daemon: only dbsyncd opens both ends of a sync through client libraries; the
// extension reads its local end through SPI and waits on remote ones through its latch, and the
// master's own transaction (kind local) is the daemon runner's business.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_connection.hpp"
#include "common/secrets.hpp"
#include "engine/datasource_kinds.hpp"
#include "engine/endpoints.hpp"
#include "engine/schema.hpp"

namespace dbsync::daemon {

// What the runner may rely on for an end.
struct EndCapabilities {
  // Its rows carry a version the write contract checks (PostgreSQL's xmin): the kind's
  // capability and the table's (a view's rows carry none).
  bool fingerprints = false;
  // The SQL a sync's filter on this end is written in (the kind's family).
  KindFamily filter_dialect = KindFamily::kPostgres;
  // The master itself (kind local): its writes are made on the connection where the job's
  // transaction runs and commit with the batch's catalog writes (the runner's DeferredTarget).
  bool shares_master_transaction = false;
};

// One end of a sync as the catalog describes it (dbsync.syncs and its dbsync.datasources row).
struct EndSpec {
  std::string side;        // "source" or "target", for messages
  std::string datasource;  // the datasource's name
  std::string kind;
  std::string table;
  std::optional<std::string> sealed_conninfo;  // dbsync.datasources.conninfo (sealed)
  std::optional<std::string> connect_timeout;  // options ->> 'connect_timeout', in seconds
  // The sync's owner is not a superuser: a remote end must authenticate with a password
  // (dblink's rule, as in the extension).
  bool require_password = true;
  std::optional<std::string> filter;  // a source's filter, in the end's dialect
};

// What every end may need: the master (kind local) and the key of sealed conninfos.
struct EndContext {
  std::string master_conninfo;        // DATABASE_URL
  const secrets::Key* key = nullptr;  // SECRET_KEY; nullptr when not set
};

struct OpenedEnd {
  std::string kind;
  std::unique_ptr<Target> table;
  const Schema* schema = nullptr;  // the table's own: it lives as long as `table`
  EndCapabilities caps;
  // With caps.shares_master_transaction: the master connection the table writes on, on which
  // the job's transaction must run. Else nullptr.
  pg::PgConnection* master_connection = nullptr;
};

// Opens `spec`. A kind dbsyncd cannot open (yet) is kInvalidArgument naming the side, the
// datasource and the kind; a failure to reach or describe the table names them (end_where); no
// error shows a conninfo.
Result<OpenedEnd> open_end(const EndSpec& spec, const EndContext& context);

// "the source public.items on datasource \"shop\"": the context of an adapter's failure to reach
// or describe the table.
std::string end_where(const EndSpec& spec);

// Whether dbsyncd has an adapter for ends of `kind`.
bool can_open_kind(std::string_view kind);

// The connection profile of a PostgreSQL-family end (its kind, connect timeout — the
// datasource's connect_timeout option, 10 s by default — and password rule). Exposed for tests.
pg::ConnectionProfile postgres_profile(const EndSpec& spec, const DatasourceKind& kind);

}  // namespace dbsync::daemon
