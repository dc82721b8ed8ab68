-- Mapping rules are checked with the engine; errors are SQL errors with SQLSTATEs and positions.
\set VERBOSITY default
SELECT dbsync.check_expression('@title');
SELECT dbsync.check_expression('{{ master.price * 1.2 }}');
SELECT dbsync.check_expression('Hello {{ m.name | upper }}!');
SELECT dbsync.check_expression('{{ m.price * }}');
SELECT dbsync.check_expression('{{ m.title | nosuchfilter }}');
SELECT dbsync.check_expression('{{ (1 }}');
SELECT dbsync.check_expression('x"; DROP TABLE t; --');
SELECT dbsync.check_expression(NULL) IS NULL AS strict_null;
SELECT dbsync.check_mapping('{"post_title": "title", "status": {"source": "status", "transform": "default:draft"}}');
SELECT dbsync.check_mapping('{"post_title": "{{ m.title ~ }}"}');
SELECT dbsync.check_mapping('{"a": {"source": "x", "colour": 1}}');
SELECT dbsync.check_mapping('[1, 2]');
\set VERBOSITY terse
DO $$ BEGIN PERFORM dbsync.check_expression('{{ 1 +'); EXCEPTION WHEN syntax_error THEN RAISE NOTICE 'caught SQLSTATE %', SQLSTATE; END $$;
