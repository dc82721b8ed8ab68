-- Schedules: cron text validated by the engine and stored in canonical form; next_runs with a
-- fixed "after" keeps the output deterministic. Times are shown in UTC and, for the DST cases,
-- in Europe/Berlin wall-clock time.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
-- The next runs of a schedule as one line of text.
CREATE FUNCTION pg_temp.runs(cron text, n integer, after timestamptz, zone text DEFAULT 'UTC')
  RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(to_char(r AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI Dy'), ', ' ORDER BY r)
    FROM dbsync.next_runs(cron, n, after) r
$$;

-- Every syntax form.
SELECT cron, pg_temp.runs(cron, 3, '2024-05-01 10:07:30+00') AS next_3
  FROM (VALUES (1, '* * * * *'), (2, '*/15 * * * *'), (3, '1,2,5 * * * *'),
               (4, '10-50/10 9-17 * * *'), (5, '0 9 * * mon-fri'), (6, '0 9 * jan,jul Sun'),
               (7, '0 0 * * 7'), (8, '30 4 1 * *'), (9, '@hourly'), (10, '@daily'),
               (11, '@midnight'), (12, '@weekly'), (13, '@monthly'), (14, '@yearly'),
               (15, '@annually'), (16, '  0   12  *  *  *  ')) AS c(i, cron)
 ORDER BY i;

-- Month ends, leap years, and the day-of-month OR day-of-week rule.
SELECT pg_temp.runs('0 0 31 * *', 3, '2024-01-31 00:00+00') AS day_31;
SELECT pg_temp.runs('0 0 29 2 *', 3, '2024-03-01 00:00+00') AS feb_29;
SELECT pg_temp.runs('0 0 13 * fri', 4, '2024-09-01 00:00+00') AS the_13th_or_fridays;
SELECT pg_temp.runs('0 0 */2 * fri', 2, '2024-09-01 00:00+00') AS odd_days_that_are_fridays;

-- Time zones and daylight saving time (Europe/Berlin, 2024-03-31 and 2024-10-27).
SELECT pg_temp.runs('TZ=Europe/Berlin 0 3 * * *', 2, '2024-07-01 00:00+00') AS utc,
       pg_temp.runs('TZ=Europe/Berlin 0 3 * * *', 2, '2024-07-01 00:00+00', 'Europe/Berlin') AS berlin;
-- 02:30 does not exist on 2024-03-31: it fires once, at 03:00 right after the gap.
SELECT pg_temp.runs('TZ=Europe/Berlin 30 2 * * *', 3, '2024-03-29 12:00+00', 'Europe/Berlin') AS spring_forward;
-- 02:30 happens twice on 2024-10-27: it fires once, at the first.
SELECT pg_temp.runs('TZ=Europe/Berlin 30 2 * * *', 3, '2024-10-25 12:00+00') AS fall_back_utc;
-- With hour `*` the schedule runs on elapsed time: the repeated hour fires too.
SELECT pg_temp.runs('TZ=Europe/Berlin 30 * * * *', 4, '2024-10-26 23:00+00') AS every_hour_utc;

-- Scheduling a sync stores the canonical text and returns the next fire time.
INSERT INTO dbsync.datasources (name, kind) VALUES ('sc_master', 'local');
INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table)
  SELECT 'sc_orders', id, 'public.a', id, 'public.b' FROM dbsync.datasources WHERE name = 'sc_master';
BEGIN;
SELECT n > now() AND n <= now() + interval '15 minutes' AS next_within_15_minutes
  FROM dbsync.schedule('sc_orders', '*/15 * * * *') n;
SELECT schedule, last_scheduled_at = now() AS handled_from_now FROM dbsync.syncs WHERE name = 'sc_orders';
COMMIT;
SELECT dbsync.schedule('sc_orders', '0,15,30,45 9-17 * JAN-Mar Mon-Fri') IS NOT NULL AS scheduled;
SELECT schedule FROM dbsync.syncs WHERE name = 'sc_orders';
SELECT dbsync.schedule('sc_orders', 'tz=Europe/Berlin @weekly') IS NOT NULL AS scheduled;
SELECT schedule FROM dbsync.sync_list WHERE name = 'sc_orders';

-- Bad schedules: the field and the position, and the schedule stays as it was.
SELECT dbsync.schedule('sc_orders', '0 25 * * *');
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', '0 0 30 2 *')$$) AS never_fires;
SELECT schedule FROM dbsync.syncs WHERE name = 'sc_orders';
SELECT cron, regress.try(format('SELECT dbsync.next_runs(%L)', cron)) AS error
  FROM (VALUES (1, ''), (2, '* * * *'), (3, '* * * * * *'), (4, '60 * * * *'),
               (5, '* * 0 * *'), (6, '* * * 13 *'), (7, '* * * * 8'), (8, '*/0 * * * *'),
               (9, '5-1 * * * *'), (10, '1,,2 * * * *'), (11, '0 0 L * *'), (12, '0 0 ? * *'),
               (13, '0 0 * foo *'), (14, '@reboot'), (15, '@sometimes'), (16, '@daily 5'),
               (17, 'TZ=Mars/Olympus 0 0 * * *'), (18, '0 0 31 4,6,9,11 *'),
               (19, '99999999999999999999 * * * *')) AS c(i, cron)
 ORDER BY i;

-- Hostile input: errors, never a crash or a hang.
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', 'x"; DROP TABLE dbsync.syncs; --')$$) AS sql_in_cron;
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', '0 0 * * * ; DROP TABLE dbsync.syncs')$$) AS trailing_sql;
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', 'TZ=../../../etc/passwd 0 0 * * *')$$) AS zone_path;
SELECT regress.try(format('SELECT dbsync.schedule(%L, %L)', 'sc_orders', '0 ' || chr(1) || ' * * *')) AS control_char;
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', 'ünïcödé * * * *')$$) AS non_ascii;
SELECT regress.try(format('SELECT dbsync.schedule(%L, %L)', 'sc_orders', repeat('1,', 3000) || '1 * * * *')) AS too_long;
SELECT regress.try($$SELECT dbsync.schedule('x"; DROP TABLE t; --', '@daily')$$) AS hostile_sync_name;
SELECT count(*) AS syncs_still_there FROM dbsync.syncs WHERE name = 'sc_orders';

-- Unknown syncs, NULLs, next_runs' limits.
SELECT regress.try($$SELECT dbsync.schedule('no_such_sync', '@daily')$$) AS unknown_sync;
SELECT regress.try($$SELECT dbsync.unschedule('no_such_sync')$$) AS unknown_sync;
SELECT regress.try($$SELECT dbsync.schedule(NULL, '@daily')$$) AS null_sync;
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', NULL)$$) AS null_cron;
SELECT regress.try($$SELECT dbsync.next_runs('@daily', -1)$$) AS negative_n;
SELECT regress.try($$SELECT dbsync.next_runs('@daily', 1001)$$) AS too_many;
SELECT regress.try($$SELECT dbsync.next_runs('@daily', 1, 'infinity')$$) AS infinite_after;
SELECT count(*) AS none FROM dbsync.next_runs('@daily', 0, '2024-01-01 00:00+00');
SELECT count(*) AS thousand FROM dbsync.next_runs('* * * * *', 1000, '2024-01-01 00:00+00');
-- Near the end of timestamptz: the runs stop rather than overflow.
SELECT count(*) AS until_the_end FROM dbsync.next_runs('@yearly', 5, '294274-06-01 00:00+00');

-- unschedule: on demand only again.
SELECT dbsync.unschedule('sc_orders');
SELECT schedule IS NULL AS unscheduled, last_scheduled_at IS NULL AS no_anchor
  FROM dbsync.syncs WHERE name = 'sc_orders';
SELECT dbsync.unschedule('sc_orders');

-- Privileges: only superusers and dbsync_admin may schedule.
CREATE ROLE sc_nobody;
SET ROLE sc_nobody;
SELECT regress.try($$SELECT dbsync.schedule('sc_orders', '@daily')$$) AS nobody_schedule;
SELECT regress.try($$SELECT dbsync.unschedule('sc_orders')$$) AS nobody_unschedule;
RESET ROLE;
DROP ROLE sc_nobody;

-- Clean up.
DELETE FROM dbsync.syncs WHERE name = 'sc_orders';
DELETE FROM dbsync.datasources WHERE name = 'sc_master';
