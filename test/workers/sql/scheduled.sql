-- Schedules: the launcher fires a due schedule once (missed fire times become one run), records
-- the firing with a compare-and-set, and never runs a sync twice at once.
\set SHOW_CONTEXT never
CREATE SCHEMA ws;
CREATE TABLE ws.a (id integer PRIMARY KEY, v text);
CREATE TABLE ws.b (id integer PRIMARY KEY, v text);
INSERT INTO ws.a SELECT i, 'v' || i FROM generate_series(1, 10) i;
SELECT dbsync.create_sync('daily', 'master', 'ws.a', 'master', 'ws.b',
  mapping => '{"id": "id", "v": "v"}') > 0 AS created;
-- Daily at 03:00 UTC: the next fire time is hours away, so the test sees only what it causes.
SELECT dbsync.schedule('daily', '0 3 * * *') IS NOT NULL AS scheduled;
-- As if the server had been down for three days: three fire times were missed.
UPDATE dbsync.syncs SET last_scheduled_at = now() - interval '3 days'
  WHERE name = 'daily';
CREATE FUNCTION pg_temp.wait_for_scheduled_job() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  j record;
BEGIN
  FOR i IN 1 .. 300 LOOP
    SELECT * INTO j FROM dbsync.job_list WHERE sync = 'daily' AND trigger = 'schedule'
      ORDER BY id LIMIT 1;
    IF FOUND AND j.finished_at IS NOT NULL THEN
      RETURN j.status;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'no scheduled job';
END
$$;
SELECT pg_temp.wait_for_scheduled_job();
-- One job for the three missed fire times; the firing is recorded.
SELECT count(*) AS scheduled_jobs FROM dbsync.job_list
  WHERE sync = 'daily' AND trigger = 'schedule';
SELECT last_scheduled_at > now() - interval '1 minute' AS recorded FROM dbsync.syncs
  WHERE name = 'daily';
SELECT count(*) AS copied FROM ws.b;
-- Unscheduled: nothing fires any more, even with fire times due.
SELECT dbsync.unschedule('daily');
UPDATE dbsync.syncs SET last_scheduled_at = now() - interval '3 days' WHERE name = 'daily';
SELECT pg_sleep(2.5);
SELECT count(*) AS scheduled_jobs FROM dbsync.job_list
  WHERE sync = 'daily' AND trigger = 'schedule';
