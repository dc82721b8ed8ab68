// SQL text about the catalog that both job runners (the extension's, over SPI, and dbsyncd's,
// over libpq) send the same way.
#pragma once

namespace dbsync::catalog_sql {

// The count columns of a progress update of dbsync.jobs: $3..$9 the job's counts (earlier
// attempts' plus this one's), $10..$12 the source write-backs since the last report.
inline constexpr const char* kJobCountColumns =
    "scanned = $3::bigint, inserted = $4::bigint, updated = $5::bigint, deleted = $6::bigint, "
    "unchanged = $7::bigint, conflicts = $8::bigint, errors = $9::bigint, "
    "source_inserted = source_inserted + $10::bigint, source_updated = source_updated + "
    "$11::bigint, source_deleted = source_deleted + $12::bigint";

// Whether a sync keeps an audit ($1 the sync id): one row, 't' or 'f'.
inline constexpr const char* kAuditEnabled =
    "SELECT s.audit FROM dbsync.syncs s WHERE s.id OPERATOR(pg_catalog.=) "
    "$1::pg_catalog.text::pg_catalog.int8";

// The audit of one side of one applied batch (engine/audit.hpp, AuditSide): $1 the job id, $2
// the side ('target' or 'source'), $3 the digest, $4 columns (a text[] literal), $5 keys, $6
// operations, $7 fields; all text. A simple INSERT, sent once per side with changes: keys and
// fields go in as json (a syntax check, no jsonb tree), the rest as they come, so a batch of
// 5000 changes costs little more than copying it. A batch applied again (a stage batch applied
// twice across a crash) has the same digest and is not recorded twice.
inline constexpr const char* kAuditInsert =
    "INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) "
    "VALUES ($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text, "
    "$3::pg_catalog.text::pg_catalog.int8, $4::pg_catalog.text::pg_catalog.text[], "
    "$5::pg_catalog.text::pg_catalog.json, $6::pg_catalog.text, "
    "$7::pg_catalog.text::pg_catalog.json) "
    "ON CONFLICT (job_id, side, digest) DO NOTHING";

}  // namespace dbsync::catalog_sql
