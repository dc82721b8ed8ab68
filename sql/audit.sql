-- The audit trail's catalog side, without background workers (test/workers/sql/audit.sql runs
-- jobs): the option audit on create_sync / alter_sync, the table's shape and privileges, the
-- view dbsync.audit_log over rows as the job runners write them, and retention.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('au_master', 'local');
CREATE SCHEMA au;
CREATE TABLE au.a (id integer PRIMARY KEY, title text, price integer);
CREATE TABLE au.b (id integer PRIMARY KEY, name text, price integer);

-- 1. The option: on by default, off with audit => false, changed by alter_sync, kept when
-- alter_sync does not name it; NULL is refused.
SELECT dbsync.create_sync('au_on', 'au_master', 'au.a', 'au_master', 'au.b',
  mapping => '{"id": "id", "name": "title", "price": "price"}') > 0 AS created;
SELECT dbsync.create_sync('au_off', 'au_master', 'au.b', 'au_master', 'au.a',
  mapping => '{"id": "id", "title": "name"}', audit => false) > 0 AS created;
SELECT name, audit FROM dbsync.syncs WHERE name LIKE 'au\_%' ORDER BY name;
SELECT regress.try($$SELECT dbsync.create_sync('au_null', 'au_master', 'au.a', 'au_master', 'au.b', audit => NULL)$$);
SELECT dbsync.alter_sync('au_off', audit => true);
SELECT dbsync.alter_sync('au_on', audit => false);
SELECT dbsync.alter_sync('au_on', batch_size => 7);
SELECT name, audit, batch_size FROM dbsync.syncs WHERE name LIKE 'au\_%' ORDER BY name;
SELECT dbsync.alter_sync('au_on', audit => true);

-- 2. Privileges: like the rest of the catalog, nothing for PUBLIC; dbsync_admin reads the view.
SELECT has_table_privilege('public', 'dbsync.audit', 'SELECT') AS public_reads_audit,
       has_table_privilege('public', 'dbsync.audit_log', 'SELECT') AS public_reads_log,
       has_table_privilege('dbsync_admin', 'dbsync.audit', 'SELECT') AS admin_reads_audit,
       has_table_privilege('dbsync_admin', 'dbsync.audit_log', 'SELECT') AS admin_reads_log,
       has_function_privilege('public', 'dbsync.prune_audit(integer)', 'EXECUTE') AS public_prunes;

-- 3. Rows as a job writes them (one per batch and side; keys, operations and fields in step):
-- the view shows one row per change, with the operation's name, a null fields entry as every
-- column of the side, and so does fields null as a whole (every change wrote every column: what
-- a batch of inserts stores).
INSERT INTO dbsync.jobs (sync_id, trigger, status, finished_at)
  SELECT id, 'sql', 'succeeded', now() FROM dbsync.syncs WHERE name = 'au_on';
CREATE FUNCTION pg_temp.job() RETURNS bigint LANGUAGE sql AS $$
  SELECT max(j.id) FROM dbsync.jobs j JOIN dbsync.syncs s ON s.id = j.sync_id WHERE s.name = 'au_on'
$$;
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 1, '{id,name,price}', '[{"id": 1}, {"id": 2}, {"id": 3}]',
   'iud', '[null, ["price"], []]'),
  (pg_temp.job(), 'source', 1, '{id,name,price}', '[{"id": 2}]', 's', '[[]]'),
  (pg_temp.job(), 'target', 6, '{id,name}', '[{"id": 4}, {"id": 5}]', 'ii', 'null');
SELECT sync, side, key, operation, fields, position FROM dbsync.audit_log
  ORDER BY audit_id, position;
SELECT side, operation, fields FROM dbsync.audit_log WHERE key = '{"id": 2}' ORDER BY side DESC;
SELECT pg_typeof(key) AS key_type, pg_typeof(operation) AS operation_type,
       pg_typeof(fields) AS fields_type, pg_typeof(position) AS position_type
  FROM dbsync.audit_log LIMIT 1;
-- The same batch and side again (a staged batch applied twice across a crash) is kept once:
-- the job runners insert with ON CONFLICT on the digest. Nonsense is refused: fields out of
-- step with operations, an unknown operation letter or none, another side, keys or fields not
-- an array (fields may be null as a whole), JSON that does not parse. (The keys' count is not
-- checked: that would parse a batch's keys twice; see dbsync.audit.)
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 1, '{id}', '[{"id": 1}]', 'i', 'null')
  ON CONFLICT (job_id, side, digest) DO NOTHING;
SELECT count(*) AS audit_rows FROM dbsync.audit;
\set VERBOSITY terse
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 2, '{id}', '[{"id": 1}, {"id": 2}]', 'ii', '[null]');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 3, '{id}', '[{"id": 1}]', 'x', '[null]');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 3, '{id}', '[]', '', '[]');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'elsewhere', 4, '{id}', '[{"id": 1}]', 'i', '[null]');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 5, '{id}', '{"id": 1}', 'i', '[null]');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 5, '{id}', '[{"id": 1}]', 'i', '"all"');
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 5, '{id}', '[{"id": 1}', 'i', '[null]');
\set VERBOSITY default

-- 4. Retention: audit.keep_days (default 30; 0 keeps everything), at most max_rows per call.
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields, at)
  SELECT pg_temp.job(), 'target', 100 + i, '{id}', '[{"id": 9}]', 'u', '[["id"]]',
         now() - make_interval(days => 30 + i)
    FROM generate_series(1, 5) i;
SELECT dbsync.prune_audit(3) AS deleted;
SELECT dbsync.prune_audit(3) AS deleted;
SELECT dbsync.prune_audit(3) AS deleted;
SELECT count(*) AS audit_rows FROM dbsync.audit;
UPDATE dbsync.audit SET at = now() - interval '2 days';
INSERT INTO dbsync.settings (key, value) VALUES ('audit.keep_days', '0');
SELECT dbsync.prune_audit() AS deleted;
UPDATE dbsync.settings SET value = '1' WHERE key = 'audit.keep_days';
SELECT dbsync.prune_audit() AS deleted;
SELECT count(*) AS audit_rows FROM dbsync.audit;
UPDATE dbsync.settings SET value = '-1' WHERE key = 'audit.keep_days';
SELECT regress.try('SELECT dbsync.prune_audit()');
UPDATE dbsync.settings SET value = '"30"' WHERE key = 'audit.keep_days';
SELECT regress.try('SELECT dbsync.prune_audit()');
SELECT regress.try('SELECT dbsync.prune_audit(0)');
DELETE FROM dbsync.settings WHERE key = 'audit.keep_days';

-- 5. A deleted job (or sync) takes its audit with it.
INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) VALUES
  (pg_temp.job(), 'target', 7, '{id}', '[{"id": 1}]', 'i', '[null]');
SELECT dbsync.drop_sync('au_on');
SELECT count(*) AS audit_rows FROM dbsync.audit;
SELECT dbsync.drop_sync('au_off');
DELETE FROM dbsync.datasources WHERE name = 'au_master';
DROP SCHEMA au CASCADE;
