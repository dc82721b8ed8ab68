-- The job lifecycle (extension/sql/dbsync.sql, section "job lifecycle"): the functions through
-- which both executors (background workers, dbsyncd) write dbsync.jobs, called here by hand, no
-- workers involved: who claims what, leases, a lost job, cancel requests, how a job ends (once),
-- releases, pauses, failures, heartbeats, requeueing after decisions.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('jl_master', 'local');
CREATE SCHEMA jl;
CREATE TABLE jl.a (id integer PRIMARY KEY, v text);
CREATE TABLE jl.b (id integer PRIMARY KEY, v text);
CREATE TABLE jl.c (id integer PRIMARY KEY, v text);
SELECT dbsync.create_sync('jl_one', 'jl_master', 'jl.a', 'jl_master', 'jl.b') > 0 AS created;
SELECT dbsync.create_sync('jl_two', 'jl_master', 'jl.a', 'jl_master', 'jl.c') > 0 AS created;
CREATE FUNCTION pg_temp.job(sync text) RETURNS bigint LANGUAGE sql AS $$
  SELECT (dbsync.queue_job(s.id, 'sql')).job_id FROM dbsync.syncs s WHERE s.name = sync
$$;
CREATE FUNCTION pg_temp.show(job bigint)
  RETURNS TABLE (status text, step text, phase text, executor text, leased boolean,
                 scanned bigint, inserted bigint, source_inserted bigint, ckpt text,
                 interruptions integer, attempts integer, error text)
  LANGUAGE sql AS $$
  SELECT j.status, j.step, j.phase, j.executor, j.lease_until IS NOT NULL, j.scanned, j.inserted,
         j.source_inserted, encode(j.checkpoint, 'hex'), j.interruptions, j.attempts, j.error
    FROM dbsync.jobs j WHERE j.id = job
$$;
SELECT pg_temp.job('jl_one') AS j1 \gset

-- 1. Claims: a worker takes the queued worker job once (FOR UPDATE SKIP LOCKED, leased); a
-- dbsyncd without --executors=all takes no worker job; nothing is left to claim after.
SELECT id = :j1 AS claimed, step, checkpoint, scanned, resumed
  FROM dbsync.claim_job('dbsyncd h:1', 60, 'daemon', true);
SELECT id = :j1 AS claimed, step, checkpoint, scanned, resumed
  FROM dbsync.claim_job('worker 1', 300, 'worker', false);
SELECT count(*) AS claimed_again FROM dbsync.claim_job('worker 2', 300, 'worker', false);
SELECT * FROM pg_temp.show(:j1);

-- 2. Progress: only the executor that holds the job writes it; another one's report says
-- 'lost' and changes nothing. Source write-backs add up; the lease is renewed.
SELECT dbsync.report_progress(:j1, 'worker 2', 'scanning', 9, 9, 0, 0, 0, 0, 0, 9, 0, 0, 10,
                              '\x0102', NULL, 300, NULL) AS other_executor;
SELECT dbsync.report_progress(:j1, 'worker 1', 'applying', 5, 3, 0, 0, 2, 0, 0, 1, 0, 0, 10,
                              '\x0a0b', NULL, 300, NULL) AS first_batch;
SELECT dbsync.report_progress(:j1, 'worker 1', 'applying', 8, 6, 0, 0, 2, 0, 0, 1, 0, 0, 10,
                              '\x0a0c', NULL, 300, NULL) AS second_batch;
SELECT * FROM pg_temp.show(:j1);

-- 3. A cancel request shows in the next report.
SELECT dbsync.cancel(:j1);
SELECT dbsync.report_progress(:j1, 'worker 1', 'applying', 8, 6, 0, 0, 2, 0, 0, 0, 0, 0, 10,
                              '\x0a0c', NULL, 300, NULL) AS after_cancel;

-- 4. How it ends, once: another executor cannot finish it; the holder can; a finished job is
-- not finished (nor failed, nor released) again; an unknown outcome is refused.
SELECT dbsync.finish_job(:j1, 'worker 2', 'succeeded') AS by_other;
SELECT regress.try(format($$SELECT dbsync.finish_job(%s, 'worker 1', 'done')$$, :j1));
SELECT dbsync.finish_job(:j1, 'worker 1', 'cancelled') AS finished;
SELECT dbsync.finish_job(:j1, 'worker 1', 'succeeded') AS finished_twice;
SELECT dbsync.fail_job(:j1, 'worker 1', 'late') AS failed_after;
SELECT dbsync.release_job(:j1, 'worker 1') AS released_after;
SELECT * FROM pg_temp.show(:j1);

-- 5. Release (a graceful stop): back to the queue, checkpoint kept; the next claim resumes it.
SELECT pg_temp.job('jl_one') AS j2 \gset
SELECT id = :j2 AS claimed FROM dbsync.claim_job('worker 1', 300, 'worker', false);
SELECT dbsync.report_progress(:j2, 'worker 1', 'applying', 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
                              '\x01', NULL, 300, NULL) AS progress;
SELECT dbsync.release_job(:j2, 'worker 2') AS by_other;
SELECT dbsync.release_job(:j2, 'worker 1') AS released;
SELECT * FROM pg_temp.show(:j2);
SELECT id = :j2 AS claimed, encode(checkpoint, 'hex') AS checkpoint, scanned, inserted, resumed
  FROM dbsync.claim_job('worker 3', 300, 'worker', false);

-- 6. Failure recorded by the holder only, once.
SELECT dbsync.fail_job(:j2, 'worker 1', 'not mine') AS by_other;
SELECT dbsync.fail_job(:j2, 'worker 3', 'it broke') AS failed;
SELECT dbsync.fail_job(:j2, 'worker 3', 'again') AS failed_twice;
SELECT * FROM pg_temp.show(:j2);

-- 7. Waiting for decisions: with a pending conflict the job waits (step commit); once none is
-- pending it is requeued to commit; a job whose stage is elsewhere gives its own count.
SELECT pg_temp.job('jl_one') AS j3 \gset
SELECT id = :j3 AS claimed FROM dbsync.claim_job('worker 1', 300, 'worker', false);
INSERT INTO dbsync.conflicts (job_id, sync_id, key, kind, reason, record)
  SELECT :j3, s.id, '{"id": 1}', 'update_update', 'both changed', '\x00'
    FROM dbsync.syncs s WHERE s.name = 'jl_one';
SELECT dbsync.finish_job(:j3, 'worker 1', 'awaiting_resolution') AS ended;
SELECT * FROM pg_temp.show(:j3);
SELECT dbsync.requeue_decided_job(:j3) AS requeued_with_pending;
UPDATE dbsync.conflicts SET status = 'skipped', resolution = 'skip', resolved_at = now()
 WHERE job_id = :j3;
SELECT dbsync.requeue_decided_job(:j3, 0) AS requeued_with_a_count;
SELECT dbsync.requeue_decided_job(:j3) AS requeued;
SELECT * FROM pg_temp.show(:j3);
SELECT id = :j3 AS claimed, step FROM dbsync.claim_job('worker 1', 300, 'worker', false);
SELECT dbsync.finish_job(:j3, 'worker 1', 'succeeded', '1 rows could not be synced') AS ended;
SELECT * FROM pg_temp.show(:j3);

-- 8. dbsyncd: a Redis-staged job waiting for decisions is requeued with a count of 0 only; a
-- stage that is unreachable pauses the job with a backoff; the heartbeat renews the leases of
-- the jobs it holds; a job whose daemon died is taken over (resumed), and failed after too
-- many deaths.
SELECT pg_temp.job('jl_two') AS j4 \gset
UPDATE dbsync.jobs SET executor_kind = 'daemon' WHERE id = :j4;
SELECT count(*) AS worker_claims_daemon_job FROM dbsync.claim_job('worker 1', 300, 'worker', false);
SELECT id = :j4 AS claimed, resumed FROM dbsync.claim_job('dbsyncd h:1', 60, 'daemon', true);
SELECT dbsync.set_job_stage(:j4, 'redis');
SELECT dbsync.report_progress(:j4, 'dbsyncd h:1', 'staging', 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, NULL,
                              NULL, NULL, 60, 'run 0 1') AS progress;
SELECT dbsync.finish_job(:j4, 'dbsyncd h:1', 'awaiting_resolution', NULL, 1) AS ended;
SELECT dbsync.requeue_decided_job(:j4) AS requeued_without_count;
SELECT dbsync.requeue_decided_job(:j4, 1) AS requeued_with_pending;
SELECT dbsync.count_decisions(:j4, 1);
SELECT dbsync.requeue_decided_job(:j4, 0) AS requeued;
SELECT status, step, stage, stage_mark, decisions FROM dbsync.jobs WHERE id = :j4;
SELECT id = :j4 AS claimed, step FROM dbsync.claim_job('dbsyncd h:1', 60, NULL, true);
SELECT dbsync.pause_job(:j4, 'dbsyncd h:2', 'Redis', 'refused') AS by_other;
SELECT dbsync.pause_job(:j4, 'dbsyncd h:1', 'Redis', 'connection refused') AS paused;
SELECT status, phase, pauses, not_before > now() AS backs_off FROM dbsync.jobs WHERE id = :j4;
UPDATE dbsync.jobs SET not_before = now() WHERE id = :j4;
SELECT id = :j4 AS claimed FROM dbsync.claim_job('dbsyncd h:1', 60, 'daemon', true);
UPDATE dbsync.jobs SET lease_until = now() - interval '1 minute' WHERE id = :j4;
SELECT job = :j4 AS renewed, cancel_requested
  FROM dbsync.renew_leases(ARRAY[:j4, 0], 'dbsyncd h:1', 60);
SELECT count(*) AS renewed_for_other FROM dbsync.renew_leases(ARRAY[:j4], 'dbsyncd h:2', 60);
UPDATE dbsync.jobs SET lease_until = now() - interval '1 minute' WHERE id = :j4;
SELECT id = :j4 AS taken_over, resumed FROM dbsync.claim_job('dbsyncd h:2', 60, 'daemon', true);
SELECT dbsync.report_progress(:j4, 'dbsyncd h:1', 'committing', 1, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                              NULL, NULL, NULL, 60, NULL) AS old_executor;
SELECT interruptions, executor FROM dbsync.jobs WHERE id = :j4;
UPDATE dbsync.jobs SET lease_until = now() - interval '1 minute', interruptions = 4
 WHERE id = :j4;
SELECT count(*) AS claimed FROM dbsync.claim_job('dbsyncd h:3', 60, 'daemon', true);
SELECT status, interruptions, error FROM dbsync.jobs WHERE id = :j4;
SELECT dbsync.mark_stage_cleared(ARRAY[:j4, 0]) AS cleared;
SELECT stage_cleared FROM dbsync.jobs WHERE id = :j4;

-- 9. The launcher: a worker job whose backend is gone is requeued (interruption counted).
SELECT pg_temp.job('jl_one') AS j5 \gset
SELECT id = :j5 AS claimed FROM dbsync.claim_job('worker 999999', 300, 'worker', false);
SELECT job = :j5 AS requeued, status, interruptions FROM dbsync.requeue_orphaned_jobs();
SELECT * FROM pg_temp.show(:j5);

-- 10. Internal: nothing for PUBLIC; dbsync_admin (the executors' roles) may call them.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       has_function_privilege('dbsync_admin', p.oid, 'EXECUTE') AS admin, p.provolatile,
       p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'dbsync'::regnamespace
   AND p.proname IN ('claim_job', 'report_progress', 'finish_job', 'release_job', 'fail_job',
                     'pause_job', 'renew_leases', 'requeue_orphaned_jobs', 'set_job_stage',
                     'mark_stage_cleared', 'count_decisions', 'requeue_decided_job')
 ORDER BY p.proname;
