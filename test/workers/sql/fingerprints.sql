-- Fingerprints: a re-sync knows unchanged rows by their row version (xmin) without reading
-- them in full; rows rewritten with the same values, drift on the target, deletions and a
-- filter all still come out right.
\set SHOW_CONTEXT never
CREATE SCHEMA wfp;
CREATE TABLE wfp.src (id integer PRIMARY KEY, body text, visible boolean NOT NULL DEFAULT true);
CREATE TABLE wfp.dst (id integer PRIMARY KEY, body text);
INSERT INTO wfp.src SELECT i, 'b' || i FROM generate_series(1, 200) i;
SELECT dbsync.create_sync('fp', 'master', 'wfp.src', 'master', 'wfp.dst',
  mapping => '{"id": "id", "body": "{{ source.body | upper }}"}', batch_size => 50,
  filter => 'visible') > 0 AS created;
SELECT status, inserted FROM dbsync.run('fp');
-- Every baseline entry remembers both sides' fingerprints (flag 8 of the state's first byte).
SELECT count(*) AS entries, count(*) FILTER (WHERE get_byte(st.state, 0) & 8 = 8) AS fingerprinted
  FROM dbsync.sync_state st JOIN dbsync.syncs s ON s.id = st.sync_id WHERE s.name = 'fp';
CREATE TEMP TABLE versions AS SELECT id, xmin::text AS x FROM wfp.dst;

-- Rewritten with the same values, or with values that map to the same (upper): nothing to write.
UPDATE wfp.src SET body = body WHERE id <= 10;
UPDATE wfp.src SET body = 'B' || id WHERE id BETWEEN 11 AND 20;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('fp');
SELECT count(*) AS rewritten_on_target FROM wfp.dst d JOIN versions v USING (id) WHERE d.xmin::text <> v.x;
-- ... and the baseline learned their new fingerprints: the next run is as quiet.
SELECT status, unchanged, updated FROM dbsync.run('fp');

-- Drift on the target (source wins), a real change, a deletion, a row filtered out, a new row.
UPDATE wfp.dst SET body = 'drift' WHERE id = 5;
UPDATE wfp.src SET body = 'changed' WHERE id = 6;
DELETE FROM wfp.src WHERE id = 7;
UPDATE wfp.src SET visible = false WHERE id = 8;
INSERT INTO wfp.src VALUES (201, 'new');
SELECT status, unchanged, inserted, updated, deleted, conflicts FROM dbsync.run('fp');
SELECT id, body FROM wfp.dst WHERE id IN (5, 6, 7, 8, 201) ORDER BY id;
SELECT count(*) AS rows, count(*) FILTER (WHERE d.body = upper(s.body)) AS equal
  FROM wfp.src s JOIN wfp.dst d USING (id) WHERE s.visible;
SELECT status, unchanged, inserted, updated, deleted FROM dbsync.run('fp');

-- A target row deleted behind dbsync's back is put back (source wins).
DELETE FROM wfp.dst WHERE id = 9;
SELECT status, inserted, conflicts FROM dbsync.run('fp');
SELECT body FROM wfp.dst WHERE id = 9;

SELECT dbsync.drop_sync('fp');
DROP SCHEMA wfp CASCADE;
