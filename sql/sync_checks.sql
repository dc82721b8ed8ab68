-- Issue 12, checks of a sync: a key whose order changes once mapped is refused at save time; a
-- bare rule naming a column with a space is that column; keys that cannot be merged are row
-- errors, not a failed diff; diff and preview run without JIT.
\set SHOW_CONTEXT never
INSERT INTO dbsync.datasources (name, kind) VALUES ('sc_master', 'local');
CREATE SCHEMA sc;
CREATE TABLE sc.src (id integer PRIMARY KEY, "a b" text, ab text, code text NOT NULL UNIQUE,
                     price numeric(10,2) UNIQUE, day date UNIQUE);
INSERT INTO sc.src SELECT i, 'space ' || i, 'ab ' || i, 'c' || i, i + 0.01 * (i % 2),
                          date '2024-01-01' + i
  FROM generate_series(1, 12) i;
CREATE TABLE sc.by_text (id text PRIMARY KEY, v text);
CREATE TABLE sc.by_int (id integer PRIMARY KEY, v text);
CREATE TABLE sc.by_numeric (id numeric(10,1) PRIMARY KEY, v text);
CREATE TABLE sc.by_time (id timestamptz PRIMARY KEY, v text);

-- 1. Key order: an integer key mapped to a text key (10 sorts before 9) or a text key to an
-- integer is refused, naming both columns; numbers to numbers, dates to timestamps are fine.
SELECT regress.try($$SELECT dbsync.create_sync('sc_text', 'sc_master', 'sc.src', 'sc_master',
  'sc.by_text', mapping => '{"id": "id", "v": "ab"}')$$);
SELECT regress.try($$SELECT dbsync.create_sync('sc_code', 'sc_master', 'sc.src', 'sc_master',
  'sc.by_int', mapping => '{"id": "code", "v": "ab"}')$$);
SELECT dbsync.create_sync('sc_num', 'sc_master', 'sc.src', 'sc_master', 'sc.by_numeric',
  mapping => '{"id": "id", "v": "ab"}') > 0 AS numbers_ok;
SELECT dbsync.create_sync('sc_time', 'sc_master', 'sc.src', 'sc_master', 'sc.by_time',
  mapping => '{"id": "day", "v": "ab"}') > 0 AS dates_ok;
-- alter_sync keeps the rule.
SELECT regress.try($$SELECT dbsync.alter_sync('sc_num', target_table => 'sc.by_text')$$);
SELECT regress.try($$SELECT dbsync.alter_sync('sc_time', mapping => '{"id": "code", "v": "ab"}')$$);
SELECT target_table FROM dbsync.syncs WHERE name = 'sc_num';

-- 2. A bare rule is a source column, whatever its name holds; an unknown one is the same error
-- as for a name without a space, with a hint for literal text.
SELECT dbsync.create_sync('sc_space', 'sc_master', 'sc.src', 'sc_master', 'sc.by_int',
  mapping => '{"id": "id", "v": "a b"}') > 0 AS created;
SELECT dbsync.map_row('sc_space', '{"id": 1, "a b": "from the column"}');
SELECT * FROM dbsync.preview('sc_space', 2);
SELECT regress.try($$SELECT dbsync.alter_sync('sc_space', mapping => '{"id": "id", "v": "a c"}')$$);
SELECT regress.try($$SELECT dbsync.alter_sync('sc_space', mapping => '{"id": "id", "v": "ac"}')$$);
SELECT dbsync.alter_sync('sc_space', mapping => '{"id": "id", "v": "{{ ''a c'' }}"}');
SELECT dbsync.map_row('sc_space', '{"id": 1}');

-- 3. Keys that cannot be merged are row errors naming them; the other keys are diffed.
-- Two source keys that become one target key (1.01 and 1.00 -> 1.0 in numeric(10,1)):
SELECT dbsync.alter_sync('sc_num', mapping => '{"id": "price", "v": "ab"}', key => ARRAY['id']);
INSERT INTO sc.src VALUES (13, NULL, 'ab 13', 'c13', 1.00, NULL);
SELECT key, action, detail FROM dbsync.diff('sc_num') WHERE action <> 'insert';
SELECT count(*) AS inserts FROM dbsync.diff('sc_num') WHERE action = 'insert';
-- A target key that allows nulls (a unique key, not a primary key):
CREATE TABLE sc.nullable (k integer UNIQUE, v text);
INSERT INTO sc.nullable VALUES (1, 'ab 1'), (NULL, 'no key'), (NULL, 'no key either');
SELECT dbsync.create_sync('sc_null', 'sc_master', 'sc.src', 'sc_master', 'sc.nullable',
  mapping => '{"k": "id", "v": "ab"}', key => ARRAY['k']) > 0 AS created;
SELECT key, action, detail FROM dbsync.diff('sc_null') WHERE action NOT IN ('insert', 'none');
SELECT count(*) AS inserts FROM dbsync.diff('sc_null') WHERE action = 'insert';
-- A source key that is null (row 13's day): a row error too.
SELECT key, action, detail FROM dbsync.diff('sc_time') WHERE action <> 'insert';

-- 4. No JIT in diff and preview (as in the executors): every keyset page used to be compiled
-- when its cost passed jit_above_cost. A filter that reads the setting shows it.
SET jit = on;
SET jit_above_cost = 0;
SELECT dbsync.create_sync('sc_jit', 'sc_master', 'sc.src', 'sc_master', 'sc.by_int',
  mapping => '{"id": "id", "v": "ab"}', filter => $$current_setting('jit') = 'off'$$) > 0 AS created;
SELECT count(*) AS previewed FROM dbsync.preview('sc_jit', 100);
SELECT count(*) AS diffed FROM dbsync.diff('sc_jit');
SHOW jit;
RESET jit;
RESET jit_above_cost;
