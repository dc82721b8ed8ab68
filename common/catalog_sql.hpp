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

// The audit of one applied batch (engine/audit.hpp, AuditBatch), one row per side, in one
// statement: $1 the job id; $2..$6 the target side's digest, columns, keys, operations and
// fields, $7..$11 the source side's (all text; a side's keys NULL when it has no change). A
// batch applied again (a stage batch applied twice across a crash) has the same digest and is
// not recorded twice. Keys and fields go in as json (a syntax check, no jsonb tree: a batch of
// 5000 keys is written at about the cost of copying it), operations as they come.
inline constexpr const char* kAuditInsert =
    "INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) "
    "SELECT $1::pg_catalog.text::pg_catalog.int8, v.side, v.digest::pg_catalog.int8, "
    "ARRAY(SELECT e.t FROM pg_catalog.json_array_elements_text(v.columns::pg_catalog.json) "
    "WITH ORDINALITY AS e(t, n) ORDER BY e.n), v.keys::pg_catalog.json, v.ops, "
    "v.fields::pg_catalog.json "
    "FROM (VALUES ('target', $2::pg_catalog.text, $3::pg_catalog.text, $4::pg_catalog.text, "
    "$5::pg_catalog.text, $6::pg_catalog.text), ('source', $7::pg_catalog.text, "
    "$8::pg_catalog.text, $9::pg_catalog.text, $10::pg_catalog.text, $11::pg_catalog.text)) "
    "AS v(side, digest, columns, keys, ops, fields) WHERE v.keys IS NOT NULL "
    "ON CONFLICT (job_id, side, digest) DO NOTHING";

}  // namespace dbsync::catalog_sql
