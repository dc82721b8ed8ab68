-- dbsync.cancel at each stage of a job (issue 12): it acts within the current batch, however
-- small the job; a cancelled job's conflicts end skipped; a cancel never discards a decision.
-- Timing is made exact with advisory locks this session holds: a trigger on the target or a
-- filter on the source waits on them, so a cancel arrives exactly mid-batch.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wc CASCADE;
RESET client_min_messages;
CREATE SCHEMA wc;
CREATE TABLE wc.src (id integer PRIMARY KEY, v text);
CREATE TABLE wc.dst (id integer PRIMARY KEY, v text);
INSERT INTO wc.src SELECT i, 'v' || i FROM generate_series(1, 6) i;
-- Waits while this session holds advisory lock `k` (a shared lock until the job commits).
CREATE FUNCTION wc.gate(k integer) RETURNS boolean LANGUAGE sql AS
  $$ SELECT pg_advisory_xact_lock_shared(k) IS NOT NULL $$;
-- The target's first insert of a batch waits on lock 1 (the gate the tests close).
CREATE FUNCTION wc.dst_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM wc.gate(1);
  RETURN NEW;
END
$$;
CREATE TRIGGER dst_gate BEFORE INSERT OR UPDATE ON wc.dst
  FOR EACH ROW EXECUTE FUNCTION wc.dst_gate();
-- Until a backend waits on an advisory lock (the job reached the gate).
CREATE FUNCTION pg_temp.wait_gate() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 600 LOOP
    IF EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted) THEN
      RETURN 'at the gate';
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'timed out';
END
$$;
CREATE FUNCTION pg_temp.last_job() RETURNS bigint LANGUAGE sql AS
  $$ SELECT max(id) FROM dbsync.jobs $$;
-- regress.try without the job's id (it depends on the tests before).
CREATE FUNCTION pg_temp.try(statement text) RETURNS text LANGUAGE sql AS
  $$ SELECT regexp_replace(regress.try(statement), 'job \d+', 'job N') $$;
SELECT dbsync.create_sync('gated', 'master', 'wc.src', 'master', 'wc.dst',
  mapping => '{"id": "id", "v": "v"}', batch_size => 2) > 0 AS created;

-- 1. Queued (not started): cancelled at once.
INSERT INTO dbsync.jobs (sync_id, trigger, not_before)
  SELECT id, 'sql', now() + interval '1 hour' FROM dbsync.syncs WHERE name = 'gated';
SELECT dbsync.cancel(pg_temp.last_job());
SELECT status, error, cancel_requested FROM dbsync.jobs WHERE id = pg_temp.last_job();

-- 2. Running, 6 rows in batches of 2: the cancel arrives while the first batch is written;
-- the job stops before the second. (It used to look every 256 rows: it never saw the cancel.)
SELECT pg_advisory_lock(1);
SELECT id AS job FROM dbsync.run('gated', wait => false) \gset
SELECT pg_temp.wait_gate();
SELECT dbsync.cancel(:job);
SELECT pg_advisory_unlock(1);
SELECT dbsync.wait_job(:job);
SELECT status, error, inserted FROM dbsync.jobs WHERE id = :job;
SELECT count(*) AS rows, (SELECT count(*) FROM dbsync.sync_state
                           WHERE sync_id = (SELECT id FROM dbsync.syncs WHERE name = 'gated'))
                          AS baseline
  FROM wc.dst;
SELECT status, inserted + unchanged AS total FROM dbsync.run('gated');

-- 3. Running, one batch of 6: the cancel arrives while the batch is read (the source's filter
-- waits at row 4); the job reads it from its row before it applies the batch: nothing written.
TRUNCATE wc.dst;
DELETE FROM dbsync.sync_state WHERE sync_id = (SELECT id FROM dbsync.syncs WHERE name = 'gated');
SELECT dbsync.alter_sync('gated', batch_size => 10, filter => 'id <> 4 OR wc.gate(2)');
SELECT pg_advisory_lock(2);
SELECT id AS job FROM dbsync.run('gated', wait => false) \gset
SELECT pg_temp.wait_gate();
SELECT dbsync.cancel(:job);
SELECT pg_advisory_unlock(2);
SELECT dbsync.wait_job(:job);
SELECT status, error, inserted FROM dbsync.jobs WHERE id = :job;
SELECT count(*) AS rows FROM wc.dst;
SELECT dbsync.alter_sync('gated', filter => '', batch_size => 2);
SELECT status, inserted FROM dbsync.run('gated');

-- Conflicts on every row for what follows: both sides changed, strategy manual (hold_all).
UPDATE wc.src SET v = 'source ' || id;
UPDATE wc.dst SET v = 'target ' || id;
SELECT dbsync.alter_sync('gated', strategy => 'manual', filter => 'id < 5 OR wc.gate(2)');

-- 4. Staging, cancelled after conflicts were recorded: the stage is dropped and the job's
-- conflicts end skipped (they used to stay pending forever); nothing reaches the target.
SELECT pg_advisory_lock(2);
SELECT id AS job FROM dbsync.run('gated', wait => false) \gset
SELECT pg_temp.wait_gate();
SELECT dbsync.cancel(:job);
-- A decision after the cancel was requested is refused: the cancel would discard it.
SELECT pg_temp.try(format($$SELECT dbsync.resolve(%s, 'source')$$,
  (SELECT min(id) FROM dbsync.conflicts WHERE job_id = :job)));
SELECT pg_advisory_unlock(2);
SELECT dbsync.wait_job(:job);
SELECT status, phase, error FROM dbsync.jobs WHERE id = :job;
SELECT count(*) > 0 AS had_conflicts,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       bool_and(status = 'skipped' AND resolution = 'skip' AND resolved_by LIKE '% (cancel)')
         AS all_skipped
  FROM dbsync.conflict_list WHERE job_id = :job;
SELECT count(*) AS staged FROM dbsync.stage WHERE job_id = :job;
SELECT count(*) FILTER (WHERE v LIKE 'target %') AS targets_kept FROM wc.dst;

-- 5. Staging with a decision made meanwhile: the cancel is refused (it would discard the
-- decision); the job goes on, waits for the rest, and commits them all.
SELECT pg_advisory_lock(2);
SELECT id AS job FROM dbsync.run('gated', wait => false) \gset
SELECT pg_temp.wait_gate();
SELECT dbsync.resolve((SELECT min(id) FROM dbsync.conflicts WHERE job_id = :job), 'source');
SELECT pg_temp.try(format('SELECT dbsync.cancel(%s)', :job));
SELECT pg_advisory_unlock(2);
SELECT dbsync.wait_job(:job);
SELECT status, cancel_requested FROM dbsync.jobs WHERE id = :job;

-- 6. Awaiting decisions, some made: refused too. With none made it is cancelled at once (the
-- workers test strategies shows it).
SELECT dbsync.resolve((SELECT min(id) FROM dbsync.conflicts WHERE job_id = :job AND status = 'pending'), 'target');
SELECT pg_temp.try(format('SELECT dbsync.cancel(%s)', :job));
SELECT status, conflicts_pending FROM dbsync.job_status(:job);

-- 7. Every conflict decided: the job commits (gated on the target) and a cancel is refused;
-- even a cancel flag left on the job (as a cancel the job missed used to leave it) does not
-- stop the commit: the decisions are applied.
SELECT pg_advisory_lock(1);
SELECT dbsync.resolve_all('gated', 'source');
SELECT pg_temp.wait_gate();
SELECT status FROM dbsync.jobs WHERE id = :job;
SELECT pg_temp.try(format('SELECT dbsync.cancel(%s)', :job));
UPDATE dbsync.jobs SET cancel_requested = true WHERE id = :job;
SELECT pg_advisory_unlock(1);
SELECT dbsync.wait_job(:job);
SELECT status, error, updated FROM dbsync.jobs WHERE id = :job;
SELECT id, v FROM wc.dst ORDER BY id;
SELECT status, resolution, count(*) FROM dbsync.conflict_list WHERE job_id = :job
  GROUP BY 1, 2 ORDER BY 1, 2;
SELECT status, unchanged FROM dbsync.run('gated');
SELECT dbsync.drop_sync('gated');
SET client_min_messages = warning;
DROP SCHEMA wc CASCADE;
RESET client_min_messages;
