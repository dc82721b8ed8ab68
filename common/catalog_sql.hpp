// SQL text about the catalog that both executors (the extension's, over SPI, and dbsyncd's, over
// libpq) send the same way, schema-qualified (the SPI session runs it under a safe search_path;
// dbsyncd's job connections take the search_path they are given).
#pragma once

namespace dbsync::catalog_sql {

// The job lifecycle: the functions of extension/sql/dbsync.sql's section "job lifecycle", called
// by both executors through common/job_catalog.hpp (see there for the parameters).
inline constexpr const char* kClaimJob =
    "SELECT c.id, c.sync_id, c.step, pg_catalog.encode(c.checkpoint, 'hex'), "
    "pg_catalog.encode(c.source_checkpoint, 'hex'), c.scanned, c.inserted, c.updated, "
    "c.deleted, c.unchanged, c.conflicts, c.errors, c.resumed "
    "FROM dbsync.claim_job($1::pg_catalog.text, $2::pg_catalog.text::pg_catalog.int4, "
    "$3::pg_catalog.text, $4::pg_catalog.text::pg_catalog.bool, "
    "$5::pg_catalog.text::pg_catalog.int4) c";
// With the transaction's id (dbsyncd checks whether a local target's retry path committed it).
inline constexpr const char* kReportProgress =
    "SELECT dbsync.report_progress($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text, "
    "$3::pg_catalog.text, $4::pg_catalog.text::pg_catalog.int8, "
    "$5::pg_catalog.text::pg_catalog.int8, $6::pg_catalog.text::pg_catalog.int8, "
    "$7::pg_catalog.text::pg_catalog.int8, $8::pg_catalog.text::pg_catalog.int8, "
    "$9::pg_catalog.text::pg_catalog.int8, $10::pg_catalog.text::pg_catalog.int8, "
    "$11::pg_catalog.text::pg_catalog.int8, $12::pg_catalog.text::pg_catalog.int8, "
    "$13::pg_catalog.text::pg_catalog.int8, $14::pg_catalog.text::pg_catalog.int8, "
    "$15::pg_catalog.bytea, $16::pg_catalog.bytea, $17::pg_catalog.text::pg_catalog.int4, "
    "$18::pg_catalog.text), pg_catalog.txid_current()";
inline constexpr const char* kFinishJob =
    "SELECT dbsync.finish_job($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text, "
    "$3::pg_catalog.text, $4::pg_catalog.text, $5::pg_catalog.text::pg_catalog.int8)";
inline constexpr const char* kReleaseJob =
    "SELECT dbsync.release_job($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text)";
inline constexpr const char* kFailJob =
    "SELECT dbsync.fail_job($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text, "
    "$3::pg_catalog.text)";
inline constexpr const char* kPauseJob =
    "SELECT dbsync.pause_job($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text, "
    "$3::pg_catalog.text, $4::pg_catalog.text)";
// $1 a bigint[] literal ("{1,2}").
inline constexpr const char* kRenewLeases =
    "SELECT r.job, r.cancel_requested FROM dbsync.renew_leases("
    "$1::pg_catalog.text::pg_catalog.int8[], $2::pg_catalog.text, "
    "$3::pg_catalog.text::pg_catalog.int4) r";
inline constexpr const char* kRequeueOrphanedJobs =
    "SELECT r.job, r.status, r.interruptions FROM dbsync.requeue_orphaned_jobs("
    "$1::pg_catalog.text::pg_catalog.int4) r";
inline constexpr const char* kSetJobStage =
    "SELECT dbsync.set_job_stage($1::pg_catalog.text::pg_catalog.int8, $2::pg_catalog.text)";
// $1 a bigint[] literal.
inline constexpr const char* kMarkStageCleared =
    "SELECT dbsync.mark_stage_cleared($1::pg_catalog.text::pg_catalog.int8[])";
inline constexpr const char* kCountDecisions =
    "SELECT dbsync.count_decisions($1::pg_catalog.text::pg_catalog.int8, "
    "$2::pg_catalog.text::pg_catalog.int8)";
// $2: the pending conflicts of a stage kept outside the catalog (NULL: the catalog's).
inline constexpr const char* kRequeueDecidedJob =
    "SELECT dbsync.requeue_decided_job($1::pg_catalog.text::pg_catalog.int8, "
    "$2::pg_catalog.text::pg_catalog.int8)";

// Whether dbsync.cancel asked job $1 to stop: one row (an empty bytea, so that the extension
// reads it as a bytes page with a kept plan) when it did. Polled every 1024 rows.
inline constexpr const char* kCancelRequested =
    "SELECT ''::pg_catalog.bytea FROM dbsync.jobs j "
    "WHERE j.id OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.int8 AND j.cancel_requested";

// dbsyncd's Redis settings as stored: the URL ('daemon.redis_url', a jsonb string), the
// password's jsonb type ('string': in clear, from before sealing; 'object': sealed) and its
// content (the clear text, or the sealed hex). One row; NULLs when unset.
inline constexpr const char* kRedisSettings =
    "SELECT (SELECT st.value OPERATOR(pg_catalog.#>>) '{}' FROM dbsync.settings st "
    "WHERE st.key OPERATOR(pg_catalog.=) 'daemon.redis_url' "
    "AND pg_catalog.jsonb_typeof(st.value) OPERATOR(pg_catalog.=) 'string'), p.t, "
    "CASE p.t WHEN 'object' THEN p.v OPERATOR(pg_catalog.->>) 'sealed' "
    "ELSE p.v OPERATOR(pg_catalog.#>>) '{}' END "
    "FROM (SELECT 1) one LEFT JOIN (SELECT pg_catalog.jsonb_typeof(st.value) AS t, st.value AS v "
    "FROM dbsync.settings st WHERE st.key OPERATOR(pg_catalog.=) 'daemon.redis_password' "
    "AND pg_catalog.jsonb_typeof(st.value) OPERATOR(pg_catalog.=) ANY "
    "('{string,object}'::pg_catalog.text[])) p ON true";

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
