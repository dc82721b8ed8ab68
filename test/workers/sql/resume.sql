-- An executor terminated in the middle of a job (pg_terminate_backend): the launcher sees the
-- job lost its executor, requeues it, and another executor resumes it from its checkpoint.
-- Nothing is lost or applied twice: the counts add up to the table exactly.
\set SHOW_CONTEXT never
CREATE SCHEMA wr;
CREATE TABLE wr.src (id integer PRIMARY KEY, body text);
CREATE TABLE wr.dst (id integer PRIMARY KEY, body text);
INSERT INTO wr.src SELECT i, md5(i::text) FROM generate_series(1, 3000) i;
-- Each source row costs a millisecond (through the filter), so the job takes seconds.
CREATE FUNCTION wr.slow(i integer) RETURNS boolean LANGUAGE sql AS
  $$ SELECT pg_sleep(0.001) IS NOT NULL $$;
SELECT dbsync.create_sync('slow', 'master', 'wr.src', 'master', 'wr.dst',
  mapping => '{"id": "id", "body": "body"}', batch_size => 100,
  filter => 'wr.slow(id)') > 0 AS created;
SELECT id AS job FROM dbsync.run('slow', wait => false) \gset

-- Wait until some batches are committed, then terminate the executor.
CREATE FUNCTION pg_temp.wait_for(job bigint, min_scanned bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j record;
BEGIN
  FOR i IN 1 .. 600 LOOP
    SELECT * INTO j FROM dbsync.jobs WHERE id = job;
    IF j.scanned >= min_scanned AND j.status = 'running' THEN
      RETURN 'running';
    END IF;
    IF j.finished_at IS NOT NULL THEN
      RETURN 'finished too early: ' || j.status;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'timed out';
END
$$;
SELECT pg_temp.wait_for(:job, 500);
SELECT pg_terminate_backend(split_part(executor, ' ', 2)::integer) AS terminated
  FROM dbsync.jobs WHERE id = :job;
SELECT scanned >= 500 AS checkpointed, checkpoint IS NOT NULL AS has_checkpoint
  FROM dbsync.jobs WHERE id = :job;
SELECT count(*) >= 500 AS partly_applied FROM wr.dst;

-- The job resumes on its own and finishes.
SELECT dbsync.wait_job(:job);
SELECT status, interruptions, attempts, scanned, inserted, updated, deleted, error
  FROM dbsync.jobs WHERE id = :job;
SELECT count(*) AS rows, count(*) FILTER (WHERE d.body = s.body) AS equal
  FROM wr.src s JOIN wr.dst d USING (id);
SELECT count(*) AS baseline_keys FROM dbsync.sync_state st JOIN dbsync.syncs sy ON sy.id = st.sync_id
  WHERE sy.name = 'slow';
-- And the next run finds everything in step.
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('slow');

-- Cancelling a running job: it stops after its current batch; what it committed stays and the
-- baseline matches it, so the next run completes the work.
TRUNCATE wr.dst;
DELETE FROM dbsync.sync_state;
SELECT id AS job FROM dbsync.run('slow', wait => false) \gset
SELECT pg_temp.wait_for(:job, 300);
SELECT dbsync.cancel(:job);
SELECT dbsync.wait_job(:job);
SELECT status, error, scanned < 3000 AS stopped_early FROM dbsync.jobs WHERE id = :job;
SELECT (SELECT count(*) FROM wr.dst) = (SELECT count(*) FROM dbsync.sync_state) AS baseline_matches;
SELECT status, inserted + unchanged AS total FROM dbsync.run('slow');
SELECT count(*) AS rows FROM wr.dst;
