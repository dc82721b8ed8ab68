-- Issue 12: lose nothing. A user's write that lands while a job runs (or waits for decisions)
-- is never overwritten and never forgotten (the write contract of engine/endpoints.hpp), and
-- char(n), bit(n) and other types with modifiers arrive whole through local and remote ends.
-- Timing is made deterministic with a trigger that waits on an advisory lock this session holds.
\set SHOW_CONTEXT never
CREATE SCHEMA wce;
SELECT count(dbsync.add_datasource('master', 'local')) >= 0 AS master_ready
  FROM (SELECT 1) x WHERE NOT EXISTS (SELECT 1 FROM dbsync.datasources WHERE name = 'master');
SELECT dbsync.add_datasource('wce_loop', 'postgres',
         format('host=127.0.0.1 port=%s dbname=%s user=%s', current_setting('port'),
                current_database(), current_user)) > 0 AS added;

-- Blocks the statement that fires it until this session releases advisory lock 4242 (not in
-- this session, which plays the user: it sets wce.me).
CREATE FUNCTION wce.hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('wce.me', true), '') <> 'on' THEN
    PERFORM pg_advisory_xact_lock_shared(4242);
  END IF;
  RETURN NULL;
END $$;
SET wce.me = 'on';
-- Waits (bounded) until a backend waits for that lock.
CREATE FUNCTION wce.wait_blocked() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..600 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;

-- 1. Two-way: the job writes a target edit back into a source row that a user edits after the
--    job read it. The batch's target write (row 2) blocks until the user's edit is committed.
CREATE TABLE wce.s (id integer PRIMARY KEY, name text, status text);
CREATE TABLE wce.t (id integer PRIMARY KEY, name text, status text);
INSERT INTO wce.s SELECT i, 'n' || i, 'draft' FROM generate_series(1, 4) i;
SELECT dbsync.create_sync('wce_two', 'master', 'wce.s', 'master', 'wce.t',
  mapping => '{"id": "id", "name": "name", "status": "status"}', direction => 'two_way',
  strategy => 'merge', strategy_options => '{"merge_fallback": "source"}') > 0 AS created;
SELECT status, inserted FROM dbsync.run('wce_two');
UPDATE wce.t SET name = 'name from the target' WHERE id = 1;   -- flows back into wce.s
UPDATE wce.s SET status = 'live' WHERE id = 2;                 -- flows into wce.t: blocks
CREATE TRIGGER hold AFTER UPDATE ON wce.t FOR EACH STATEMENT EXECUTE FUNCTION wce.hold();
SELECT pg_advisory_lock(4242);
SELECT id AS job FROM dbsync.run('wce_two', wait => false) \gset
SELECT wce.wait_blocked();
UPDATE wce.s SET status = 'published by a user' WHERE id = 1;  -- after the job read row 1
SELECT pg_advisory_unlock(4242);
SELECT dbsync.wait_job(:job);
SELECT status, updated, source_updated, errors, error FROM dbsync.jobs WHERE id = :job;
DROP TRIGGER hold ON wce.t;
-- The user's edit is there; the write-back was not made (not overwritten).
SELECT * FROM wce.s WHERE id = 1;
-- The next run sees both sides moved: a conflict, merged field by field; nothing is lost.
SELECT status, conflicts, updated, source_updated FROM dbsync.run('wce_two');
SELECT * FROM wce.s WHERE id = 1;
SELECT * FROM wce.t WHERE id = 1;
SELECT status, unchanged FROM dbsync.run('wce_two');

-- 2. One-way, remote target: the job's update of a row that a user edits meanwhile (another
--    column) is not written; the next run merges both.
CREATE TABLE wce.src (id integer PRIMARY KEY, price integer, note text);
CREATE TABLE wce.dst (id integer PRIMARY KEY, price integer, note text);
INSERT INTO wce.src SELECT i, i, 'n' FROM generate_series(1, 3) i;
SELECT dbsync.create_sync('wce_remote', 'master', 'wce.src', 'wce_loop', 'wce.dst',
  mapping => '{"id": "id", "price": "price", "note": "note"}',
  strategy => 'merge', strategy_options => '{"merge_fallback": "source"}') > 0 AS created;
SELECT status, inserted FROM dbsync.run('wce_remote');
UPDATE wce.src SET price = 100 WHERE id IN (1, 2);
-- The job's update of rows 1 and 2 (one batch) waits before it starts; meanwhile a user edits
-- row 2's note in the target.
CREATE TRIGGER hold BEFORE UPDATE ON wce.dst FOR EACH STATEMENT EXECUTE FUNCTION wce.hold();
SELECT pg_advisory_lock(4242);
SELECT id AS job FROM dbsync.run('wce_remote', wait => false) \gset
SELECT wce.wait_blocked();
UPDATE wce.dst SET note = 'user' WHERE id = 2;
SELECT pg_advisory_unlock(4242);
SELECT dbsync.wait_job(:job);
SELECT status, updated, errors, error FROM dbsync.jobs WHERE id = :job;
DROP TRIGGER hold ON wce.dst;
SELECT * FROM wce.dst ORDER BY id;
SELECT status, conflicts, updated FROM dbsync.run('wce_remote');
SELECT * FROM wce.dst ORDER BY id;

-- 3. Manual hold_all: while the job waits for a decision, a user edits one target row that a
--    staged change updates and deletes another. The commit writes neither, goes on with the
--    rest, keeps the decision; the next run raises both as conflicts.
CREATE TABLE wce.hl (id integer PRIMARY KEY, name text, price integer);
CREATE TABLE wce.hr (id integer PRIMARY KEY, name text, price integer);
INSERT INTO wce.hl SELECT i, 'n' || i, i FROM generate_series(1, 4) i;
SELECT dbsync.create_sync('wce_hold', 'master', 'wce.hl', 'master', 'wce.hr',
  mapping => '{"id": "id", "name": "name", "price": "price"}', strategy => 'manual') > 0 AS created;
SELECT status, inserted FROM dbsync.run('wce_hold');
UPDATE wce.hl SET name = 'source' WHERE id = 1;
UPDATE wce.hr SET name = 'target' WHERE id = 1;
UPDATE wce.hl SET price = price * 100 WHERE id IN (2, 3, 4);
SELECT status, conflicts_pending FROM dbsync.run('wce_hold');
UPDATE wce.hr SET name = 'edited while waiting' WHERE id = 2;
DELETE FROM wce.hr WHERE id = 3;
SELECT dbsync.resolve(id, 'source') IS NOT NULL AS resolved FROM dbsync.conflicts
  WHERE sync_id = (SELECT id FROM dbsync.syncs WHERE name = 'wce_hold') AND status = 'pending';
SET client_min_messages = warning;
SELECT status, updated, errors, error FROM dbsync.run('wce_hold');
RESET client_min_messages;
SELECT * FROM wce.hr ORDER BY id;
SELECT status, conflicts, conflicts_pending FROM dbsync.run('wce_hold');
SELECT key, kind, status FROM dbsync.conflict_list WHERE sync = 'wce_hold' AND status = 'pending'
  ORDER BY key::text;
SELECT dbsync.resolve_all('wce_hold', 'target');
SET client_min_messages = warning;
SELECT status FROM dbsync.run('wce_hold');
RESET client_min_messages;
SELECT * FROM wce.hr ORDER BY id;

-- 4. Types with modifiers, both directions, local and remote ends: every value arrives whole
--    (char(n) was cut to its first character, bit(n) failed every job).
CREATE TABLE wce.ty (
  k  char(4) PRIMARY KEY, c6 char(6), vc varchar(5), b4 bit(4), vb varbit(8),
  nu numeric(8,3), t2 time(2), ts timestamp(3), tz timestamptz(1),
  iv interval day to second(2), ym interval year to month, ca char(3)[], ba bit(2)[],
  na numeric(5,2)[]);
INSERT INTO wce.ty VALUES
  ('a b', 'abcdef', 'abcde', B'1010', B'101', 12.345, '12:34:56.78', '2024-02-29 01:02:03.456',
   '2024-01-01 00:00:00.1+00', '1 day 02:03:04.56', '1 year 2 months', '{abc,de}', '{10,01}',
   '{1.5,2.25}'),
  ('a', 'a', '', B'0000', B'', -0.001, '00:00', '1999-12-31 23:59:59.999', '2000-01-01 00:00+00',
   '-3 days', '-1 month', '{x}', '{11}', '{}'),
  ('b   ', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE wce.ty_local (LIKE wce.ty INCLUDING ALL);
CREATE TABLE wce.ty_remote (LIKE wce.ty INCLUDING ALL);
SELECT dbsync.create_sync('wce_ty_local', 'master', 'wce.ty', 'master', 'wce.ty_local',
  direction => 'two_way') > 0 AS created;
SELECT dbsync.create_sync('wce_ty_remote', 'master', 'wce.ty', 'wce_loop', 'wce.ty_remote',
  direction => 'two_way') > 0 AS created;
SELECT status, inserted, errors, error FROM dbsync.run('wce_ty_local');
SELECT status, inserted, errors, error FROM dbsync.run('wce_ty_remote');
SELECT count(*) AS differing FROM wce.ty x FULL JOIN wce.ty_local y USING (k)
  WHERE x::text IS DISTINCT FROM y::text;
SELECT count(*) AS differing FROM wce.ty x FULL JOIN wce.ty_remote y USING (k)
  WHERE x::text IS DISTINCT FROM y::text;
-- A second run has nothing to do (the baseline holds what was written).
SELECT status, unchanged, inserted, updated FROM dbsync.run('wce_ty_local');
SELECT status, unchanged, inserted, updated FROM dbsync.run('wce_ty_remote');
-- Back into the source (two-way write-back through a local and a remote end).
UPDATE wce.ty_local SET c6 = 'zyxwvu', b4 = B'0110', ca = '{qrs}', iv = '2 days 00:00:01.5',
  na = '{9.99}' WHERE k = 'a b';
INSERT INTO wce.ty_local (k, c6, b4) VALUES ('c d', 'cdefgh', B'1111');
SELECT status, source_updated, source_inserted, errors, error FROM dbsync.run('wce_ty_local');
SELECT k, c6, b4, ca, iv, na FROM wce.ty WHERE k IN ('a b', 'c d') ORDER BY k;
UPDATE wce.ty_remote SET c6 = 'remote', b4 = B'0001' WHERE k = 'a';
SELECT status, updated, source_updated, errors, error FROM dbsync.run('wce_ty_remote');
SELECT k, c6, b4 FROM wce.ty WHERE k = 'a';
SELECT status, updated, errors FROM dbsync.run('wce_ty_local');
SELECT count(*) AS differing FROM wce.ty x FULL JOIN wce.ty_local y USING (k)
  WHERE x::text IS DISTINCT FROM y::text;
SELECT status, updated, errors FROM dbsync.run('wce_ty_remote');
SELECT count(*) AS differing FROM wce.ty x FULL JOIN wce.ty_remote y USING (k)
  WHERE x::text IS DISTINCT FROM y::text;

-- 5. Issue 12 §3: a two-way job terminated right after a batch that wrote a target-only key
--    back into the source resumes exactly where it stopped (it failed on its own baseline,
--    "duplicate key value violates unique constraint sync_state_pkey"). Batches of one key:
--    key 3 (only in the target) is written back, then the insert of key 4 into the target
--    waits, and the executor is terminated there.
CREATE TABLE wce.rs (id integer PRIMARY KEY, name text);
CREATE TABLE wce.rt (id integer PRIMARY KEY, name text);
INSERT INTO wce.rs VALUES (1, 'a'), (2, 'b');
SELECT dbsync.create_sync('wce_resume', 'master', 'wce.rs', 'master', 'wce.rt',
  mapping => '{"id": "id", "name": "name"}', direction => 'two_way', batch_size => 1) > 0 AS created;
SELECT status, inserted FROM dbsync.run('wce_resume');
INSERT INTO wce.rt VALUES (3, 'made in the target');
INSERT INTO wce.rs VALUES (4, 'd'), (5, 'e');
CREATE TRIGGER hold AFTER INSERT ON wce.rt FOR EACH STATEMENT EXECUTE FUNCTION wce.hold();
SELECT pg_advisory_lock(4242);
SELECT id AS job FROM dbsync.run('wce_resume', wait => false) \gset
SELECT wce.wait_blocked();
SELECT pg_terminate_backend(pid) AS terminated FROM pg_locks
  WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted;
SELECT pg_advisory_unlock(4242);
SELECT dbsync.wait_job(:job);
SELECT status, interruptions > 0 AS interrupted, error FROM dbsync.jobs WHERE id = :job;
DROP TRIGGER hold ON wce.rt;
SELECT * FROM wce.rs ORDER BY id;
SELECT * FROM wce.rt ORDER BY id;
SELECT status, unchanged, inserted, source_inserted FROM dbsync.run('wce_resume');

-- 6. Two-way with a filter: a target row whose key exists in the source outside the filter is
--    not written over the hidden row (it was an upsert); the job says why and goes on.
CREATE TABLE wce.fs (id integer PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true);
CREATE TABLE wce.ft (id integer PRIMARY KEY, name text);
INSERT INTO wce.fs VALUES (1, 'shown', true), (2, 'hidden', false);
SELECT dbsync.create_sync('wce_filter', 'master', 'wce.fs', 'master', 'wce.ft',
  mapping => '{"id": "id", "name": "name"}', direction => 'two_way', filter => 'active') > 0 AS created;
SELECT status, inserted FROM dbsync.run('wce_filter');
INSERT INTO wce.ft VALUES (2, 'made in the target'), (3, 'new in the target');
SELECT status, source_inserted, errors, error FROM dbsync.run('wce_filter');
SELECT * FROM wce.fs ORDER BY id;

SELECT dbsync.drop_sync(name) FROM dbsync.syncs WHERE name LIKE 'wce\_%' ORDER BY name;
SELECT dbsync.drop_datasource('wce_loop');
DROP SCHEMA wce CASCADE;
