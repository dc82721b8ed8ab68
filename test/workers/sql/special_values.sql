-- Issue 12, "one value stops the whole job": numeric NaN and infinities, date and timestamp
-- infinities, BC dates and timestamps, years after 9999 sync PostgreSQL -> PostgreSQL and back,
-- exactly, through the local end (SPI, Datums) and the remote end (libpq, COPY), both directions
-- (two-way write-back), and dbsync.diff shows them. A value the target type cannot hold is a
-- row error: counted, reported, the job goes on. And the value items of section 6: char(n) ->
-- text drops the padding as PostgreSQL's cast does, timestamps are rounded to a column's
-- precision exactly as PostgreSQL rounds them (ties before 2000 too).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wsv CASCADE;
RESET client_min_messages;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
CREATE SCHEMA wsv;
CREATE TABLE wsv.src (id integer PRIMARY KEY, n numeric, p numeric(10,2), f float8,
                      ts timestamptz, wall timestamp, ts0 timestamp(0), d date);
CREATE TABLE wsv.remote (LIKE wsv.src INCLUDING ALL);
CREATE TABLE wsv.back (LIKE wsv.src INCLUDING ALL);
INSERT INTO wsv.src VALUES
  (1, 'NaN', 'NaN', 'NaN', 'infinity', 'infinity', 'infinity', 'infinity'),
  (2, 'Infinity', 1.5, 'Infinity', '-infinity', '-infinity', '-infinity', '-infinity'),
  (3, '-Infinity', -2.25, '-Infinity', '0044-03-15 10:00:00.123456+00 BC',
   '4714-11-24 00:00:00 BC', '0001-12-31 23:59:59 BC', '4714-11-24 BC'),
  (4, 1e100, 0, 0, '10000-01-01 00:00:00+00', '294246-12-31 23:59:59.999999',
   '12345-06-07 08:09:10', '5874897-12-31'),
  (5, 0.5, 99999999.99, -0.0, '2026-01-01 00:00:00+00', '1999-12-31 23:59:59.5',
   '1999-12-31 23:59:59.5', '0001-01-01 BC');
SELECT id, n, p, f, ts, wall, ts0, d FROM wsv.src ORDER BY id;
-- Local -> remote (one value per column from a Datum, written with binary COPY), two-way.
SELECT dbsync.add_datasource('sv_loop', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s', current_setting('port'),
                current_database(), current_user)) > 0 AS added;
SELECT dbsync.create_sync('sv_out', 'master', 'wsv.src', 'sv_loop', 'wsv.remote',
  mapping => '{"id": "id", "n": "n", "p": "p", "f": "f", "ts": "ts", "wall": "wall",
              "ts0": "ts0", "d": "d"}',
  direction => 'two_way', batch_size => 2) > 0 AS created;
-- What a run would do, and the mapped rows: every value shown.
SELECT key, action, fields FROM dbsync.diff('sv_out') ORDER BY key;
SELECT dbsync.preview('sv_out');
SELECT status, inserted, updated, errors, error FROM dbsync.run('sv_out');
-- Every row rewritten unchanged on both sides (read in full again): nothing to do.
UPDATE wsv.src SET id = id;
UPDATE wsv.remote SET id = id;
SELECT status, inserted, updated, source_updated, unchanged FROM dbsync.run('sv_out');
SELECT count(*) AS differing FROM wsv.src s FULL JOIN wsv.remote r USING (id)
 WHERE (s.n::text, s.p::text, s.f::text, s.ts, s.wall, s.ts0, s.d)
       IS DISTINCT FROM (r.n::text, r.p::text, r.f::text, r.ts, r.wall, r.ts0, r.d);
-- The remote (target) side changes to other special values: written back into the local source
-- (SPI, text parameters cast to the column types).
UPDATE wsv.remote SET n = '-Infinity', ts = '0001-01-01 00:00:00+00 BC', d = '0005-02-29 BC',
                      wall = '100000-01-01 00:00:00'
 WHERE id = 1;
UPDATE wsv.remote SET n = 'NaN', f = 'NaN', ts = 'infinity', d = '-infinity' WHERE id = 5;
SELECT key, action, fields FROM dbsync.diff('sv_out') ORDER BY key;
SELECT status, updated, source_updated, errors, error FROM dbsync.run('sv_out');
SELECT id, n, ts, wall, d, f FROM wsv.src WHERE id IN (1, 5) ORDER BY id;
SELECT status, updated, source_updated, unchanged FROM dbsync.run('sv_out');
-- Remote -> local (values read as text over libpq, written through SPI), two-way.
SELECT dbsync.create_sync('sv_back', 'sv_loop', 'wsv.remote', 'master', 'wsv.back',
  mapping => '{"id": "id", "n": "n", "p": "p", "f": "f", "ts": "ts", "wall": "wall",
              "ts0": "ts0", "d": "d"}',
  direction => 'two_way', batch_size => 2) > 0 AS created;
SELECT status, inserted, errors, error FROM dbsync.run('sv_back');
UPDATE wsv.remote SET id = id;
UPDATE wsv.back SET id = id;
SELECT status, inserted, updated, source_updated, unchanged FROM dbsync.run('sv_back');
SELECT count(*) AS differing FROM wsv.remote r FULL JOIN wsv.back b USING (id)
 WHERE (r.n::text, r.p::text, r.f::text, r.ts, r.wall, r.ts0, r.d)
       IS DISTINCT FROM (b.n::text, b.p::text, b.f::text, b.ts, b.wall, b.ts0, b.d);
-- The local target changes: written back into the remote source (libpq).
UPDATE wsv.back SET n = 'Infinity', ts = '-infinity', d = '2000-01-01 BC', ts0 = 'infinity'
 WHERE id = 3;
SELECT status, updated, source_updated, errors, error FROM dbsync.run('sv_back');
SELECT id, n, ts, ts0, d FROM wsv.remote WHERE id = 3;
SELECT count(*) AS differing FROM wsv.remote r FULL JOIN wsv.back b USING (id)
 WHERE (r.n::text, r.p::text, r.f::text, r.ts, r.wall, r.ts0, r.d)
       IS DISTINCT FROM (b.n::text, b.p::text, b.f::text, b.ts, b.wall, b.ts0, b.d);
-- A value the target type cannot hold (numeric(10,2) holds NaN but no infinity) is a row error:
-- counted and reported with the key, the other rows go on (local and remote targets).
CREATE TABLE wsv.narrow (id integer PRIMARY KEY, n numeric(10,2));
CREATE TABLE wsv.narrow_remote (LIKE wsv.narrow INCLUDING ALL);
SELECT dbsync.create_sync('sv_narrow', 'master', 'wsv.src', 'master', 'wsv.narrow',
  mapping => '{"id": "id", "n": "n"}') > 0 AS created;
SELECT status, inserted, errors FROM dbsync.run('sv_narrow');
SELECT regexp_split_to_table(error, '(: |; )(?=\{)') AS reported
  FROM (SELECT error FROM dbsync.job_list WHERE sync = 'sv_narrow' ORDER BY id DESC LIMIT 1) j;
SELECT id, n FROM wsv.narrow ORDER BY id;
SELECT dbsync.create_sync('sv_narrow_remote', 'master', 'wsv.src', 'sv_loop', 'wsv.narrow_remote',
  mapping => '{"id": "id", "n": "n"}') > 0 AS created;
SELECT status, inserted, errors FROM dbsync.run('sv_narrow_remote');
SELECT id, n FROM wsv.narrow_remote ORDER BY id;
-- Special values as keys: in the server's key order (keyset pages of 2 bound by their text),
-- shown by diff, synced to a remote table and back unchanged.
CREATE TABLE wsv.events (ts timestamptz PRIMARY KEY, d date UNIQUE, n numeric);
CREATE TABLE wsv.events_remote (LIKE wsv.events INCLUDING ALL);
INSERT INTO wsv.events VALUES ('infinity', 'infinity', 'NaN'), ('-infinity', '-infinity', 1),
  ('0044-03-15 10:00:00+00 BC', '0044-03-15 BC', 'Infinity'),
  ('2026-01-01 00:00:00+00', '2026-01-01', '-Infinity'),
  ('12345-01-01 00:00:00+00', '12345-01-01', 0);
SELECT dbsync.create_sync('sv_events', 'master', 'wsv.events', 'sv_loop', 'wsv.events_remote',
  mapping => '{"ts": "ts", "d": "d", "n": "n"}', direction => 'two_way',
  batch_size => 2) > 0 AS created;
SELECT key, action FROM dbsync.diff('sv_events');
SELECT status, inserted, errors, error FROM dbsync.run('sv_events');
UPDATE wsv.events SET n = n;
UPDATE wsv.events_remote SET n = 'NaN' WHERE d = '0044-03-15 BC';
DELETE FROM wsv.events_remote WHERE ts = '-infinity';
SELECT key, action FROM dbsync.diff('sv_events');
SELECT status, updated, deleted, source_updated, source_deleted, unchanged, error
  FROM dbsync.run('sv_events');
SELECT ts, d, n FROM wsv.events ORDER BY ts;
SELECT count(*) AS differing FROM wsv.events e FULL JOIN wsv.events_remote r USING (ts)
 WHERE (e.d, e.n::text) IS DISTINCT FROM (r.d, r.n::text);
-- Timestamps rounded to the target's precision as PostgreSQL rounds them (half away from zero
-- on its own count, which starts in 2000: a tie in 1990 rounds down), so a second run finds the
-- stored values equal; char(n) into text arrives without its padding, as the cast gives it.
CREATE TABLE wsv.fine (id integer PRIMARY KEY, ts timestamptz, c char(6));
CREATE TABLE wsv.coarse (id integer PRIMARY KEY, ts timestamptz(3), c text);
CREATE TABLE wsv.coarse_remote (LIKE wsv.coarse INCLUDING ALL);
INSERT INTO wsv.fine VALUES (1, '1990-06-01 12:00:00.0005+00', 'ab'),
                            (2, '2010-06-01 12:00:00.0005+00', ' a b'),
                            (3, '1960-06-01 12:00:00.0015+00', 'abcdef'),
                            (4, '0044-03-15 10:00:00.0005+00 BC', '');
SELECT dbsync.create_sync('sv_fine', 'master', 'wsv.fine', 'master', 'wsv.coarse',
  mapping => '{"id": "id", "ts": "ts", "c": "c"}') > 0 AS created;
SELECT dbsync.create_sync('sv_fine_remote', 'master', 'wsv.fine', 'sv_loop', 'wsv.coarse_remote',
  mapping => '{"id": "id", "ts": "ts", "c": "c"}') > 0 AS created;
SELECT status, inserted FROM dbsync.run('sv_fine');
SELECT status, inserted FROM dbsync.run('sv_fine_remote');
SELECT c.id, c.ts, c.ts = f.ts::timestamptz(3) AS as_cast, '"' || c.c || '"' AS c,
       c.c = f.c::text AS c_as_cast
  FROM wsv.coarse c JOIN wsv.fine f USING (id) ORDER BY id;
SELECT count(*) AS differing FROM wsv.coarse c FULL JOIN wsv.coarse_remote r USING (id)
 WHERE (c.ts, c.c) IS DISTINCT FROM (r.ts, r.c);
UPDATE wsv.fine SET id = id;
UPDATE wsv.coarse SET id = id;
UPDATE wsv.coarse_remote SET id = id;
SELECT status, updated, unchanged FROM dbsync.run('sv_fine');
SELECT status, updated, unchanged FROM dbsync.run('sv_fine_remote');
SELECT count(*) AS pending FROM dbsync.diff('sv_fine');
-- Values reach the target as the source holds them: json text is neither reordered nor
-- reformatted, jsonb numbers keep their scale; both are compared in canonical form (1.0 = 1,
-- key order and spaces do not count), so a second run has nothing to do.
CREATE TABLE wsv.docs (id integer PRIMARY KEY, j json, jb jsonb);
CREATE TABLE wsv.docs_remote (LIKE wsv.docs INCLUDING ALL);
CREATE TABLE wsv.docs_back (LIKE wsv.docs INCLUDING ALL);
INSERT INTO wsv.docs VALUES
  (1, '{"b": 1,  "a": [1.0, 2.50],  "b": 2}', '{"x": 1.0, "y": [2.50, -0.0, 1e2, 10]}'),
  (2, '  [ "text" ,  {"z":null} ]  ', '{"bb": "b", "a": {"d": 1, "c": 0.10}}'),
  (3, '1.0', '1.0'),
  (4, '{"k":[1,2]}', '{"k": [1, 2]}');
SELECT dbsync.create_sync('sv_docs', 'master', 'wsv.docs', 'sv_loop', 'wsv.docs_remote',
  mapping => '{"id": "id", "j": "j", "jb": "jb"}', batch_size => 2) > 0 AS created;
SELECT dbsync.create_sync('sv_docs_back', 'sv_loop', 'wsv.docs_remote', 'master', 'wsv.docs_back',
  mapping => '{"id": "id", "j": "j", "jb": "jb"}', direction => 'two_way') > 0 AS created;
SELECT status, inserted FROM dbsync.run('sv_docs');
SELECT status, inserted FROM dbsync.run('sv_docs_back');
SELECT id, r.j AS remote_j, r.jb AS remote_jb,
       r.j::text = d.j::text AND b.j::text = d.j::text AS j_as_held,
       r.jb::text = d.jb::text AND b.jb::text = d.jb::text AS jb_as_held
  FROM wsv.docs d JOIN wsv.docs_remote r USING (id) JOIN wsv.docs_back b USING (id) ORDER BY id;
UPDATE wsv.docs SET id = id;
UPDATE wsv.docs_remote SET id = id;
UPDATE wsv.docs_back SET id = id;
SELECT status, updated, unchanged FROM dbsync.run('sv_docs');
SELECT status, updated, source_updated, unchanged FROM dbsync.run('sv_docs_back');
-- The same document written differently on the target is no change; another value is, and it
-- flows back into the (remote) source as written.
UPDATE wsv.docs_back SET j = '{"a":[1,2.5],"b":2}', jb = '{"y": [2.5, 0, 100, 10], "x": 1}'
 WHERE id = 1;
UPDATE wsv.docs_back SET j = '[ "text" , {"z": 1.50} ]' WHERE id = 2;
SELECT status, updated, source_updated, unchanged FROM dbsync.run('sv_docs_back');
SELECT id, j FROM wsv.docs_remote WHERE id = 2;
SELECT count(dbsync.drop_sync(s)) AS dropped
  FROM unnest(array['sv_out', 'sv_back', 'sv_narrow', 'sv_narrow_remote', 'sv_events', 'sv_fine',
                    'sv_fine_remote', 'sv_docs', 'sv_docs_back']) s;
SELECT dbsync.drop_datasource('sv_loop');
SET client_min_messages = warning;
DROP SCHEMA wsv CASCADE;
RESET client_min_messages;
