-- Jobs with a remote PostgreSQL end (a datasource pointing back at this server over TCP):
-- local -> remote and remote -> local runs with changes on both sides, and a remote server that
-- is down (the job fails with libpq's message; nothing is written).
\set SHOW_CONTEXT never
CREATE SCHEMA wrm;
CREATE TABLE wrm.local_items (id integer PRIMARY KEY, name text, qty integer);
CREATE TABLE wrm.remote_items (id integer PRIMARY KEY, title text, qty integer);
CREATE TABLE wrm.back (id integer PRIMARY KEY, title text, qty integer);
INSERT INTO wrm.local_items SELECT i, 'item ' || i, i FROM generate_series(1, 40) i;
SELECT dbsync.add_datasource('loopback', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s', current_setting('port'),
                current_database(), current_user)) > 0 AS added;
SELECT dbsync.create_sync('to_remote', 'master', 'wrm.local_items', 'loopback', 'wrm.remote_items',
  mapping => '{"id": "id", "title": "{{ name | upper }}", "qty": "qty"}', batch_size => 15) > 0 AS created;
SELECT executor_kind, status, inserted, error FROM dbsync.run('to_remote');
SELECT count(*), min(title), sum(qty) FROM wrm.remote_items;
-- Changes on both sides; source_wins writes the source's values back over the remote's.
UPDATE wrm.local_items SET qty = 100 WHERE id = 1;
DELETE FROM wrm.local_items WHERE id = 2;
UPDATE wrm.remote_items SET qty = -1 WHERE id = 3;
SELECT status, inserted, updated, deleted, unchanged, conflicts FROM dbsync.run('to_remote');
SELECT * FROM wrm.remote_items WHERE id IN (1, 2, 3) ORDER BY id;

-- remote -> local, two-way: a change on the local side flows back to the remote table.
SELECT dbsync.create_sync('from_remote', 'loopback', 'wrm.remote_items', 'master', 'wrm.back',
  mapping => '{"id": "id", "title": "title", "qty": "qty"}', direction => 'two_way') > 0 AS created;
SELECT status, inserted FROM dbsync.run('from_remote');
UPDATE wrm.back SET qty = 777 WHERE id = 5;
SELECT status, updated, source_updated FROM dbsync.run('from_remote');
SELECT qty FROM wrm.remote_items WHERE id = 5;

-- The remote server goes away: the job fails naming the datasource, nothing is written.
SELECT dbsync.alter_datasource('loopback', conninfo => 'host=127.0.0.1 port=1 dbname=x user=u');
UPDATE wrm.local_items SET qty = 5 WHERE id = 1;
SELECT status, left(error, 60) AS error FROM dbsync.run('to_remote');
SELECT qty FROM wrm.remote_items WHERE id = 1;
