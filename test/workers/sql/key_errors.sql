-- Keys that cannot be merged (issue 12): a null in a nullable unique key, on either side, and
-- two source keys that become one target key are row errors naming the keys; the job goes on.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wk CASCADE;
RESET client_min_messages;
CREATE SCHEMA wk;
CREATE TABLE wk.src (id integer PRIMARY KEY, price numeric(10,2) UNIQUE, v text);
CREATE TABLE wk.dst (k numeric(10,1) UNIQUE, v text);
-- 1.00 and 1.01 both become 1.0; row 4 has no price.
INSERT INTO wk.src VALUES (1, 1.00, 'a'), (2, 1.01, 'b'), (3, 2.00, 'c'), (4, NULL, 'd');
INSERT INTO wk.dst VALUES (NULL, 'no key');
SELECT dbsync.create_sync('keys', 'master', 'wk.src', 'master', 'wk.dst',
  mapping => '{"k": "price", "v": "v"}', key => ARRAY['k']) > 0 AS created;
SELECT status, inserted, errors, error FROM dbsync.run('keys');
SELECT * FROM wk.dst ORDER BY k;
SELECT status, inserted, unchanged, errors FROM dbsync.run('keys');
SELECT dbsync.drop_sync('keys');
SET client_min_messages = warning;
DROP SCHEMA wk CASCADE;
RESET client_min_messages;
