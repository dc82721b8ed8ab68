-- The baseline of a batch's new keys is written in bulk, as COPY writes rows, only where that
-- is what an INSERT would do (extension/src/pg/bulk_insert.cpp). A dbsync.sync_state with a
-- trigger or a CHECK constraint is written by SQL instead: the trigger fires for every key and
-- the constraint holds, failing the job with nothing half-written.
\set SHOW_CONTEXT never
CREATE SCHEMA wbw;
CREATE TABLE wbw.src (id integer PRIMARY KEY, v text);
CREATE TABLE wbw.dst (id integer PRIMARY KEY, v text);
CREATE TABLE wbw.dst2 (id integer PRIMARY KEY, v text);
INSERT INTO wbw.src SELECT i, 'v' || i FROM generate_series(1, 1200) i;
-- A trigger that counts the baseline rows it sees, per sync.
CREATE TABLE wbw.seen (sync_id bigint);
CREATE FUNCTION wbw.count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO wbw.seen VALUES (NEW.sync_id);
  RETURN NEW;
END
$$;
CREATE TRIGGER wbw_count_row AFTER INSERT ON dbsync.sync_state
  FOR EACH ROW EXECUTE FUNCTION wbw.count_row();
SELECT dbsync.create_sync('bw_trigger', 'master', 'wbw.src', 'master', 'wbw.dst',
  mapping => '{"id": "id", "v": "v"}', batch_size => 1000) AS trigger_sync \gset
SELECT status, inserted, error FROM dbsync.run('bw_trigger');
-- Every new key went through the trigger, once.
SELECT count(*) AS seen FROM wbw.seen WHERE sync_id = :trigger_sync;
SELECT count(*) AS kept FROM dbsync.sync_state WHERE sync_id = :trigger_sync;
DROP TRIGGER wbw_count_row ON dbsync.sync_state;
-- The baseline it wrote is the one a bulk write gives: a second run finds nothing to do.
SELECT status, inserted, updated, unchanged FROM dbsync.run('bw_trigger');

-- A CHECK constraint that refuses every key of one sync: its first batch fails, naming the
-- constraint, and neither the target nor the baseline keeps any of the batch.
SELECT dbsync.create_sync('bw_check', 'master', 'wbw.src', 'master', 'wbw.dst2',
  mapping => '{"id": "id", "v": "v"}', batch_size => 1000) AS check_sync \gset
ALTER TABLE dbsync.sync_state ADD CONSTRAINT wbw_refuse CHECK (sync_id <> :check_sync) NOT VALID;
SELECT status, inserted, error LIKE '%violates check constraint "wbw_refuse"%' AS names_it
  FROM dbsync.run('bw_check');
SELECT count(*) AS target_rows FROM wbw.dst2;
SELECT count(*) AS kept FROM dbsync.sync_state WHERE sync_id = :check_sync;
ALTER TABLE dbsync.sync_state DROP CONSTRAINT wbw_refuse;
SELECT status, inserted, error FROM dbsync.run('bw_check');
SELECT count(*) AS target_rows FROM wbw.dst2;
SELECT count(*) AS kept FROM dbsync.sync_state WHERE sync_id = :check_sync;

SELECT dbsync.drop_sync('bw_trigger'), dbsync.drop_sync('bw_check');
DROP SCHEMA wbw CASCADE;
