-- Values read from a local table's Datums (timestamps, dates, jsonb and numeric: straight from
-- the Datum where they can, else through their output text) and the same values read as text
-- from a remote PostgreSQL (libpq) must be equal to the last bit: synced to a remote copy and
-- back, every second run finds nothing to do and every copy equals the original.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wvr CASCADE;  -- the database is kept between runs
RESET client_min_messages;
CREATE SCHEMA wvr;
CREATE TABLE wvr.src (id integer PRIMARY KEY, ts timestamptz, ts3 timestamptz(3),
                      wall timestamp, d date, doc jsonb, n numeric, p numeric(10,2));
CREATE TABLE wvr.remote (LIKE wvr.src INCLUDING ALL);
CREATE TABLE wvr.back (LIKE wvr.src INCLUDING ALL);
INSERT INTO wvr.src VALUES
  (1, '2026-01-01 00:00:01.123456+00', '2026-01-01 00:00:01.123+00', '2026-01-01 12:34:56.789',
   '2026-02-03', '{"b": 1, "a": [1, "x", null, true], "aa": {"z": false, "y": -5}}'),
  -- before 1970 and before 2000 (the two epochs), and a leap day
  (2, '1969-12-31 23:59:59.999999+00', '1999-12-31 23:59:59.999+00', '1900-02-28 23:00:00',
   '1968-02-29', '[]'),
  (3, '2000-01-01 00:00:00+00', '2000-01-01 00:00:00.001+00', '2000-01-01 00:00:00',
   '2000-01-01', '{}'),
  -- key order: jsonb keeps the shortest first, the canonical form byte order
  (4, '4000-06-30 12:00:00+00', NULL, '0001-01-01 00:00:00', '0001-01-01',
   '{"ab": 1, "b": 2, "a": 3, "aab": 4, "": 5, "B": 6, "é": 7}'),
  -- what the direct form does not cover goes through the text: escapes, fractions, big
  -- numbers, control characters, non-ASCII
  (5, NULL, NULL, NULL, NULL,
   '{"q": "a \"quote\" and a \\ backslash", "f": 1.5, "big": 12345678901234567890,
     "e": 1e2, "neg": -0.0, "u": "é€😀", "tab": "a\tb", "zero": 0, "minus": -7}'),
  (6, NULL, NULL, NULL, NULL, '"a string"'),
  (7, NULL, NULL, NULL, NULL, '5'),
  (8, NULL, NULL, NULL, NULL, 'null'),
  (9, NULL, NULL, NULL, NULL, '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'),
  (10, NULL, NULL, NULL, NULL, '{"k": {"k": {"k": [{"b": null, "a": "1"}, 123456789012345678]}}}'),
  (11, NULL, NULL, NULL, NULL, '[123456789012345678, 1234567890123456789, -123456789012345678]'),
  -- whole numbers from jsonb's stored digits: base-10000 groups with zeros inside and after
  -- them, signs, exponents; scales and 19 digits through the text
  (12, NULL, NULL, NULL, NULL,
   '[10000, 100000000, -10000, 9999, 0, 1e4, 20000.0, 1000000000000000000, 100020003, -7e17, 0.0]');
-- numeric: the digits and the display scale as numeric_out prints them (trailing zeros kept),
-- weights far below and above the point, both header forms (short, and long for a weight or
-- scale beyond the short form's), and zero.
UPDATE wvr.src SET n = v.n::numeric, p = v.p::numeric(10,2)
  FROM (VALUES (1, '0', '1.50'), (2, '-0.5', '100.00'), (3, '0.05', '-0.05'),
               (4, '123456789012345678901234567890.123456789', '99999999.99'),
               (5, '1e-100', '0.00'), (6, '1e100', NULL), (7, NULL, '-1.10'),
               (8, '1.50', '0.01'), (9, '-12345.' || rpad('6789', 70, '0'), '10000.00'),
               (10, '10000', '-0.00'), (11, '0.000100', '12.34')) AS v (id, n, p)
 WHERE wvr.src.id = v.id;
SELECT id, n, p FROM wvr.src WHERE id IN (4, 8, 9, 10, 11) ORDER BY id;
SELECT dbsync.add_datasource('vr_loop', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s', current_setting('port'),
                current_database(), current_user)) > 0 AS added;
SELECT dbsync.create_sync('vr_out', 'master', 'wvr.src', 'vr_loop', 'wvr.remote',
  mapping => '{"id": "id", "ts": "ts", "ts3": "ts3", "wall": "wall", "d": "d", "doc": "doc",
              "n": "n", "p": "p"}',
  batch_size => 4) > 0 AS created;
SELECT status, inserted, updated, unchanged, error FROM dbsync.run('vr_out');
-- Again, every row rewritten unchanged on both sides first (new xmins: each row is read in full
-- and compared, not passed over by its fingerprint): the local values (from Datums) match the
-- remote ones (from text) and the baseline.
UPDATE wvr.src SET id = id;
UPDATE wvr.remote SET id = id;
SELECT status, inserted, updated, deleted, unchanged FROM dbsync.run('vr_out');
-- And the other way: the remote table read as text, the local copy read from Datums.
SELECT dbsync.create_sync('vr_back', 'vr_loop', 'wvr.remote', 'master', 'wvr.back',
  mapping => '{"id": "id", "ts": "ts", "ts3": "ts3", "wall": "wall", "d": "d", "doc": "doc",
              "n": "n", "p": "p"}',
  direction => 'two_way', batch_size => 4) > 0 AS created;
SELECT status, inserted, updated, unchanged, error FROM dbsync.run('vr_back');
UPDATE wvr.remote SET id = id;
UPDATE wvr.back SET id = id;
SELECT status, inserted, updated, deleted, source_updated, unchanged FROM dbsync.run('vr_back');
-- Every copy equals the original, value for value (numeric as text: with its display scale).
SELECT count(*) AS differing FROM wvr.src s FULL JOIN wvr.remote r USING (id)
 WHERE (s.ts, s.ts3, s.wall, s.d, s.doc, s.n::text, s.p::text)
       IS DISTINCT FROM (r.ts, r.ts3, r.wall, r.d, r.doc, r.n::text, r.p::text);
SELECT count(*) AS differing FROM wvr.src s FULL JOIN wvr.back b USING (id)
 WHERE (s.ts, s.ts3, s.wall, s.d, s.doc, s.n::text, s.p::text)
       IS DISTINCT FROM (b.ts, b.ts3, b.wall, b.d, b.doc, b.n::text, b.p::text);
-- A change of one value deep in a document, of one microsecond, or in the last digit of a
-- numeric, is seen.
UPDATE wvr.src SET doc = jsonb_set(doc, '{aa,y}', '-6') WHERE id = 1;
UPDATE wvr.src SET ts = ts + interval '1 microsecond' WHERE id = 2;
UPDATE wvr.src SET n = n + 1e-100 WHERE id = 5;
UPDATE wvr.src SET n = n + 1 WHERE id = 6;
SELECT status, updated, unchanged FROM dbsync.run('vr_out');
SELECT doc -> 'aa' AS aa FROM wvr.remote WHERE id = 1;
SELECT ts = '1970-01-01 00:00:00+00' AS moved FROM wvr.remote WHERE id = 2;
SELECT id, n = 2e-100 OR n = 1e100 + 1 AS moved, length(n::text) AS digits FROM wvr.remote
 WHERE id IN (5, 6) ORDER BY id;
-- NaN and the infinities are values of the engine's decimal too (issue 12): read through the
-- output text, synced, and changed like any other value (special_values covers them fully).
CREATE TABLE wvr.special (id integer PRIMARY KEY, n numeric);
CREATE TABLE wvr.special_copy (LIKE wvr.special INCLUDING ALL);
INSERT INTO wvr.special VALUES (1, 1.5), (2, 'NaN');
SELECT dbsync.create_sync('vr_special', 'master', 'wvr.special', 'master', 'wvr.special_copy',
  mapping => '{"id": "id", "n": "n"}') > 0 AS created;
SELECT status, inserted, error FROM dbsync.run('vr_special');
UPDATE wvr.special SET n = '-Infinity' WHERE id = 2;
SELECT status, inserted, updated, error FROM dbsync.run('vr_special');
SELECT id, n FROM wvr.special_copy ORDER BY id;
-- The baseline of new keys is written as COPY writes rows (heap pages, then the primary key; in
-- chunks of 1000): a batch of 2500 new keys, then amcheck: every heap row of dbsync.sync_state
-- is in its index and the index is sound; a second run reads them all back as unchanged.
CREATE TABLE wvr.many (id integer PRIMARY KEY, v text);
CREATE TABLE wvr.many_copy (id integer PRIMARY KEY, v text);
INSERT INTO wvr.many SELECT i, 'v' || i FROM generate_series(1, 2600) i;
SELECT dbsync.create_sync('vr_many', 'master', 'wvr.many', 'master', 'wvr.many_copy',
  mapping => '{"id": "id", "v": "v"}', batch_size => 2500) > 0 AS created;
SELECT status, inserted FROM dbsync.run('vr_many');
SET client_min_messages = warning;  -- the database is kept between runs: amcheck may be there
CREATE EXTENSION IF NOT EXISTS amcheck;
RESET client_min_messages;
SELECT bt_index_check('dbsync.sync_state_pkey'::regclass, true) IS NOT NULL AS checked;
SELECT count(*) FROM dbsync.sync_state s JOIN dbsync.syncs y ON y.id = s.sync_id
 WHERE y.name = 'vr_many';
UPDATE wvr.many SET id = id;
SELECT status, inserted, updated, unchanged FROM dbsync.run('vr_many');
