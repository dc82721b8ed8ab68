// What the master checks for dbsyncd's job runner, so that a rule has one implementation:
// dbsync.check_sync_privileges(sync_id) applies the job runner's rule (the sync's owner may
// still read and write its local tables, and its local tables still exist) for a job that a
// daemon is about to run.
#include <cstdint>
#include <string>

#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/local_table.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/syncs.hpp"

extern "C" {
#include "fmgr.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;

// A local end described (so that check_local_privileges sees it), or a clear error naming the
// table and the sync when it is gone.
void describe_local_end(Endpoint& e, const char* side, const std::string& sync,
                        const std::string& table) {
  pg::spi::Rows found = pg::spi::query("SELECT to_regclass($1) IS NOT NULL", {table});
  if (found.empty() || found.text(0, 0) != "t")
    throw PgError(ERRCODE_UNDEFINED_TABLE, "the " + std::string(side) + " table " + table +
                                               " of sync \"" + sync + "\" does not exist");
  e.local = pg::describe_local_table(table);
}

void check_sync_privileges(int64_t sync_id) {
  pg::spi::Rows r = pg::spi::query(
      "SELECT s.name, s.direction, src.kind, s.source_table, tgt.kind, s.target_table, "
      "a.oid::text FROM dbsync.syncs s JOIN dbsync.datasources src ON src.id = s.source_id "
      "JOIN dbsync.datasources tgt ON tgt.id = s.target_id "
      "LEFT JOIN pg_roles a ON a.oid = s.created_by WHERE s.id = $1::bigint",
      {std::to_string(sync_id)});
  if (r.empty())
    throw PgError(ERRCODE_UNDEFINED_OBJECT, "sync " + std::to_string(sync_id) + " does not exist");
  const std::string name = r.text(0, 0);
  if (!r.at(0, 6))
    throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                  "sync \"" + name +
                      "\" has no owner (its creating role is gone, or it was not saved by "
                      "dbsync.create_sync)",
                  "", "Save it again with dbsync.alter_sync as a role that may use its tables.");
  CheckedSync k;
  k.policy.direction = r.text(0, 1) == "two_way" ? Direction::kTwoWay : Direction::kOneWay;
  if (is_master_kind(r.text(0, 2))) describe_local_end(k.source, "source", name, r.text(0, 3));
  if (is_master_kind(r.text(0, 4))) describe_local_end(k.target, "target", name, r.text(0, 5));
  check_local_privileges(k, *r.at(0, 6));
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;

// dbsync.check_sync_privileges(sync_id bigint) -> void: raises 42704 (no such sync), 42P01 (a
// local table is gone, naming it) or 42501 (the owner lacks a privilege, naming it).
DBSYNC_FUNCTION(dbsync_check_sync_privileges) {
  int64_t sync_id = PG_GETARG_INT64(0);
  pg::spi::session([&] { ext::check_sync_privileges(sync_id); });
  PG_RETURN_VOID();
}
