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

// ---- reads of dbsync.jobs (the writes are the job lifecycle's functions above) ----

#define DBSYNC_UNFINISHED_JOB "('queued', 'running', 'awaiting_resolution', 'committing')"
// A sync's unfinished job staged in Redis ($1 the sync id): its id, and "status step"; the row
// of dbsync.syncs, so that an unknown sync gives no row. kRedisJobOfSyncLocked locks the job.
inline constexpr const char* kRedisJobOfSync =
    "SELECT (SELECT j.id::text FROM dbsync.jobs j WHERE j.sync_id = s.id AND j.stage = 'redis' "
    "AND j.status IN " DBSYNC_UNFINISHED_JOB
    "), (SELECT j.status || ' ' || j.step FROM "
    "dbsync.jobs j WHERE j.sync_id = s.id AND j.stage = 'redis' AND j.status "
    "IN " DBSYNC_UNFINISHED_JOB ") FROM dbsync.syncs s WHERE s.id = $1::bigint";
inline constexpr const char* kRedisJobOfSyncLocked =
    "SELECT (SELECT j.id::text FROM dbsync.jobs j WHERE j.sync_id = s.id AND j.stage = 'redis' "
    "AND j.status IN " DBSYNC_UNFINISHED_JOB
    " FOR UPDATE), (SELECT j.status || ' ' || j.step "
    "FROM dbsync.jobs j WHERE j.sync_id = s.id AND j.stage = 'redis' AND j.status "
    "IN " DBSYNC_UNFINISHED_JOB ") FROM dbsync.syncs s WHERE s.id = $1::bigint";
// The id of a sync's unfinished Redis job ($1 the sync id); no row when it has none.
inline constexpr const char* kRedisJobIdOfSync =
    "SELECT id::text FROM dbsync.jobs WHERE sync_id = $1::bigint AND stage = 'redis' AND "
    "status IN " DBSYNC_UNFINISHED_JOB;
// Where a job's stage lives and its mark ($1 the job id).
inline constexpr const char* kJobStage =
    "SELECT stage, stage_mark FROM dbsync.jobs WHERE id = $1::bigint";
// Finished Redis jobs whose keys may still exist, oldest first ($1 how many).
inline constexpr const char* kFinishedRedisJobs =
    "SELECT j.id::text FROM dbsync.jobs AS j WHERE stage = 'redis' AND NOT stage_cleared "
    "AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY j.id LIMIT $1::int";
// Redis jobs waiting for decisions, oldest first ($1 how many): their stage must still exist.
inline constexpr const char* kWaitingRedisJobs =
    "SELECT j.id::text FROM dbsync.jobs AS j WHERE stage = 'redis' "
    "AND status = 'awaiting_resolution' ORDER BY j.id LIMIT $1::int";
// How many worker jobs are ready to run (the launcher's count).
inline constexpr const char* kReadyWorkerJobs =
    "SELECT count(*) FROM dbsync.jobs WHERE status = 'queued' AND executor_kind = 'worker' "
    "AND stage = 'catalog' AND not_before <= now()";
// A job's status ($1 the job id).
inline constexpr const char* kJobStatus = "SELECT status FROM dbsync.jobs WHERE id = $1::bigint";
// A conflict of the in-database stage with its job and sync, both locked ($1 the conflict id).
inline constexpr const char* kConflictForDecision =
    "SELECT c.job_id, c.sync_id, c.status, c.record, j.status, s.name, j.cancel_requested "
    "FROM dbsync.conflicts c JOIN dbsync.jobs j ON j.id = c.job_id "
    "JOIN dbsync.syncs s ON s.id = c.sync_id WHERE c.id = $1::bigint FOR UPDATE OF c, j";
// A sync's unfinished jobs, locked ($1 the sync id).
inline constexpr const char* kUnfinishedJobsOfSync =
    "SELECT id, cancel_requested FROM dbsync.jobs WHERE sync_id = $1::bigint AND status "
    "IN " DBSYNC_UNFINISHED_JOB " ORDER BY id FOR UPDATE";
// Whether a sync has a job in progress ($1 the sync id): a row when it has.
inline constexpr const char* kJobInProgress =
    "SELECT 1 FROM dbsync.jobs WHERE sync_id = $1::bigint AND status IN "
    "('running', 'awaiting_resolution', 'committing')";
#undef DBSYNC_UNFINISHED_JOB

}  // namespace dbsync::catalog_sql
