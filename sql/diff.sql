-- dbsync.diff: what a run of a local -> local sync would do, key by key (ThreeWayDiff and the
-- conflict resolver over both tables and the baseline); nothing is written.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('df_master', 'local');
INSERT INTO dbsync.datasources (name, kind, conninfo) VALUES ('df_remote', 'mysql', '\x00');

CREATE SCHEMA df;
CREATE TABLE df.items (id integer PRIMARY KEY, name text, price numeric(10,2), active boolean);
CREATE TABLE df.items_copy (id integer PRIMARY KEY, title text, price numeric(10,2));
INSERT INTO df.items SELECT i, 'Item ' || i, i * 1.5, i % 2 = 1 FROM generate_series(1, 8) i;
-- batch_size 3: the scans read keyset pages of 3 rows.
SELECT dbsync.create_sync('items', 'df_master', 'df.items', 'df_master', 'df.items_copy',
  mapping => '{"id": "id", "title": "@name", "price": "price"}', batch_size => 3) > 0 AS created;

-- 1. An empty target: every source row is an insert of every mapped column.
SELECT * FROM dbsync.diff('items');
SELECT count(*) AS limited FROM dbsync.diff('items', 2);
SELECT count(*) AS none FROM dbsync.diff('items', 0);

-- 2. The rows copied with plain SQL, then changed on both sides; no baseline yet: equal rows only
-- refresh the baseline, differing rows are first-run conflicts (source_wins: an update).
INSERT INTO df.items_copy SELECT id, name, price FROM df.items;
UPDATE df.items_copy SET title = 'Renamed' WHERE id = 2;
UPDATE df.items SET price = 99 WHERE id = 4;
DELETE FROM df.items_copy WHERE id = 5;
INSERT INTO df.items_copy VALUES (42, 'Only in the target', 1);
SELECT * FROM dbsync.diff('items');
-- Under manual, a conflict waits for a person.
SELECT dbsync.alter_sync('items', strategy => 'manual');
SELECT key, action, fields, detail->>'resolution' AS resolution FROM dbsync.diff('items')
  WHERE action = 'conflict';
-- Two-way: a row only in the target flows back to the source.
SELECT dbsync.alter_sync('items', direction => 'two_way', strategy => 'source_wins');
SELECT key, action, fields FROM dbsync.diff('items') WHERE key->>'id' IN ('5', '42');
SELECT dbsync.alter_sync('items', direction => 'one_way');

-- 3. A baseline (sync_state rows, hand-encoded in engine/row_codec's format: sortable key,
-- flags, row hash, field hashes). Hash 0 never matches a real row, so each side counts as
-- changed. Key 3: both sides present and equal -> in step; key 2: both differ -> both changed;
-- key 5: target deleted and source "changed"; key 77: gone on both sides -> forget it.
INSERT INTO dbsync.sync_state (sync_id, key, state)
  SELECT s.id, k.key, k.state FROM dbsync.syncs s, (VALUES
    ('\x038000000000000003'::bytea, ('\x07' || repeat('00', 8) || '03' || repeat('00', 24))::bytea),
    ('\x038000000000000002'::bytea, ('\x07' || repeat('00', 8) || '03' || repeat('00', 24))::bytea),
    ('\x038000000000000005'::bytea, ('\x07' || repeat('00', 8) || '03' || repeat('00', 24))::bytea),
    ('\x03800000000000004d'::bytea, ('\x04' || repeat('00', 8) || '00')::bytea)) AS k(key, state)
  WHERE s.name = 'items';
SELECT * FROM dbsync.diff('items') WHERE key->>'id' IN ('2', '3', '5', '77');
-- A corrupt entry fails the whole diff.
INSERT INTO dbsync.sync_state (sync_id, key, state)
  SELECT id, '\x038000000000000006', '\xff' FROM dbsync.syncs WHERE name = 'items';
SELECT regress.try($$SELECT * FROM dbsync.diff('items')$$);
DELETE FROM dbsync.sync_state WHERE key = '\x038000000000000006';

-- 4. Text keys: byte order (COLLATE "C"), across keyset pages of 2 rows.
CREATE TABLE df.tags (code text PRIMARY KEY, label text);
CREATE TABLE df.tags_copy (code text PRIMARY KEY, label text);
INSERT INTO df.tags VALUES ('b', 'lower b'), ('B', 'upper B'), ('a', 'lower a'), ('Z', 'upper Z'),
  ('é', 'e acute'), ('ä', 'a umlaut'), ('a b', 'with a space'), ('_x', 'underscore'),
  ('Ä', 'A umlaut'), ('10', 'ten'), ('9', 'nine');
INSERT INTO df.tags_copy VALUES ('a', 'lower a'), ('é', 'changed'), ('zz', 'target only');
SELECT dbsync.create_sync('tags', 'df_master', 'df.tags', 'df_master', 'df.tags_copy',
  batch_size => 2) > 0 AS created;
SELECT key->>'code' AS code, action, fields FROM dbsync.diff('tags');

-- 5. A composite key, pages of 2 rows.
CREATE TABLE df.lines (order_id integer, line integer, qty integer, PRIMARY KEY (order_id, line));
CREATE TABLE df.lines_copy (order_id integer, line integer, qty integer,
  PRIMARY KEY (order_id, line));
INSERT INTO df.lines SELECT o, l, o * 10 + l FROM generate_series(1, 3) o, generate_series(1, 3) l;
INSERT INTO df.lines_copy SELECT * FROM df.lines WHERE line <> 2;
UPDATE df.lines_copy SET qty = 0 WHERE order_id = 2 AND line = 3;
SELECT dbsync.create_sync('lines', 'df_master', 'df.lines', 'df_master', 'df.lines_copy',
  batch_size => 2) > 0 AS created;
SELECT key, action, fields, detail->>'kind' AS kind FROM dbsync.diff('lines');

-- 6. A filter on the source: only active items (odd ids) are the source; the target's even ids
-- look like rows only the target has.
SELECT dbsync.create_sync('active_items', 'df_master', 'df.items', 'df_master', 'df.items_copy',
  mapping => '{"id": "id", "title": "@name", "price": "price"}', filter => 'active',
  batch_size => 2) > 0 AS created;
SELECT key->>'id' AS id, action, detail->>'kind' AS kind FROM dbsync.diff('active_items');
-- preview reads the source through the same filtered, keyset-paged scan.
SELECT * FROM dbsync.preview('active_items', 3);

-- 7. Hostile names are quoted wherever they reach SQL, in the keyset predicate too (pages of one
-- row); a value that does not fit the target's column is a row error, not the end of the diff.
CREATE TABLE df."x""; DROP TABLE df.items; --" ("k""; DROP TABLE df.items; --" text PRIMARY KEY,
  v text);
CREATE TABLE df.short (k text PRIMARY KEY, v varchar(3));
INSERT INTO df."x""; DROP TABLE df.items; --" VALUES ('k1', 'abc'), ('k2', 'abcdef'), ('k3', 'x');
SELECT dbsync.create_sync('hostile', 'df_master', 'df."x""; DROP TABLE df.items; --"',
  'df_master', 'df.short', mapping => '{"k": {"source": "k\"; DROP TABLE df.items; --"}, "v": "v"}',
  batch_size => 1) > 0 AS created;
SELECT * FROM dbsync.diff('hostile');
SELECT to_regclass('df.items') IS NOT NULL AS items_still_there;

-- 8. Errors.
SELECT regress.try($$SELECT * FROM dbsync.diff('no_such_sync')$$);
SELECT regress.try($$SELECT * FROM dbsync.diff('items', -1)$$);
SELECT regress.try($$SELECT * FROM dbsync.diff(NULL)$$);
SELECT dbsync.create_sync('to_remote', 'df_master', 'df.items', 'df_remote', 'public.items') > 0
  AS created;
SELECT regress.try($$SELECT * FROM dbsync.diff('to_remote')$$);

-- 9. Nothing was written: the targets and the baseline are as the statements above left them.
SELECT (SELECT count(*) FROM df.items_copy) AS items_copy, (SELECT count(*) FROM df.tags_copy) AS tags_copy,
       (SELECT count(*) FROM df.lines_copy) AS lines_copy, (SELECT count(*) FROM df.short) AS short,
       (SELECT count(*) FROM df.items) AS items, (SELECT count(*) FROM dbsync.sync_state) AS sync_state,
       (SELECT count(*) FROM dbsync.jobs) AS jobs;
SELECT count(*) AS diffed FROM dbsync.diff('items');
SELECT (SELECT count(*) FROM df.items_copy) AS items_copy, (SELECT count(*) FROM df.items) AS items,
       (SELECT count(*) FROM dbsync.sync_state) AS sync_state;

SELECT dbsync.drop_sync(name) FROM dbsync.syncs WHERE name IN
  ('items', 'tags', 'lines', 'active_items', 'hostile', 'to_remote') ORDER BY name;
DELETE FROM dbsync.datasources WHERE name IN ('df_master', 'df_remote');
SET client_min_messages = warning;
DROP SCHEMA df CASCADE;
RESET client_min_messages;
