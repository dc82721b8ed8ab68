// Schedules: dbsync.schedule stores a sync's cron schedule (validated by the engine, kept in its
// canonical text) and marks it handled up to now, so the launcher starts counting from there;
// dbsync.next_runs shows when a schedule fires. dbsync.unschedule is plain SQL (dbsync.sql).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/cron.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/text.hpp"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;

constexpr int64_t kUnixToPostgresMicros =
    static_cast<int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
constexpr int kMaxRuns = 1000;

const char* const kCronHint =
    "A schedule is five fields (minute hour day-of-month month day-of-week) such as "
    "'*/15 * * * *' or '0 3 * * mon-fri', or one of @hourly, @daily, @weekly, @monthly, "
    "@yearly; 'TZ=Europe/Berlin ' in front for a time zone other than UTC.";

CronSchedule parse_schedule(const std::string& text) {
  Result<CronSchedule> r = CronSchedule::parse(text);
  if (!r.is_ok()) {
    const Status& st = r.status();
    bool syntax = st.code() == ErrorCode::kParseError;
    throw PgError(syntax ? ERRCODE_SYNTAX_ERROR : ERRCODE_INVALID_PARAMETER_VALUE,
                  "invalid schedule: " + st.message(), "", syntax ? kCronHint : "");
  }
  return std::move(r).value();
}

// NULL when the fire time is past what a timestamptz holds.
bool to_timestamptz(int64_t unix_micros, TimestampTz& out) {
  if (unix_micros == CronSchedule::kNever) return false;
  out = static_cast<TimestampTz>(unix_micros - kUnixToPostgresMicros);
  return IS_VALID_TIMESTAMP(out);
}

int64_t transaction_start_unix_micros() {
  TimestampTz ts = pg::pg_call([&] { return GetCurrentTransactionStartTimestamp(); });
  return static_cast<int64_t>(ts) + kUnixToPostgresMicros;
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;

// dbsync.schedule(sync text, cron text) RETURNS timestamptz: the next fire time.
DBSYNC_FUNCTION(dbsync_schedule) {
  std::string name = pg::text_arg(fcinfo, 0);
  CronSchedule schedule = ext::parse_schedule(pg::text_arg(fcinfo, 1));
  std::string canonical = schedule.canonical();
  int64_t now = ext::transaction_start_unix_micros();
  pg::spi::Rows r = pg::spi::session([&] {
    return pg::spi::with_safe_search_path([&] {
      return pg::spi::execute(
          "UPDATE dbsync.syncs SET schedule = $2, last_scheduled_at = now(), updated_at = now() "
          "WHERE name = $1 RETURNING id",
          {name, canonical});
    });
  });
  if (r.empty())
    throw pg::PgError(ERRCODE_UNDEFINED_OBJECT, "sync \"" + name + "\" does not exist");
  TimestampTz next;
  if (!ext::to_timestamptz(schedule.next_after(now), next)) PG_RETURN_NULL();
  return TimestampTzGetDatum(next);
}

// dbsync.next_runs(cron text, n integer, after timestamptz) RETURNS SETOF timestamptz.
DBSYNC_FUNCTION(dbsync_next_runs) {
  CronSchedule schedule = ext::parse_schedule(pg::text_arg(fcinfo, 0));
  if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
    throw pg::PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "n and after must not be null");
  int32 n = PG_GETARG_INT32(1);
  if (n < 0 || n > ext::kMaxRuns)
    throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                      "n must be between 0 and " + std::to_string(ext::kMaxRuns));
  TimestampTz after = PG_GETARG_TIMESTAMPTZ(2);
  if (TIMESTAMP_NOT_FINITE(after))
    throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE, "after must be a finite timestamp");
  std::vector<TimestampTz> runs;
  int64_t t = static_cast<int64_t>(after) + ext::kUnixToPostgresMicros;
  for (int i = 0; i < n; ++i) {
    t = schedule.next_after(t);
    TimestampTz ts;
    if (!ext::to_timestamptz(t, ts)) break;
    runs.push_back(ts);
  }

  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  for (TimestampTz ts : runs) {
    pg::pg_call([&] {
      Datum value = TimestampTzGetDatum(ts);
      bool isnull = false;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
    });
  }
  return Datum(0);
}
