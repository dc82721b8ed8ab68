-- Jobs read local tables through direct index scans (dbsync.direct_scan is on by default): keyset
-- pages across the commits a job makes between batches, light re-syncs (fingerprints: key
-- columns and xmin only) after changes, text and composite keys. The targets end equal to the
-- sources; then the same with SPI pages forced (the database's setting, which executors read when
-- they start: the counts are the same whichever path a job takes).
\set SHOW_CONTEXT never
CREATE SCHEMA wds;
CREATE TABLE wds.src (id bigint PRIMARY KEY, body text, n integer);
CREATE TABLE wds.dst (id bigint PRIMARY KEY, body text, n integer);
INSERT INTO wds.src SELECT g, 'b' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE g END
  FROM generate_series(1, 500) g;
SELECT dbsync.create_sync('wds', 'master', 'wds.src', 'master', 'wds.dst',
  batch_size => 37) > 0 AS created;
CREATE VIEW wds.equal AS SELECT
  (SELECT count(*) FROM wds.src) AS src_rows, (SELECT count(*) FROM wds.dst) AS dst_rows,
  NOT EXISTS (TABLE wds.src EXCEPT TABLE wds.dst)
    AND NOT EXISTS (TABLE wds.dst EXCEPT TABLE wds.src) AS equal;
SELECT status, inserted FROM dbsync.run('wds');
SELECT * FROM wds.equal;
-- Changes in every page, keys moved, rows deleted and added; then a quiet re-sync.
UPDATE wds.src SET body = 'changed' WHERE id % 50 = 0;
UPDATE wds.src SET n = NULL WHERE id = 3;
DELETE FROM wds.src WHERE id BETWEEN 100 AND 120;
INSERT INTO wds.src SELECT g, 'new', g FROM generate_series(1000, 1010) g;
UPDATE wds.src SET id = -id WHERE id IN (5, 6);
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds');
SELECT * FROM wds.equal;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds');
-- Drift on the target is found (source wins) although the source did not change.
UPDATE wds.dst SET body = 'drift' WHERE id = 250;
DELETE FROM wds.dst WHERE id = 251;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds');
SELECT * FROM wds.equal;

-- A text key in the "C" collation and a composite key.
CREATE TABLE wds.tsrc (code text COLLATE "C" PRIMARY KEY, v integer);
CREATE TABLE wds.tdst (code text COLLATE "C" PRIMARY KEY, v integer);
INSERT INTO wds.tsrc SELECT chr(65 + g % 58) || g, g FROM generate_series(1, 300) g;
SELECT dbsync.create_sync('wds_t', 'master', 'wds.tsrc', 'master', 'wds.tdst',
  batch_size => 16) > 0 AS created;
SELECT status, inserted FROM dbsync.run('wds_t');
UPDATE wds.tsrc SET v = -v WHERE v % 40 = 0;
DELETE FROM wds.tsrc WHERE v % 45 = 0;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds_t');
SELECT count(*) AS rows, NOT EXISTS (TABLE wds.tsrc EXCEPT TABLE wds.tdst)
  AND NOT EXISTS (TABLE wds.tdst EXCEPT TABLE wds.tsrc) AS equal FROM wds.tdst;
CREATE TABLE wds.csrc (a integer, b integer, v text, PRIMARY KEY (a, b));
CREATE TABLE wds.cdst (a integer, b integer, v text, PRIMARY KEY (a, b));
INSERT INTO wds.csrc SELECT a, b, a || '/' || b FROM generate_series(1, 20) a, generate_series(1, 15) b;
SELECT dbsync.create_sync('wds_c', 'master', 'wds.csrc', 'master', 'wds.cdst',
  batch_size => 7) > 0 AS created;
SELECT status, inserted FROM dbsync.run('wds_c');
UPDATE wds.csrc SET v = 'x' WHERE b = 15;
DELETE FROM wds.csrc WHERE a = 7;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds_c');
SELECT count(*) AS rows, NOT EXISTS (TABLE wds.csrc EXCEPT TABLE wds.cdst)
  AND NOT EXISTS (TABLE wds.cdst EXCEPT TABLE wds.csrc) AS equal FROM wds.cdst;

-- SPI pages forced for the executors: the same changes give the same counts.
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET dbsync.direct_scan = off', current_database());
END $$;
UPDATE wds.src SET body = 'again' WHERE id % 50 = 1;
DELETE FROM wds.src WHERE id BETWEEN 200 AND 210;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('wds');
SELECT * FROM wds.equal;
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I RESET dbsync.direct_scan', current_database());
END $$;

SELECT dbsync.drop_sync(name) FROM unnest(ARRAY['wds', 'wds_t', 'wds_c']) name;
DROP SCHEMA wds CASCADE;
