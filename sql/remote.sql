-- Remote PostgreSQL ends inside the extension: a datasource that points back at this server over
-- TCP (libpq, non-blocking, waiting on the latch), tables in a schema of their own. Syncs with a
-- remote end are validated in full when saved; preview, map_row and diff read remote tables.
\set SHOW_CONTEXT never
DO $$
BEGIN
  EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', pg_catalog.repeat('0123456789abcdef', 4),
                            pg_catalog.current_setting('data_directory') || '/dbsync_regress_remote.key');
END
$$;
SET dbsync.secret_key_file = 'dbsync_regress_remote.key';

CREATE SCHEMA rm_far;
CREATE TABLE rm_far.items (id integer PRIMARY KEY, title text NOT NULL, price numeric(10,2),
                           active boolean NOT NULL DEFAULT true);
INSERT INTO rm_far.items VALUES (1, 'Apple', 1.50, true), (2, 'Banana', 0.25, true),
                                (3, 'Cherry', 3.00, false), (4, 'Date', 2.10, true);
CREATE TABLE rm_far.loose (id integer, title text);
CREATE TABLE rm_far."x""; DROP TABLE t; --" (id integer PRIMARY KEY, "we""ird; --" text);
INSERT INTO rm_far."x""; DROP TABLE t; --" VALUES (7, 'seven');
CREATE SCHEMA rm_local;
CREATE TABLE rm_local.items (id integer PRIMARY KEY, title text, price numeric(10,2));
INSERT INTO rm_local.items VALUES (1, 'Apple', 1.50), (2, 'Banana', 0.30), (5, 'Elderberry', 4.00);
CREATE TABLE rm_local.copy (id integer PRIMARY KEY, title text, price numeric(10,2));

SELECT dbsync.add_datasource('rm_master', 'local') > 0 AS added;
SELECT dbsync.add_datasource('rm_far', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s password=s3cret',
                current_setting('port'), current_database(), current_user)) > 0 AS added;
SELECT dbsync.add_datasource('rm_down', 'postgres',
         'host=127.0.0.1 port=1 dbname=x user=u password=s3cret', '{"connect_timeout": 2}') > 0 AS added;

-- 1. local -> remote: the remote table is described (its canonical name is stored), the mapping
-- compiled against its columns, its key checked for uniqueness; created_by records the caller.
SELECT dbsync.create_sync('rm_push', 'rm_master', 'rm_local.items', 'rm_far', 'rm_far.items',
  '{"id": "id", "title": "title", "price": "price"}') > 0 AS created;
SELECT source_table, target_table, target_key,
       created_by = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS created_by_me
  FROM dbsync.syncs WHERE name = 'rm_push';
SELECT dbsync.map_row('rm_push', '{"id": 9, "title": "Fig", "price": "1.5"}');
SELECT * FROM dbsync.diff('rm_push');

-- 2. remote -> local with a filter evaluated by the remote server.
SELECT dbsync.create_sync('rm_pull', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy',
  '{"id": "id", "title": "{{ m.title | upper }}", "price": "price"}', filter => 'active') > 0 AS created;
SELECT * FROM dbsync.preview('rm_pull');
SELECT * FROM dbsync.preview('rm_pull', 2);
SELECT * FROM dbsync.diff('rm_pull');
SELECT * FROM dbsync.diff('rm_pull', 1);

-- 3. Hostile identifiers on the remote side: quoted, never spliced.
SELECT dbsync.create_sync('rm_hostile', 'rm_far', 'rm_far."x""; DROP TABLE t; --"', 'rm_master',
  'rm_local.copy', '{"id": "id", "title": "{{ m[''we\"ird; --''] | upper }}"}') > 0 AS created;
SELECT source_table FROM dbsync.syncs WHERE name = 'rm_hostile';
SELECT * FROM dbsync.preview('rm_hostile');
SELECT count(*) AS far_items FROM rm_far.items;

-- 4. Validation errors: clear SQLSTATEs, naming the datasource; nothing is written.
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'rm_master', 'rm_local.items', 'rm_far', 'rm_far.nope')$$) AS unknown_table;
SELECT regress.try($$SELECT dbsync.create_sync('e2', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id", "title": "@nope"}')$$) AS unknown_column;
SELECT regress.try($$SELECT dbsync.create_sync('e3', 'rm_master', 'rm_local.items', 'rm_far', 'rm_far.loose', '{"id": "id", "title": "title"}', key => '{id}')$$) AS non_unique_key;
SELECT regress.try($$SELECT dbsync.create_sync('e4', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id"}', filter => 'no_such_column > 1')$$) AS filter_unknown_column;
SELECT regress.try($$SELECT dbsync.create_sync('e5', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id"}', filter => 'true; DROP TABLE rm_far.items')$$) AS filter_two_statements;
SELECT regress.try($$SELECT dbsync.create_sync('e6', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id"}', filter => 'title')$$) AS filter_not_boolean;
SELECT regress.try($$SELECT dbsync.create_sync('e7', 'rm_far', 'rm_far.items"', 'rm_master', 'rm_local.copy', '{"id": "id"}')$$) AS bad_table_name;
SELECT regress.try($$SELECT dbsync.create_sync('e8', 'rm_master', 'rm_local.items', 'rm_down', 'public.items')$$) AS server_down;
SELECT regress.try($$SELECT dbsync.alter_sync('rm_push', target_table => 'rm_far.nope')$$) AS alter_unknown_table;
SELECT name, target_table FROM dbsync.syncs WHERE name LIKE 'rm\_%' OR name LIKE 'e_' ORDER BY name;
SELECT count(*) AS far_items FROM rm_far.items;

-- 5. An interrupt while libpq waits: the remote scan sleeps, statement_timeout cancels the
-- preview at once (the wait is on the latch, not a blocking read).
SELECT dbsync.create_sync('rm_slow', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy',
  '{"id": "id"}', filter => '(SELECT true FROM pg_sleep(60))') > 0 AS created;
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '500ms';
SELECT * FROM dbsync.preview('rm_slow');
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS cancelled_promptly;
-- The remote server still runs the abandoned scan: end it (it would hold its locks for a minute).
SELECT count(pg_terminate_backend(pid)) >= 0 AS ended FROM pg_stat_activity
 WHERE application_name = 'dbsync' AND pid <> pg_backend_pid();

-- 6. A role that is not a superuser: its remote connections must use a password (this server
-- trusts local TCP connections, so they are refused), at save time and when reading.
CREATE ROLE rm_admin IN ROLE dbsync_admin;
SET ROLE rm_admin;
SELECT regress.try($$SELECT dbsync.create_sync('e9', 'rm_far', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id"}')$$) AS needs_password;
SELECT regress.try($$SELECT count(*) FROM dbsync.preview('rm_pull')$$) AS preview_needs_password;
-- A conninfo without a password is refused before connecting (the server's own .pgpass or
-- PGPASSWORD must not serve other roles).
RESET ROLE;
SELECT dbsync.add_datasource('rm_nopw', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s',
                current_setting('port'), current_database(), current_user)) > 0 AS added;
SET ROLE rm_admin;
SELECT regress.try($$SELECT dbsync.create_sync('e10', 'rm_nopw', 'rm_far.items', 'rm_master', 'rm_local.copy', '{"id": "id"}')$$) AS conninfo_needs_password;
RESET ROLE;
DROP ROLE rm_admin;

SELECT dbsync.drop_sync(name) FROM dbsync.syncs WHERE name LIKE 'rm\_%' ORDER BY name;
SELECT dbsync.drop_datasource(name) FROM unnest(ARRAY['rm_master', 'rm_far', 'rm_down', 'rm_nopw']) name;
DROP SCHEMA rm_far CASCADE;
DROP SCHEMA rm_local CASCADE;
