-- Every strategy but webhook, with a concrete before/after; deletes (propagate, ignore, soft);
-- two-way; the manual cycle: conflicts pending -> the job waits -> decisions -> it commits.
\set SHOW_CONTEXT never
CREATE SCHEMA wst;
CREATE TABLE wst.l (id integer PRIMARY KEY, name text, price integer);
CREATE TABLE wst.r (id integer PRIMARY KEY, name text, price integer);
INSERT INTO wst.l SELECT i, 'n' || i, i * 10 FROM generate_series(1, 9) i;
SELECT dbsync.create_sync('lr', 'master', 'wst.l', 'master', 'wst.r',
  mapping => '{"id": "id", "name": "name", "price": "price"}',
  strategy => 'target_wins') > 0 AS created;
SELECT status, inserted FROM dbsync.run('lr');

-- target_wins: both sides changed the same field; the target keeps its value, and the kept
-- difference is not raised again by the next run.
UPDATE wst.l SET name = 'source 1' WHERE id = 1;
UPDATE wst.r SET name = 'target 1' WHERE id = 1;
SELECT status, conflicts, updated, conflicts_pending FROM dbsync.run('lr');
SELECT (SELECT name FROM wst.l WHERE id = 1) AS source, (SELECT name FROM wst.r WHERE id = 1) AS target;
SELECT status, conflicts, updated, unchanged FROM dbsync.run('lr');

-- source_wins: the source's value is written.
SELECT dbsync.alter_sync('lr', strategy => 'source_wins');
UPDATE wst.l SET name = 'source 2' WHERE id = 2;
UPDATE wst.r SET name = 'target 2' WHERE id = 2;
SELECT status, conflicts, updated FROM dbsync.run('lr');
SELECT name FROM wst.r WHERE id = 2;

-- merge: different fields changed on each side combine; the same field changed on both sides
-- falls back (merge_fallback source here).
SELECT dbsync.alter_sync('lr', strategy => 'merge', strategy_options => '{"merge_fallback": "source"}');
UPDATE wst.l SET name = 'merged name' WHERE id = 3;
UPDATE wst.r SET price = 333 WHERE id = 3;
UPDATE wst.l SET price = 41 WHERE id = 4;
UPDATE wst.r SET price = 42 WHERE id = 4;
SELECT status, conflicts, updated FROM dbsync.run('lr');
SELECT * FROM wst.r WHERE id IN (3, 4) ORDER BY id;

-- manual: the whole change set waits in the stage while a conflict is pending; the target is
-- not written (not even the clean update of row 6) until every conflict is decided.
SELECT dbsync.alter_sync('lr', strategy => 'manual', strategy_options => '{}');
UPDATE wst.l SET name = 'source 5' WHERE id = 5;
UPDATE wst.r SET name = 'target 5' WHERE id = 5;
UPDATE wst.l SET price = 66 WHERE id = 6;
SELECT status, phase, conflicts, conflicts_pending, updated FROM dbsync.run('lr');
SELECT * FROM wst.r WHERE id IN (5, 6) ORDER BY id;
SELECT key, kind, source_row, target_row, source_changed, target_changed, conflicting, status
  FROM dbsync.conflict_list WHERE sync = 'lr' AND status = 'pending';
SELECT count(*) AS staged FROM dbsync.stage;
-- run while it waits returns the same job.
SELECT status FROM dbsync.run('lr');
-- Bad decisions: unknown decision, a row with a decision other than custom, custom without a
-- row or with an unknown column or a changed key, an unknown conflict.
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'maybe')$$, (SELECT max(id) FROM dbsync.conflicts)));
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'source', '{"name": "x"}')$$, (SELECT max(id) FROM dbsync.conflicts)));
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'custom')$$, (SELECT max(id) FROM dbsync.conflicts)));
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'custom', '{"nope": 1}')$$, (SELECT max(id) FROM dbsync.conflicts)));
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'custom', '{"id": 99}')$$, (SELECT max(id) FROM dbsync.conflicts)));
SELECT regress.try($$SELECT dbsync.resolve(424242, 'source')$$);
SELECT regress.try($$SELECT dbsync.resolve_all('lr', 'custom')$$);
-- The last decision commits the job: row 5 takes the source's value, row 6 its update.
SELECT dbsync.resolve((SELECT max(id) FROM dbsync.conflicts), 'source');
SELECT dbsync.wait_job((SELECT max(id) FROM dbsync.jobs));
SELECT status, updated, conflicts_pending FROM dbsync.job_status((SELECT max(id) FROM dbsync.jobs));
SELECT * FROM wst.r WHERE id IN (5, 6) ORDER BY id;
SELECT count(*) AS staged FROM dbsync.stage;
SELECT regress.try(format($$SELECT dbsync.resolve(%s, 'source')$$, (SELECT max(id) FROM dbsync.conflicts)));

-- custom, then resolve_all for the rest.
UPDATE wst.l SET name = 'source 7', price = 71 WHERE id = 7;
UPDATE wst.r SET name = 'target 7' WHERE id = 7;
UPDATE wst.l SET name = 'source 8' WHERE id = 8;
UPDATE wst.r SET name = 'target 8' WHERE id = 8;
SELECT status, conflicts_pending FROM dbsync.run('lr');
SELECT dbsync.resolve(c.id, 'custom', '{"name": "custom 7"}')
  FROM dbsync.conflicts c WHERE c.status = 'pending' AND c.key->>'id' = '7';
SELECT dbsync.resolve_all('lr', 'target');
SELECT dbsync.wait_job((SELECT max(id) FROM dbsync.jobs));
SELECT * FROM wst.r WHERE id IN (7, 8) ORDER BY id;
SELECT key->>'id' AS id, resolution, resolved_row FROM dbsync.conflict_list
  WHERE key->>'id' IN ('7', '8') ORDER BY id;

-- skip: the target keeps its value and the skipped difference is not raised again.
UPDATE wst.l SET name = 'source 9' WHERE id = 9;
UPDATE wst.r SET name = 'target 9' WHERE id = 9;
SELECT status, conflicts_pending FROM dbsync.run('lr');
SELECT dbsync.resolve_all('lr', 'skip');
SELECT dbsync.wait_job((SELECT max(id) FROM dbsync.jobs));
SELECT name FROM wst.r WHERE id = 9;
SELECT status, conflicts, unchanged FROM dbsync.run('lr');

-- Cancelling a job that waits for decisions drops its stage; nothing was written.
UPDATE wst.l SET name = 'source 1b', price = 1 WHERE id = 1;
UPDATE wst.r SET name = 'target 1b' WHERE id = 1;
SELECT status FROM dbsync.run('lr');
SELECT dbsync.cancel((SELECT max(id) FROM dbsync.jobs));
SELECT status, conflicts_pending FROM dbsync.job_status((SELECT max(id) FROM dbsync.jobs));
SELECT count(*) AS staged FROM dbsync.stage;
SELECT * FROM wst.r WHERE id = 1;
SELECT dbsync.alter_sync('lr', strategy => 'source_wins');
SELECT status, updated FROM dbsync.run('lr');
SELECT * FROM wst.r WHERE id = 1;

-- Delete policies: ignore keeps the target's row; soft:<column> flags it, and the row coming
-- back on the source clears the flag; propagate deletes it.
ALTER TABLE wst.r ADD COLUMN gone boolean NOT NULL DEFAULT false;
SELECT dbsync.alter_sync('lr', delete_policy => 'ignore');
DELETE FROM wst.l WHERE id = 9;
SELECT status, deleted FROM dbsync.run('lr');
SELECT id, name FROM wst.r WHERE id = 9;
SELECT dbsync.alter_sync('lr', delete_policy => 'soft:gone');
SELECT status, inserted, updated, deleted FROM dbsync.run('lr');
DELETE FROM wst.l WHERE id = 8;
SELECT status, deleted FROM dbsync.run('lr');
SELECT id, name, gone FROM wst.r WHERE id = 8;
INSERT INTO wst.l VALUES (8, 'back', 80);
SELECT status, inserted, updated FROM dbsync.run('lr');
SELECT id, name, gone FROM wst.r WHERE id = 8;
SELECT dbsync.alter_sync('lr', delete_policy => 'propagate');
DELETE FROM wst.l WHERE id = 8;
SELECT status, deleted FROM dbsync.run('lr');
SELECT count(*) AS row_8 FROM wst.r WHERE id = 8;

-- two_way: a change on the target flows back to the source, as do inserts and deletes.
SELECT dbsync.alter_sync('lr', direction => 'two_way');
SELECT status FROM dbsync.run('lr');
UPDATE wst.r SET price = 222 WHERE id = 2;
INSERT INTO wst.r (id, name, price) VALUES (50, 'from the target', 5);
DELETE FROM wst.r WHERE id = 4;
UPDATE wst.l SET name = 'source 6b' WHERE id = 6;
SELECT status, updated, source_inserted, source_updated, source_deleted FROM dbsync.run('lr');
SELECT * FROM wst.l WHERE id IN (2, 4, 6, 50) ORDER BY id;
SELECT id, name, price FROM wst.r WHERE id IN (2, 4, 6, 50) ORDER BY id;
SELECT status, unchanged, updated, source_updated FROM dbsync.run('lr');
