-- The datasources API: add/alter/drop/list/test, secrets sealed and never shown, clear errors.
-- Keys for the test: server-side COPY (as the server's OS user) writes them into the data
-- directory; a relative dbsync.secret_key_file is relative to it. The GUC is PGC_SUSET, so the
-- superuser running pg_regress sets it for this session only.
DO $$
BEGIN
  EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', pg_catalog.repeat('0123456789abcdef', 4),
                            pg_catalog.current_setting('data_directory') || '/dbsync_regress.key');
  EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', pg_catalog.repeat('fedcba9876543210', 4),
                            pg_catalog.current_setting('data_directory') || '/dbsync_regress_other.key');
  EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', 'not a key',
                            pg_catalog.current_setting('data_directory') || '/dbsync_regress_bad.key');
END
$$;
-- Errors show their SQLSTATE and message (regress.try) or message, detail and hint; never the
-- PL/pgSQL context (line numbers).
\set SHOW_CONTEXT never
-- No key configured: a clear error with its SQLSTATE, nothing written.
SET dbsync.secret_key_file = '';
\set VERBOSITY sqlstate
SELECT dbsync.add_datasource('remote', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=u password=s3cret');
\set VERBOSITY default
SELECT dbsync.add_datasource('remote', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=u password=s3cret');
SELECT count(*) FROM dbsync.datasources;
-- A key file that is not a key, one that does not exist.
SET dbsync.secret_key_file = 'dbsync_regress_bad.key';
SELECT dbsync.add_datasource('remote', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=u password=s3cret');
SET dbsync.secret_key_file = 'no_such_dbsync.key';
SELECT dbsync.add_datasource('remote', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=u password=s3cret');
-- A local datasource needs no key.
SELECT dbsync.add_datasource('master', 'local') > 0 AS added;

SET dbsync.secret_key_file = 'dbsync_regress.key';
SELECT dbsync.add_datasource('remote', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=u password=s3cret',
                             '{"connect_timeout": 5}') > 0 AS added;
SELECT dbsync.add_datasource('supa', 'supabase', 'postgresql://sync:pw%40x@db.example.com:6543/postgres?sslmode=require') > 0 AS added;
SELECT dbsync.add_datasource('wp', 'wordpress', 'mysql://wp:wp-s3cret@127.0.0.1:3306/wordpress',
                             '{"table_prefix": "wp_"}') > 0 AS added;
-- The list: what each points at, never a password.
SELECT name, kind, endpoint, options FROM dbsync.datasource_list ORDER BY name;
-- At rest: ciphertext (version byte 1, 12-byte nonce, 16-byte tag), not the plaintext.
SELECT name, get_byte(conninfo, 0) AS version, length(conninfo) > 29 AS sealed,
       position('s3cret'::bytea IN conninfo) = 0 AS no_plaintext
  FROM dbsync.datasources WHERE conninfo IS NOT NULL ORDER BY name;
-- Two seals of one value differ (a fresh nonce each).
SELECT a.sealed <> b.sealed AS fresh_nonce
  FROM dbsync.seal_conninfo('postgres', 'host=h password=p') a,
       dbsync.seal_conninfo('postgres', 'host=h password=p') b;

-- test_datasource: local; a closed port (ok = false, libpq's message, no password); the master
-- itself reached over TCP as a remote server; mysql is tested by dbsyncd.
SELECT ok, server_version = current_setting('server_version') AS version_ok, latency_ms > 0 AS timed, error
  FROM dbsync.test_datasource('master');
SELECT ok, server_version, latency_ms, error, error LIKE '%s3cret%' AS leaks_password
  FROM dbsync.test_datasource('remote');
SELECT dbsync.add_datasource('self', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s password=s3cret',
                current_setting('port'), current_database(), current_user)) > 0 AS added;
SELECT ok, server_version = current_setting('server_version') AS version_ok, latency_ms > 0 AS timed, error
  FROM dbsync.test_datasource('self');
SELECT * FROM dbsync.test_datasource('wp');
-- The wrong key: a clear error, never garbage.
SET dbsync.secret_key_file = 'dbsync_regress_other.key';
SELECT * FROM dbsync.test_datasource('remote');
SET dbsync.secret_key_file = 'dbsync_regress.key';

-- alter: options replace, new conninfo (re-sealed), rename; unknown names.
SELECT dbsync.alter_datasource('remote', options => '{"connect_timeout": 2}');
SELECT dbsync.alter_datasource('remote', conninfo => 'postgres://other:pw2@10.0.0.9:5433/app', new_name => 'remote2');
SELECT name, endpoint, options FROM dbsync.datasource_list WHERE name LIKE 'remote%';
SELECT regress.try($q$SELECT dbsync.alter_datasource('nope', options => '{}')$q$);
SELECT regress.try($q$SELECT dbsync.alter_datasource('remote2', new_name => 'wp')$q$);
SELECT regress.try($q$SELECT dbsync.alter_datasource('master', conninfo => 'host=x')$q$);
SELECT regress.try($q$SELECT dbsync.alter_datasource('remote2', options => '[1]')$q$);
SELECT regress.try($q$SELECT dbsync.alter_datasource('remote2', options => '{"connect_timeout": "soon"}')$q$);
SELECT regress.try($q$SELECT dbsync.alter_datasource('remote2', new_name => 'x"; DROP TABLE t; --')$q$);

-- Bad input: hostile names, unknown kind, nulls, conninfo that does not fit the kind. The
-- messages never repeat a conninfo.
SELECT regress.try($q$SELECT dbsync.add_datasource('x"; DROP TABLE t; --', 'local')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('', 'local')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource(repeat('n', 64), 'local')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('ora', 'oracle', 'host=x')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource(NULL, 'local')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', NULL)$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'postgres')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'local', 'host=x')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('master', 'local')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'postgres', 'password=s3cret dbname=x')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'postgres', 'host=h password s3cret')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'neon', 'host=/var/run/postgresql password=s3cret')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'mysql', 'postgres://u:s3cret@h/db')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'mysql', 'mysql://u:s3cret@h:99999/db')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'mysql', 'mysql://u:s3cret@h:3306')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'postgres', 'host=h', '{"connect_timeout": 0}')$q$);
SELECT regress.try($q$SELECT dbsync.add_datasource('n', 'postgres', 'host=h', '"text"')$q$);
SELECT regress.try($q$SELECT dbsync.test_datasource('nope')$q$);
SELECT regress.try($q$SELECT dbsync.test_datasource(NULL)$q$);
SELECT count(*) FROM dbsync.datasources WHERE name = 'n';
-- The kinds are one table (engine/datasource_kinds.cpp): add_datasource's check and hint and the
-- catalog's CHECK read it.
SELECT * FROM dbsync.datasource_kinds();
SELECT dbsync.add_datasource('ora', 'oracle', 'host=x');
SELECT regress.try($q$INSERT INTO dbsync.datasources (name, kind, conninfo) VALUES ('ora', 'oracle', '\x00')$q$);
SELECT dbsync.is_datasource_kind('neon') AS neon, dbsync.is_datasource_kind('Neon') AS "Neon";

-- A non-admin is denied everything; dbsync_admin may use the API and the list, but not the
-- conninfo column.
CREATE ROLE dbsync_regress_user;
CREATE ROLE dbsync_regress_admin IN ROLE dbsync_admin;
SET ROLE dbsync_regress_user;
SELECT dbsync.add_datasource('n', 'local');
SELECT * FROM dbsync.test_datasource('master');
SELECT * FROM dbsync.datasource_list;
RESET ROLE;
-- Even with the schema usable, the functions and the view are not PUBLIC's.
GRANT USAGE ON SCHEMA dbsync TO dbsync_regress_user;
SET ROLE dbsync_regress_user;
SELECT dbsync.add_datasource('n', 'local');
SELECT dbsync.seal_conninfo('postgres', 'host=h');
SELECT * FROM dbsync.test_datasource('master');
SELECT dbsync.drop_datasource('master');
SELECT * FROM dbsync.datasource_list;
RESET ROLE;
REVOKE USAGE ON SCHEMA dbsync FROM dbsync_regress_user;
SET ROLE dbsync_regress_admin;
SHOW dbsync.secret_key_file;
SELECT count(*) FROM dbsync.datasource_list;
SELECT name, kind FROM dbsync.datasources ORDER BY name;
SELECT conninfo FROM dbsync.datasources;
INSERT INTO dbsync.datasources (name, kind) VALUES ('n', 'local');
SELECT dbsync.add_datasource('by_admin', 'local') > 0 AS added;
SELECT ok FROM dbsync.test_datasource('by_admin');
-- Not a superuser: a connection the server lets in without a password is refused (dblink's rule).
SELECT ok, error FROM dbsync.test_datasource('self');
SELECT dbsync.drop_datasource('by_admin');
SET dbsync.secret_key_file = 'dbsync_regress_other.key';
RESET ROLE;
DROP ROLE dbsync_regress_user;
DROP ROLE dbsync_regress_admin;

-- drop: refused while a sync uses it (naming the syncs).
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table)
  SELECT 'products_to_wp', m.id, 'products', w.id, 'product'
    FROM dbsync.datasources m, dbsync.datasources w WHERE m.name = 'master' AND w.name = 'wp';
SELECT dbsync.drop_datasource('wp');
DELETE FROM dbsync.syncs WHERE name = 'products_to_wp';
SELECT dbsync.drop_datasource('wp');
SELECT dbsync.drop_datasource('wp');
SELECT dbsync.drop_datasource('master');
SELECT dbsync.drop_datasource('remote2');
SELECT dbsync.drop_datasource('supa');
SELECT dbsync.drop_datasource('self');
SELECT count(*) FROM dbsync.datasource_list;
RESET dbsync.secret_key_file;
