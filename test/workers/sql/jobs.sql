-- Jobs run by the background workers: dbsync.run queues, an executor claims and runs, run waits
-- and returns the finished job. This database is the one dbsync.database names; the tests
-- start from a clean extension (the database is kept between runs).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS dbsync CASCADE;
DROP SCHEMA IF EXISTS wj CASCADE;
DROP SCHEMA IF EXISTS regress CASCADE;
DROP ROLE IF EXISTS dbsync_wj_nobody;
DROP ROLE IF EXISTS dbsync_wj_admin;
RESET client_min_messages;
CREATE EXTENSION dbsync;
SELECT dbsync.preloaded();
\set SHOW_CONTEXT never
-- Shared by the test files that follow: runs a statement and shows its SQLSTATE and message
-- instead of failing.
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE SCHEMA wj;
CREATE TABLE wj.products (id integer PRIMARY KEY, title text NOT NULL, price numeric(10,2),
                          stock integer);
CREATE TABLE wj.shop (id integer PRIMARY KEY, name text, price_cents bigint, in_stock boolean);
CREATE TABLE wj.mine (id integer PRIMARY KEY, name text);
INSERT INTO wj.products
  SELECT i, 'Product ' || i, i * 2.5, i % 3 FROM generate_series(1, 25) i;
SELECT dbsync.add_datasource('master', 'local') > 0 AS added;
SELECT dbsync.create_sync('shop', 'master', 'wj.products', 'master', 'wj.shop',
  mapping => '{"id": "id", "name": "{{ title | upper }}", "price_cents": "{{ price * 100 }}",
               "in_stock": "{{ stock > 0 }}"}',
  batch_size => 10) > 0 AS created;

-- 1. The first run inserts every row (in batches of 10) and returns the finished job.
SELECT sync, trigger, executor_kind, status, phase, scanned, inserted, updated, deleted,
       unchanged, conflicts, conflicts_pending, errors, attempts, error
  FROM dbsync.run('shop');
SELECT count(*) AS rows, sum(price_cents) AS cents, count(*) FILTER (WHERE in_stock) AS in_stock
  FROM wj.shop;
SELECT * FROM wj.shop WHERE id IN (1, 3, 25) ORDER BY id;
SELECT count(*) AS baseline_keys FROM dbsync.sync_state;

-- 2. Nothing changed: every row unchanged, nothing written.
SELECT status, scanned, inserted, updated, deleted, unchanged FROM dbsync.run('shop');

-- 3. Changes on the source: an update, a delete, an insert.
UPDATE wj.products SET title = 'Renamed', price = 1 WHERE id = 2;
DELETE FROM wj.products WHERE id = 3;
INSERT INTO wj.products VALUES (26, 'New', 10, 5);
SELECT status, scanned, inserted, updated, deleted, unchanged FROM dbsync.run('shop');
SELECT * FROM wj.shop WHERE id IN (2, 3, 26) ORDER BY id;
SELECT count(*) AS rows FROM wj.shop;

-- 4. Without waiting: the job comes back queued (or already running); job_status follows it.
SELECT status IN ('queued', 'running', 'succeeded') AS started, scanned >= 0 AS counted
  FROM dbsync.run('shop', wait => false);
SELECT dbsync.wait_job(max(id)) FROM dbsync.jobs;
SELECT status, unchanged FROM dbsync.job_status((SELECT max(id) FROM dbsync.jobs));
SELECT count(*) AS jobs, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(DISTINCT trigger) AS triggers FROM dbsync.job_list;

-- 5. Errors: unknown sync, unknown job, null arguments, cancelling a finished job, a
-- hostile name; a role that is not dbsync_admin is denied.
SELECT regress.try($$SELECT dbsync.run('nope')$$);
SELECT regress.try($$SELECT dbsync.run('x"; DROP TABLE wj.shop; --')$$);
SELECT regress.try($$SELECT dbsync.run(NULL)$$);
SELECT regress.try($$SELECT dbsync.job_status(424242)$$);
SELECT regress.try($$SELECT dbsync.cancel(424242)$$);
SELECT regress.try(format('SELECT dbsync.cancel(%s)', (SELECT max(id) FROM dbsync.jobs)));
SELECT regress.try($$SELECT dbsync.wait_job(424242)$$);
SELECT count(*) AS shop_still_there FROM wj.shop;
CREATE ROLE dbsync_wj_nobody;
SET ROLE dbsync_wj_nobody;
SELECT regress.try($$SELECT dbsync.run('shop')$$);
SELECT regress.try($$SELECT * FROM dbsync.job_list$$);
RESET ROLE;
-- dbsync_admin may run syncs and read jobs.
CREATE ROLE dbsync_wj_admin IN ROLE dbsync_admin;
SET ROLE dbsync_wj_admin;
SELECT status, unchanged FROM dbsync.run('shop');
SELECT count(*) > 0 AS sees_jobs FROM dbsync.job_list;
-- A sync uses its tables with its owner's privileges: an admin cannot create one over a table
-- it cannot read, and a job whose owner lost a privilege fails (checked before every job).
SELECT regress.try($$SELECT dbsync.create_sync('mine', 'master', 'wj.products', 'master', 'wj.mine',
  mapping => '{"id": "id", "name": "title"}')$$);
RESET ROLE;
GRANT USAGE ON SCHEMA wj TO dbsync_wj_admin;
GRANT SELECT ON wj.products TO dbsync_wj_admin;
SET ROLE dbsync_wj_admin;
SELECT regress.try($$SELECT dbsync.create_sync('mine', 'master', 'wj.products', 'master', 'wj.mine',
  mapping => '{"id": "id", "name": "title"}')$$);
RESET ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON wj.mine TO dbsync_wj_admin;
SET ROLE dbsync_wj_admin;
SELECT regress.try($$SELECT dbsync.create_sync('mine', 'master', 'wj.products', 'master', 'wj.mine',
  mapping => '{"id": "id", "name": "title"}')$$);
SELECT status, inserted FROM dbsync.run('mine');
RESET ROLE;
REVOKE SELECT ON wj.products FROM dbsync_wj_admin;
SELECT status, error FROM dbsync.run('mine');
-- dbsyncd asks the master the same question before each job it runs.
SELECT regress.try($$SELECT dbsync.check_sync_privileges(id) FROM dbsync.syncs WHERE name = 'mine'$$);
GRANT SELECT ON wj.products TO dbsync_wj_admin;
SELECT regress.try($$SELECT dbsync.check_sync_privileges(id) FROM dbsync.syncs WHERE name = 'mine'$$);
SELECT regress.try($$SELECT dbsync.check_sync_privileges(-1)$$);
SELECT dbsync.drop_sync('mine');
-- REPEATABLE READ cannot watch a job progress: a clear error, not a hang.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.try($$SELECT dbsync.run('shop')$$);
ROLLBACK;

-- 6. A constraint violation on the target fails the job with the database's message; the
-- failed batch is rolled back (nothing half-written) and the baseline keeps the old state, so
-- the next run after the fix applies it.
ALTER TABLE wj.shop ADD CONSTRAINT short_name CHECK (length(name) < 40);
UPDATE wj.products SET title = repeat('x', 50) WHERE id = 5;
UPDATE wj.products SET title = 'Fine' WHERE id = 6;
SELECT status, updated, error FROM dbsync.run('shop');
SELECT id, name FROM wj.shop WHERE id IN (5, 6) ORDER BY id;
ALTER TABLE wj.shop DROP CONSTRAINT short_name;
SELECT status, updated, error FROM dbsync.run('shop');
SELECT id, length(name) FROM wj.shop WHERE id IN (5, 6) ORDER BY id;

-- 7. Dropping a sync forgets its baseline and its jobs.
SELECT count(*) > 0 AS has_baseline FROM dbsync.sync_state;
SELECT dbsync.drop_sync('shop');
SELECT count(*) AS baseline_left FROM dbsync.sync_state;
SELECT count(*) AS jobs_left FROM dbsync.jobs;
