-- The catalog exists, is not readable by PUBLIC, and rejects nonsense at the row level.
-- Shared by the test files that follow: runs a statement and shows its SQLSTATE and message
-- instead of failing.
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT dbsync.version();
SELECT count(*) AS catalog_tables FROM pg_tables WHERE schemaname = 'dbsync';
SELECT has_table_privilege('public', 'dbsync.datasources', 'SELECT') AS public_can_read;
SELECT has_table_privilege('dbsync_admin', 'dbsync.syncs', 'SELECT') AS admin_can_read;
SELECT has_column_privilege('dbsync_admin', 'dbsync.datasources', 'conninfo', 'SELECT') AS admin_reads_secrets;
-- row-level constraints (terse: the failing rows carry timestamps)
\set VERBOSITY terse
INSERT INTO dbsync.datasources (name, kind) VALUES ('master', 'local');
INSERT INTO dbsync.datasources (name, kind) VALUES ('bad name; drop', 'local');
INSERT INTO dbsync.datasources (name, kind, conninfo) VALUES ('x', 'oracle', '\x00');
INSERT INTO dbsync.datasources (name, kind) VALUES ('remote', 'postgres');
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table, delete_policy)
  SELECT 's1', id, 'a', id, 'b', 'soft:' FROM dbsync.datasources WHERE name = 'master';
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table, batch_size)
  SELECT 's1', id, 'a', id, 'b', 0 FROM dbsync.datasources WHERE name = 'master';
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table)
  SELECT 's1', id, 'a', id, 'a' FROM dbsync.datasources WHERE name = 'master';
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table, strategy)
  SELECT 's1', id, 'a', id, 'b', 'merge' FROM dbsync.datasources WHERE name = 'master';
-- one unfinished job per sync
INSERT INTO dbsync.jobs (sync_id, trigger) SELECT id, 'sql' FROM dbsync.syncs WHERE name = 's1';
INSERT INTO dbsync.jobs (sync_id, trigger) SELECT id, 'sql' FROM dbsync.syncs WHERE name = 's1';
INSERT INTO dbsync.jobs (sync_id, trigger) SELECT id, 'cron' FROM dbsync.syncs WHERE name = 's1';
DELETE FROM dbsync.syncs;
DELETE FROM dbsync.datasources;
