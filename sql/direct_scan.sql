-- Local tables' keyset pages read straight from a btree index (pg::index_scan) or through SPI
-- page queries: the same rows in the same order. dbsync.direct_scan = off forces SPI; = require
-- fails a scan that the index cannot serve, so each case below shows which path it takes.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('ds_master', 'local');
CREATE SCHEMA ds;
-- dbsync.diff and dbsync.preview of a sync under SPI pages and under `mode`: row counts, and
-- whether both gave the same rows in the same order (WITH ORDINALITY).
CREATE FUNCTION ds.compare(sync text, mode text DEFAULT 'require')
  RETURNS TABLE (diff_rows bigint, diff_same boolean, preview_rows bigint, preview_same boolean)
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('dbsync.direct_scan', 'off', true);
  CREATE TEMP TABLE spi_diff AS SELECT * FROM dbsync.diff(sync) WITH ORDINALITY;
  CREATE TEMP TABLE spi_preview AS SELECT * FROM dbsync.preview(sync, 1000) WITH ORDINALITY;
  PERFORM set_config('dbsync.direct_scan', mode, true);
  CREATE TEMP TABLE direct_diff AS SELECT * FROM dbsync.diff(sync) WITH ORDINALITY;
  CREATE TEMP TABLE direct_preview AS SELECT * FROM dbsync.preview(sync, 1000) WITH ORDINALITY;
  PERFORM set_config('dbsync.direct_scan', 'on', true);
  RETURN QUERY SELECT
    (SELECT count(*) FROM spi_diff),
    NOT EXISTS (SELECT * FROM spi_diff EXCEPT ALL SELECT * FROM direct_diff)
      AND NOT EXISTS (SELECT * FROM direct_diff EXCEPT ALL SELECT * FROM spi_diff),
    (SELECT count(*) FROM spi_preview),
    NOT EXISTS (SELECT * FROM spi_preview EXCEPT ALL SELECT * FROM direct_preview)
      AND NOT EXISTS (SELECT * FROM direct_preview EXCEPT ALL SELECT * FROM spi_preview);
  DROP TABLE spi_diff, spi_preview, direct_diff, direct_preview;
END
$$;
SHOW dbsync.direct_scan;

-- 1. An integer key, NULLs in other columns, pages of 3: the target a copy with a few changes.
CREATE TABLE ds.i (id integer PRIMARY KEY, name text, price numeric(10,2), note varchar(20));
CREATE TABLE ds.i_copy (LIKE ds.i INCLUDING ALL);
INSERT INTO ds.i SELECT g, 'n' || g, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'x' || g END
  FROM generate_series(1, 20) g;
INSERT INTO ds.i_copy SELECT * FROM ds.i;
UPDATE ds.i_copy SET note = NULL WHERE id = 4;
UPDATE ds.i_copy SET name = 'changed' WHERE id = 10;
DELETE FROM ds.i_copy WHERE id = 20;
INSERT INTO ds.i_copy VALUES (21, 'target only', 1, NULL);
SELECT dbsync.create_sync('i', 'ds_master', 'ds.i', 'ds_master', 'ds.i_copy',
  batch_size => 3) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT key, action, fields FROM dbsync.diff('i');
SELECT * FROM dbsync.preview('i', 7);
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('i');
-- Rows changed, deleted and added, then the same again.
UPDATE ds.i SET note = 'new' WHERE id = 3;
DELETE FROM ds.i WHERE id IN (1, 7, 8);
INSERT INTO ds.i VALUES (0, 'zero', 0, NULL), (100, 'hundred', NULL, 'h');
SET dbsync.direct_scan = require;
SELECT key, action, fields FROM dbsync.diff('i');
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('i');

-- 2. A bigint key (negative and large values).
CREATE TABLE ds.b (id bigint PRIMARY KEY, v double precision, flag boolean);
CREATE TABLE ds.b_copy (LIKE ds.b INCLUDING ALL);
INSERT INTO ds.b VALUES (-9223372036854775808, -1.5, true), (-1, NULL, NULL), (0, 0, false),
  (1, 1.25e-5, true), (4294967296, 2.5, NULL), (9223372036854775807, 'Infinity', false);
INSERT INTO ds.b_copy SELECT * FROM ds.b WHERE id <> 0;
UPDATE ds.b_copy SET v = 3 WHERE id = 4294967296;
SELECT dbsync.create_sync('b', 'ds_master', 'ds.b', 'ds_master', 'ds.b_copy',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT key, action, fields FROM dbsync.diff('b');
SELECT * FROM dbsync.preview('b', 10);
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('b');

-- 3. Text keys: an index in the "C" collation reads directly, in byte order; an index in the
-- database's default collation (not "C" here) falls back to SPI, with the same answer.
CREATE TABLE ds.t (code text COLLATE "C" PRIMARY KEY, label text);
CREATE TABLE ds.t_copy (LIKE ds.t INCLUDING ALL);
INSERT INTO ds.t VALUES ('b', 'lower b'), ('B', 'upper B'), ('a', 'lower a'), ('Z', 'upper Z'),
  ('é', 'e acute'), ('ä', 'a umlaut'), ('a b', 'space'), ('_x', 'underscore'), ('Ä', 'A umlaut'),
  ('10', 'ten'), ('9', 'nine'), ('', 'empty');
INSERT INTO ds.t_copy VALUES ('a', 'lower a'), ('é', 'changed'), ('zz', 'target only');
SELECT dbsync.create_sync('t', 'ds_master', 'ds.t', 'ds_master', 'ds.t_copy',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT key->>'code' AS code, action, fields FROM dbsync.diff('t');
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('t');
SELECT datcollate <> 'C' AND datcollate <> 'POSIX' AS default_collation_not_c
  FROM pg_database WHERE datname = current_database();
CREATE TABLE ds.td (code text PRIMARY KEY, label text);
CREATE TABLE ds.td_copy (code text COLLATE "C" PRIMARY KEY, label text);
INSERT INTO ds.td SELECT * FROM ds.t;
INSERT INTO ds.td_copy SELECT * FROM ds.t_copy;
SELECT dbsync.create_sync('td', 'ds_master', 'ds.td', 'ds_master', 'ds.td_copy',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT regress.try($$SELECT * FROM dbsync.diff('td')$$) AS require_default_collation;
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('td', 'on');
SELECT key->>'code' AS code, action FROM dbsync.diff('td');

-- 4. A composite key: the lower bound of a page is a row comparison, (a, b) > (x, y).
CREATE TABLE ds.l (order_id integer, line integer, qty integer, PRIMARY KEY (order_id, line));
CREATE TABLE ds.l_copy (LIKE ds.l INCLUDING ALL);
INSERT INTO ds.l SELECT o, l, o * 10 + l FROM generate_series(1, 4) o, generate_series(1, 4) l;
INSERT INTO ds.l_copy SELECT * FROM ds.l WHERE line <> 2;
UPDATE ds.l_copy SET qty = 0 WHERE order_id = 2 AND line = 3;
SELECT dbsync.create_sync('l', 'ds_master', 'ds.l', 'ds_master', 'ds.l_copy',
  batch_size => 3) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT key, action, fields FROM dbsync.diff('l');
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('l');
-- The key in another order than the index's columns: no index serves it (SPI).
CREATE TABLE ds.r (a integer, b integer, v text, UNIQUE (a, b));
CREATE TABLE ds.r_copy (a integer, b integer, v text, UNIQUE (b, a));
INSERT INTO ds.r SELECT a, b, a || '/' || b FROM generate_series(1, 3) a, generate_series(1, 3) b;
INSERT INTO ds.r_copy SELECT * FROM ds.r WHERE a <> 2;
SELECT dbsync.create_sync('r', 'ds_master', 'ds.r', 'ds_master', 'ds.r_copy', key => '{b,a}',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT regress.try($$SELECT * FROM dbsync.diff('r')$$) AS require_other_order;
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('r', 'on');
SELECT key, action FROM dbsync.diff('r');
-- A descending index only: SPI.
CREATE TABLE ds.d (id integer NOT NULL, v text);
CREATE UNIQUE INDEX ON ds.d (id DESC);
CREATE TABLE ds.d_copy (id integer PRIMARY KEY, v text);
INSERT INTO ds.d SELECT g, 'v' || g FROM generate_series(1, 5) g;
SELECT dbsync.create_sync('d', 'ds_master', 'ds.d', 'ds_master', 'ds.d_copy', key => '{id}',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT regress.try($$SELECT * FROM dbsync.diff('d')$$) AS require_descending;
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('d', 'on');

-- 5. A filter is SQL: SPI pages.
SELECT dbsync.create_sync('f', 'ds_master', 'ds.i', 'ds_master', 'ds.i_copy',
  filter => 'note IS NOT NULL', batch_size => 3) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT regress.try($$SELECT * FROM dbsync.diff('f')$$) AS require_filter;
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('f', 'on');

-- 6. Hostile names, quoted everywhere; the index found by attribute number.
CREATE TABLE ds."x""; DROP TABLE ds.i; --" ("id"" col" integer PRIMARY KEY, "v; --" text);
CREATE TABLE ds.h_copy ("id"" col" integer PRIMARY KEY, "v; --" text);
INSERT INTO ds."x""; DROP TABLE ds.i; --" SELECT g, 'v' || g FROM generate_series(1, 7) g;
SELECT dbsync.create_sync('h', 'ds_master', 'ds."x""; DROP TABLE ds.i; --"', 'ds_master',
  'ds.h_copy', mapping => '{"id\" col": {"source": "id\" col"}, "v; --": {"source": "v; --"}}',
  batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT key, action FROM dbsync.diff('h');
SELECT * FROM dbsync.preview('h', 2);
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('h');
SELECT count(*) AS i_still_there FROM ds.i;
-- A dropped column before the key: attribute numbers are not positions.
CREATE TABLE ds.dc (gone integer, id integer PRIMARY KEY, v text);
ALTER TABLE ds.dc DROP COLUMN gone;
INSERT INTO ds.dc SELECT g, 'v' || g FROM generate_series(1, 7) g;
SELECT dbsync.create_sync('dc', 'ds_master', 'ds.dc', 'ds_master', 'ds.h_copy',
  mapping => '{"id\" col": "id", "v; --": "v"}', batch_size => 2) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT * FROM dbsync.preview('dc', 3);
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('dc');

-- 7. numeric read from its Datum: the same digits and display scale as numeric's text (what
-- preview shows is the value's text, as jsonb keeps it), under SPI pages and the index scan.
CREATE TABLE ds.num (id integer PRIMARY KEY, n numeric, p numeric(10,2));
CREATE TABLE ds.num_copy (LIKE ds.num INCLUDING ALL);
INSERT INTO ds.num VALUES (1, 0, 1.5), (2, -0.5, 100), (3, 0.05, -0.05),
  (4, 123456789012345678901234567890.123456789, 99999999.99), (5, 1e-100, 0), (6, 1e100, NULL),
  (7, NULL, -1.1), (8, 1.50, 0.01), (9, -12345.678900, 10000), (10, 10000, -0.001),
  (11, 0.000100, 12.345), (12, -1e-100, 0.005), (13, 9999.9999, 1), (14, -0.00, -99999999.99),
  (15, ('-1.' || repeat('0', 80) || '1')::numeric, 3.14159);
SELECT dbsync.create_sync('num', 'ds_master', 'ds.num', 'ds_master', 'ds.num_copy',
  batch_size => 4) > 0 AS created;
SET dbsync.direct_scan = require;
SELECT r->'id' AS id, r->'n' AS n, r->'p' AS p FROM dbsync.preview('num', 20) r
 WHERE (r->>'id')::int IN (2, 4, 8, 9, 10, 13, 14);
SELECT count(*) AS rows, count(*) FILTER (WHERE (r->>'n', r->>'p') IS DISTINCT FROM
         (s.n::text, s.p::text)) AS differing
  FROM dbsync.preview('num', 20) r JOIN ds.num s ON s.id = (r->>'id')::int;
RESET dbsync.direct_scan;
SELECT * FROM ds.compare('num');

-- 8. Row-level security and privileges are the SPI query's business: under them, SPI pages.
CREATE ROLE ds_reader;
GRANT dbsync_admin TO ds_reader;
GRANT USAGE ON SCHEMA ds TO ds_reader;
GRANT SELECT ON ds.b, ds.b_copy TO ds_reader;
ALTER TABLE ds.b ENABLE ROW LEVEL SECURITY;
CREATE POLICY positive ON ds.b TO ds_reader USING (id > 0);
SET dbsync.direct_scan = require;
SET ROLE ds_reader;
SELECT regress.try($$SELECT * FROM dbsync.diff('b')$$) AS require_rls;
RESET ROLE;
SET dbsync.direct_scan = on;
SET ROLE ds_reader;
-- Only the rows the policy shows (the target-only ones, never synced, are left alone).
SELECT key, action FROM dbsync.diff('b');
RESET ROLE;
REVOKE SELECT ON ds.b FROM ds_reader;
SET ROLE ds_reader;
SELECT regress.try($$SELECT * FROM dbsync.diff('b')$$) AS no_privilege;
RESET ROLE;
DROP POLICY positive ON ds.b;
ALTER TABLE ds.b DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON ds.b_copy FROM ds_reader;
REVOKE ALL ON SCHEMA ds FROM ds_reader;
DROP ROLE ds_reader;

-- 9. Only a superuser sets the switch.
CREATE ROLE ds_plain;
SET ROLE ds_plain;
SELECT regress.try($$SET dbsync.direct_scan = off$$) AS plain_user_sets;
SHOW dbsync.direct_scan;
RESET ROLE;
DROP ROLE ds_plain;

SELECT dbsync.drop_sync(name)
  FROM unnest(ARRAY['i', 'b', 't', 'td', 'l', 'r', 'd', 'f', 'h', 'dc', 'num']) name;
DROP SCHEMA ds CASCADE;
DELETE FROM dbsync.datasources WHERE name = 'ds_master';
