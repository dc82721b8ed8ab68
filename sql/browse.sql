-- Browsing datasources: tables (keyset by schema and name), columns with the primary key, rows
-- in keyset pages by the primary key; the master (local, as the caller) and a remote server
-- (this one over TCP); hostile identifiers, bad arguments, privileges.
\set SHOW_CONTEXT never
DO $$
BEGIN
  EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', pg_catalog.repeat('0123456789abcdef', 4),
                            pg_catalog.current_setting('data_directory') || '/dbsync_regress_browse.key');
END
$$;
SET dbsync.secret_key_file = 'dbsync_regress_browse.key';

CREATE SCHEMA br;
CREATE TABLE br.items (id integer PRIMARY KEY, title text NOT NULL DEFAULT 'untitled',
                       price numeric(10,2));
INSERT INTO br.items SELECT i, 'item ' || i, i * 1.25 FROM generate_series(1, 5) i;
ANALYZE br.items;
CREATE TABLE br.pairs (a text, b integer, note text, PRIMARY KEY (b, a));
INSERT INTO br.pairs VALUES ('x', 1, 'x1'), ('y', 1, 'y1'), ('a', 2, 'a2'), ('b', 2, 'b2');
CREATE TABLE br.loose (id integer, title text);
CREATE VIEW br.cheap AS SELECT * FROM br.items WHERE price < 3;
CREATE TABLE br."x""; DROP TABLE t; --" (id integer PRIMARY KEY, "we""ird; --" text);
INSERT INTO br."x""; DROP TABLE t; --" VALUES (7, 'seven'), (8, 'eight');

SELECT dbsync.add_datasource('br_master', 'local') > 0 AS added;
SELECT dbsync.add_datasource('br_far', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s password=s3cret',
                current_setting('port'), current_database(), current_user)) > 0 AS added;
SELECT dbsync.add_datasource('br_down', 'postgres',
         'host=127.0.0.1 port=1 dbname=x user=u password=s3cret', '{"connect_timeout": 2}') > 0 AS added;
SELECT dbsync.add_datasource('br_maria', 'mysql', 'mysql://u:pw@127.0.0.1:1/db') > 0 AS added;

-- 1. Tables: schema br first (after ('br', '')), then paged by two.
SELECT * FROM dbsync.tables('br_master', 'br', '', 100) WHERE schema = 'br';
SELECT schema, name FROM dbsync.tables('br_master', 'br', '', 2);
SELECT schema, name FROM dbsync.tables('br_master', 'br', 'items', 2);
-- The catalog's own schema is not listed.
SELECT count(*) AS catalog_listed FROM dbsync.tables('br_master', 'dbsync', '', 1000) WHERE schema = 'dbsync';

-- 2. Columns: types, nullability, the primary key's order, defaults.
SELECT * FROM dbsync.columns('br_master', 'br.items');
SELECT name, key_position FROM dbsync.columns('br_master', 'br.pairs');
SELECT name, type, key_position FROM dbsync.columns('br_master', 'br."x""; DROP TABLE t; --"');
-- The caller's search_path resolves an unqualified name.
SET search_path = br, public;
SELECT name FROM dbsync.columns('br_master', 'items');
RESET search_path;

-- 3. Rows: pages of two by the primary key; after = the last row of the previous page.
SELECT * FROM dbsync.rows('br_master', 'br.items', NULL, 2);
SELECT * FROM dbsync.rows('br_master', 'br.items', '{"id": 2, "title": "ignored"}', 2);
SELECT * FROM dbsync.rows('br_master', 'br.items', '{"id": 4}', 2);
SELECT * FROM dbsync.rows('br_master', 'br.items', '{"id": 5}', 2);
-- A composite key (b, a): pages cross the first key column.
SELECT * FROM dbsync.rows('br_master', 'br.pairs', NULL, 3);
SELECT * FROM dbsync.rows('br_master', 'br.pairs', '{"b": 2, "a": "a"}', 3);
-- Hostile names are data, never SQL.
SELECT * FROM dbsync.rows('br_master', 'br."x""; DROP TABLE t; --"', '{"id": 7}');
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items', '{"id": "1; DROP TABLE br.items"}')$q$);
SELECT count(*) AS items_still_there FROM br.items;

-- 4. Errors.
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.loose')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.cheap')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.pairs', '{"b": 1}')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items', '[1]')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items', NULL, 0)$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items', NULL, 1001)$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.nope')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items; DROP TABLE br.items')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('nope', 'br.items')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows(NULL, 'br.items')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.columns('br_master', NULL)$q$);
SELECT regress.try($q$SELECT * FROM dbsync.tables('br_master', 'br', NULL)$q$);
SELECT regress.try($q$SELECT * FROM dbsync.tables('br_maria')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.tables('br_down')$q$) ~ '^08001: datasource "br_down" cannot be reached' AS down;

-- 5. The same through a remote connection (this server over TCP).
SELECT * FROM dbsync.tables('br_far', 'br', '', 100) WHERE schema = 'br';
SELECT name, type, nullable, key_position FROM dbsync.columns('br_far', 'br.pairs');
SELECT * FROM dbsync.rows('br_far', 'br.pairs', '{"b": 1, "a": "x"}', 2);
SELECT * FROM dbsync.rows('br_far', 'br."x""; DROP TABLE t; --"');
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_far', 'br.loose')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_far', 'br.nope')$q$);

-- 6. Privileges: only dbsync_admin may browse; a member reads what it may read.
CREATE ROLE br_nobody;
CREATE ROLE br_admin IN ROLE dbsync_admin;
GRANT USAGE ON SCHEMA br TO br_admin;
GRANT SELECT ON br.items TO br_admin;
SET ROLE br_nobody;
SELECT regress.try($q$SELECT * FROM dbsync.tables('br_master')$q$);
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.items')$q$);
SET ROLE br_admin;
SELECT schema, name FROM dbsync.tables('br_master', 'br', '', 100) WHERE schema = 'br';
SELECT * FROM dbsync.rows('br_master', 'br.items', '{"id": 3}');
SELECT regress.try($q$SELECT * FROM dbsync.rows('br_master', 'br.pairs')$q$);
RESET ROLE;

-- Clean up (later files see no trace).
SELECT dbsync.drop_datasource(n) FROM unnest(ARRAY['br_master', 'br_far', 'br_down', 'br_maria']) n;
DROP SCHEMA br CASCADE;
DROP ROLE br_nobody;
DROP ROLE br_admin;
