-- The audit trail: each applied batch of a job leaves one dbsync.audit row per side (target,
-- and source for two-way write-backs), in the job's transaction; dbsync.audit_log shows one row
-- per change. Initial load, re-sync, two-way, a manual job committed after its decision,
-- audit => false, retention.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wa CASCADE;
RESET client_min_messages;
CREATE SCHEMA wa;
CREATE TABLE wa.src (id integer PRIMARY KEY, title text, price integer);
CREATE TABLE wa.dst (id integer PRIMARY KEY, name text, price integer);
INSERT INTO wa.src SELECT i, 't' || i, i FROM generate_series(1, 5) i;
SELECT dbsync.create_sync('audited', 'master', 'wa.src', 'master', 'wa.dst',
  mapping => '{"id": "id", "name": "title", "price": "price"}', batch_size => 2) > 0 AS created;
CREATE FUNCTION pg_temp.last_job(sync text) RETURNS bigint LANGUAGE sql AS $$
  SELECT max(j.id) FROM dbsync.jobs j JOIN dbsync.syncs s ON s.id = j.sync_id WHERE s.name = sync
$$;

-- 1. The initial load: five inserts in batches of two are three audit rows, five changes; an
-- insert writes every mapped column.
SELECT status, inserted FROM dbsync.run('audited');
SELECT side, length(operations) AS changes, columns FROM dbsync.audit
  WHERE job_id = pg_temp.last_job('audited') ORDER BY id;
SELECT sync, side, key, operation, fields FROM dbsync.audit_log
  WHERE job_id = pg_temp.last_job('audited') ORDER BY audit_id, position;

-- 2. An update (its changed fields only) and a delete; a run with nothing to do records nothing.
UPDATE wa.src SET title = 'renamed' WHERE id = 2;
DELETE FROM wa.src WHERE id = 4;
SELECT status, updated, deleted FROM dbsync.run('audited');
SELECT side, key, operation, fields FROM dbsync.audit_log
  WHERE job_id = pg_temp.last_job('audited') ORDER BY audit_id, position;
SELECT status, unchanged FROM dbsync.run('audited');
SELECT count(*) AS audit_rows FROM dbsync.audit WHERE job_id = pg_temp.last_job('audited');

-- 3. Two-way: what flows back to the source is audited on the side 'source' (the key in the
-- sync's mapped columns; which fields changed is not known for a write-back: all of them).
SELECT dbsync.alter_sync('audited', direction => 'two_way');
UPDATE wa.dst SET name = 'edited in the target' WHERE id = 1;
INSERT INTO wa.dst VALUES (50, 'made in the target', 500);
DELETE FROM wa.dst WHERE id = 3;
UPDATE wa.src SET price = 55 WHERE id = 5;
SELECT status, updated, source_inserted, source_updated, source_deleted FROM dbsync.run('audited');
SELECT side, key, operation, fields FROM dbsync.audit_log
  WHERE job_id = pg_temp.last_job('audited') ORDER BY side DESC, audit_id, position;
SELECT * FROM wa.src WHERE id IN (1, 3, 50) ORDER BY id;

-- A key's history, whichever side its changes went to.
SELECT dense_rank() OVER (ORDER BY job_id) AS nth_job, side, operation, fields
  FROM dbsync.audit_log WHERE sync = 'audited' AND key = '{"id": 1}' ORDER BY job_id, side DESC;

-- 4. manual: nothing is applied (nor audited) while the decision waits; the commit that
-- follows it audits the staged changes.
SELECT dbsync.alter_sync('audited', direction => 'one_way', strategy => 'manual');
UPDATE wa.src SET title = 'source 2' WHERE id = 2;
UPDATE wa.dst SET name = 'target 2' WHERE id = 2;
UPDATE wa.src SET price = 11 WHERE id = 1;
SELECT status, conflicts_pending FROM dbsync.run('audited');
SELECT count(*) AS audit_rows FROM dbsync.audit WHERE job_id = pg_temp.last_job('audited');
SELECT dbsync.resolve(c.id, 'source') FROM dbsync.conflicts c
  WHERE c.status = 'pending' AND c.job_id = pg_temp.last_job('audited');
SELECT dbsync.wait_job(pg_temp.last_job('audited'));
SELECT side, key, operation, fields FROM dbsync.audit_log
  WHERE job_id = pg_temp.last_job('audited') ORDER BY audit_id, position;
SELECT * FROM wa.dst WHERE id IN (1, 2) ORDER BY id;

-- 5. audit => false: jobs of that sync record nothing, until it is turned back on.
CREATE TABLE wa.quiet_src (id integer PRIMARY KEY, v text);
CREATE TABLE wa.quiet_dst (id integer PRIMARY KEY, v text);
INSERT INTO wa.quiet_src SELECT i, 'v' || i FROM generate_series(1, 3) i;
SELECT dbsync.create_sync('quiet', 'master', 'wa.quiet_src', 'master', 'wa.quiet_dst',
  mapping => '{"id": "id", "v": "v"}', audit => false) > 0 AS created;
SELECT audit FROM dbsync.syncs WHERE name = 'quiet';
SELECT status, inserted FROM dbsync.run('quiet');
SELECT count(*) AS quiet_audit_rows FROM dbsync.audit_log WHERE sync = 'quiet';
SELECT dbsync.alter_sync('quiet', audit => true);
UPDATE wa.quiet_src SET v = 'changed' WHERE id = 3;
SELECT status, updated FROM dbsync.run('quiet');
SELECT key, operation, fields FROM dbsync.audit_log WHERE sync = 'quiet';
-- alter_sync without audit leaves it as it is.
SELECT dbsync.alter_sync('quiet', batch_size => 50);
SELECT audit FROM dbsync.syncs WHERE name = 'quiet';

-- 6. Retention: rows older than audit.keep_days (default 30) go, in chunks of max_rows.
UPDATE dbsync.audit SET at = now() - interval '40 days'
  WHERE job_id = (SELECT min(j.id) FROM dbsync.jobs j JOIN dbsync.syncs s ON s.id = j.sync_id
                  WHERE s.name = 'audited');
SELECT count(*) AS old_rows FROM dbsync.audit WHERE at < now() - interval '30 days';
SELECT dbsync.prune_audit(2) AS deleted;
SELECT dbsync.prune_audit(2) AS deleted;
SELECT dbsync.prune_audit(2) AS deleted;
SELECT count(*) AS old_rows FROM dbsync.audit WHERE at < now() - interval '30 days';
-- The first job's changes are gone from the log, the later ones are kept.
SELECT count(DISTINCT job_id) AS jobs_audited FROM dbsync.audit_log WHERE sync = 'audited';
-- 0 keeps everything; a shorter period prunes more; a bad setting is refused.
UPDATE dbsync.audit SET at = now() - interval '400 days' WHERE job_id IN (
  SELECT j.id FROM dbsync.jobs j JOIN dbsync.syncs s ON s.id = j.sync_id WHERE s.name = 'quiet');
INSERT INTO dbsync.settings (key, value) VALUES ('audit.keep_days', '0');
SELECT dbsync.prune_audit() AS deleted;
UPDATE dbsync.settings SET value = '500' WHERE key = 'audit.keep_days';
SELECT dbsync.prune_audit() AS deleted;
UPDATE dbsync.settings SET value = '365' WHERE key = 'audit.keep_days';
SELECT dbsync.prune_audit() AS deleted;
SELECT count(*) AS quiet_audit_rows FROM dbsync.audit_log WHERE sync = 'quiet';
UPDATE dbsync.settings SET value = '"a month"' WHERE key = 'audit.keep_days';
SELECT regress.try('SELECT dbsync.prune_audit()');
UPDATE dbsync.settings SET value = '1.5' WHERE key = 'audit.keep_days';
SELECT regress.try('SELECT dbsync.prune_audit()');
SELECT regress.try('SELECT dbsync.prune_audit(0)');
DELETE FROM dbsync.settings WHERE key = 'audit.keep_days';

-- Dropping a sync takes its jobs and their audit with it.
SELECT count(*) > 0 AS has_audit FROM dbsync.audit_log WHERE sync = 'audited';
SELECT dbsync.drop_sync('audited');
SELECT count(*) AS audit_rows_left FROM dbsync.audit_log WHERE sync = 'audited';
SELECT dbsync.drop_sync('quiet');
SET client_min_messages = warning;
DROP SCHEMA wa CASCADE;
RESET client_min_messages;
