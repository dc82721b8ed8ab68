-- Sync configurations: validated at save time (tables, columns, expressions, unique keys,
-- options), map_row, preview; errors carry SQLSTATEs and leave nothing written.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('sy_master', 'local');
INSERT INTO dbsync.datasources (name, kind, conninfo) VALUES ('sy_remote', 'mysql', '\x00');

CREATE SCHEMA shop;
CREATE TABLE shop.products (id integer PRIMARY KEY, sku text NOT NULL UNIQUE, title text,
  price numeric(10,2), status text, active boolean, updated timestamptz, notes varchar(200));
CREATE TABLE shop.wp_products (post_id integer PRIMARY KEY, post_title varchar(12),
  price numeric(10,2), post_status text, is_active boolean, modified timestamptz,
  deleted boolean NOT NULL DEFAULT false, plain text);
INSERT INTO shop.products
  SELECT i, 'SKU-' || lpad(i::text, 3, '0'), 'Product ' || i, i * 10.5,
         CASE WHEN i % 3 = 0 THEN NULL ELSE 'publish' END, i % 2 = 0,
         '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 hour', NULL
  FROM generate_series(1, 20) i;
UPDATE shop.products SET title = 'A title far too long for twelve' WHERE id = 7;

-- A valid sync: renames, an expression, a legacy transform.
SELECT dbsync.create_sync('products_to_wp', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products',
  mapping => '{"post_id": "id", "post_title": "@title", "price": "{{ m.price * 1.2 }}",
               "post_status": {"source": "status", "transform": "default:draft"},
               "is_active": "active", "modified": "updated"}',
  delete_policy => 'soft:deleted') > 0 AS created;
SELECT name, source, source_table, target, target_table, key, source_key, direction, strategy,
       delete_policy, batch_size, baseline_keys
  FROM dbsync.sync_list;

-- map_row: JSON types in and out; missing source columns are null; errors name the column.
SELECT dbsync.map_row('products_to_wp', '{"id": 1, "title": "Chair", "price": 10, "status": "publish", "active": true, "updated": "2024-05-01 12:00:00+02"}');
SELECT dbsync.map_row('products_to_wp', '{"id": "2", "title": "Table", "price": "19.99", "status": null}');
SELECT dbsync.map_row('products_to_wp', '{"id": 3, "price": 0.1, "active": false}');
SELECT regress.try($$SELECT dbsync.map_row('products_to_wp', '{"id": 4, "title": "A title far too long for twelve"}')$$);
SELECT regress.try($$SELECT dbsync.map_row('products_to_wp', '{"id": "four"}')$$);
SELECT regress.try($$SELECT dbsync.map_row('products_to_wp', '{"id": 5, "colour": "red"}')$$);
SELECT regress.try($$SELECT dbsync.map_row('products_to_wp', '[1, 2]')$$);
SELECT regress.try($$SELECT dbsync.map_row('no_such_sync', '{}')$$);

-- preview: the first rows in key order, mapped; a row that fails is an _error object.
SELECT * FROM dbsync.preview('products_to_wp', 8);
SELECT count(*) AS previewed FROM dbsync.preview('products_to_wp', 100);
SELECT count(*) AS default_limit FROM dbsync.preview('products_to_wp');
SELECT regress.try($$SELECT dbsync.preview('products_to_wp', -1)$$);

-- Text keys are read in byte order (COLLATE "C"), whatever the column's collation.
CREATE TABLE shop.tags (name text PRIMARY KEY, weight integer);
CREATE TABLE shop.wp_tags (name text PRIMARY KEY, weight integer);
INSERT INTO shop.tags VALUES ('b', 1), ('B', 2), ('a', 3), ('_', 4);
SELECT dbsync.create_sync('tags', 'sy_master', 'shop.tags', 'sy_master', 'shop.wp_tags') > 0 AS created;
SELECT * FROM dbsync.preview('tags');

-- Errors, each with its SQLSTATE, and nothing written.
SELECT count(*) AS syncs_before FROM dbsync.syncs;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'nowhere', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}')$$) AS unknown_datasource;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'nowhere', 'shop.wp_products', '{"post_id": "id"}')$$) AS unknown_target_datasource;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.nothing', 'sy_master', 'shop.wp_products', '{"post_id": "id"}')$$) AS unknown_table;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "post_title": "{{ m.name }}"}')$$) AS unknown_source_column;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "colour": "title"}')$$) AS unknown_target_column;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "price": "{{ m.price * }}"}')$$) AS bad_expression;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "post_title": "title"}', key => ARRAY['post_title'])$$) AS key_not_unique;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', source_key => ARRAY['status'])$$) AS source_key_not_unique;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', strategy => 'loudest_wins')$$) AS bad_strategy;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', strategy => 'merge', strategy_options => '{"merge_fallback": "coin"}')$$) AS bad_merge_fallback;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', strategy => 'webhook')$$) AS webhook_without_url;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', delete_policy => 'shred')$$) AS bad_delete_policy;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', delete_policy => 'soft:gone')$$) AS soft_column_missing;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', direction => 'sideways')$$) AS bad_direction;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "{{ m.id + 1000 }}"}', source_key => ARRAY['id'], direction => 'two_way')$$) AS two_way_computed_key;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', batch_size => 0)$$) AS bad_batch_size;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', filter => 'nosuchcolumn > 1')$$) AS bad_filter;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', filter => 'true); DROP TABLE shop.products; SELECT (1')$$) AS filter_injection;
SELECT regress.try($$SELECT dbsync.create_sync('products_to_wp', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}')$$) AS duplicate_name;
-- Hostile identifiers: as table names, as target and source columns, as keys.
CREATE TABLE t (id integer PRIMARY KEY);
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'x"; DROP TABLE t; --', 'sy_master', 'shop.wp_products', '{"post_id": "id"}')$$) AS hostile_table;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'x; DROP TABLE t', '{"post_id": "id"}')$$) AS hostile_table2;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "x\"; DROP TABLE t; --": "title"}')$$) AS hostile_target_column;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "post_title": "@x\"; DROP TABLE t; --"}')$$) AS hostile_source_column;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id", "post_title": {"source": "x\"; DROP TABLE t; --"}}')$$) AS hostile_source_column2;
SELECT regress.try($$SELECT dbsync.create_sync('e1', 'sy_master', 'shop.products', 'sy_master', 'shop.wp_products', '{"post_id": "id"}', key => ARRAY['x"; DROP TABLE t; --'])$$) AS hostile_key;
SELECT to_regclass('t') IS NOT NULL AS t_still_there, to_regclass('shop.products') IS NOT NULL AS products_still_there;
SELECT count(*) AS syncs_after FROM dbsync.syncs;

-- A table and a column really named like that work, quoted wherever they reach SQL.
CREATE TABLE shop."x""; DROP TABLE t; --" (id integer PRIMARY KEY, "y""; DROP TABLE t; --" text);
INSERT INTO shop."x""; DROP TABLE t; --" VALUES (2, 'two'), (1, 'one');
SELECT dbsync.create_sync('hostile', 'sy_master', 'shop."x""; DROP TABLE t; --"', 'sy_master', 'shop.wp_products',
  '{"post_id": "id", "plain": {"source": "y\"; DROP TABLE t; --"}}') > 0 AS created;
SELECT source_table FROM dbsync.sync_list WHERE name = 'hostile';
SELECT * FROM dbsync.preview('hostile');
SELECT to_regclass('t') IS NOT NULL AS t_still_there;

-- A MySQL end (run by dbsyncd): what can be checked without connecting is checked; columns on
-- the first run. (PostgreSQL remote ends are checked in full: sql/remote.sql.)
SELECT dbsync.create_sync('to_remote', 'sy_master', 'shop.products', 'sy_remote', 'public.wp_products',
  '{"post_id": "id", "post_title": "{{ m.title | upper }}"}') > 0 AS created;
SELECT regress.try($$SELECT dbsync.create_sync('e2', 'sy_master', 'shop.products', 'sy_remote', 'public.wp_products', '{"post_title": "{{ m.title | }}"}')$$) AS remote_bad_expression;
SELECT regress.try($$SELECT dbsync.map_row('to_remote', '{"id": 1}')$$) AS remote_map_row;

-- alter_sync: re-validates; a changed mapping clears the baseline, other changes keep it.
INSERT INTO dbsync.sync_state (sync_id, key, state)
  SELECT id, '\x01', '\x02' FROM dbsync.syncs WHERE name = 'products_to_wp';
SELECT dbsync.alter_sync('products_to_wp', batch_size => 500);
SELECT batch_size, baseline_keys FROM dbsync.sync_list WHERE name = 'products_to_wp';
SELECT regress.try($$SELECT dbsync.alter_sync('products_to_wp', mapping => '{"post_id": "id", "colour": "title"}')$$) AS bad_alter;
SELECT baseline_keys FROM dbsync.sync_list WHERE name = 'products_to_wp';
SELECT dbsync.alter_sync('products_to_wp', mapping => '{"post_id": "id", "post_title": "{{ m.sku }}"}');
SELECT mapping, baseline_keys FROM dbsync.sync_list WHERE name = 'products_to_wp';
SELECT dbsync.map_row('products_to_wp', '{"id": 9, "sku": "SKU-009"}');
SELECT regress.try($$SELECT dbsync.alter_sync('no_such_sync', batch_size => 5)$$) AS alter_unknown;

-- drop_sync: refused while a job runs, then gone with its jobs and baseline.
INSERT INTO dbsync.jobs (sync_id, trigger, status, started_at)
  SELECT id, 'sql', 'running', now() FROM dbsync.syncs WHERE name = 'tags';
SELECT regress.try($$SELECT dbsync.drop_sync('tags')$$) AS drop_running;
SELECT regress.try($$SELECT dbsync.alter_sync('tags', batch_size => 5)$$) AS alter_running;
UPDATE dbsync.jobs SET status = 'succeeded', finished_at = now();
SELECT dbsync.drop_sync('tags');
SELECT regress.try($$SELECT dbsync.drop_sync('tags')$$) AS drop_again;
SELECT name FROM dbsync.sync_list ORDER BY name;

-- Privileges: only superusers and dbsync_admin may call these.
CREATE ROLE sy_nobody;
SET ROLE sy_nobody;
SELECT regress.try($$SELECT dbsync.map_row('products_to_wp', '{}')$$) AS nobody_map_row;
RESET ROLE;
DROP ROLE sy_nobody;

-- Clean up.
DELETE FROM dbsync.syncs WHERE name IN ('products_to_wp', 'hostile', 'to_remote', 'e1');
DELETE FROM dbsync.jobs;
DELETE FROM dbsync.datasources WHERE name IN ('sy_master', 'sy_remote');
DROP SCHEMA shop CASCADE;
DROP TABLE t;
