#include "engine/cron.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace dbsync {
namespace {

int64_t at(std::string_view utc_text) {
  auto r = parse_timestamp(utc_text, *TimeZone::utc());
  EXPECT_TRUE(r.is_ok()) << utc_text << ": " << r.status().to_string();
  return r.is_ok() ? *r : 0;
}

CronSchedule cron(std::string_view text) {
  auto r = CronSchedule::parse(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : *CronSchedule::parse("* * * * *");
}

std::string canonical(std::string_view text) { return cron(text).canonical(); }

std::string next(std::string_view text, std::string_view after) {
  int64_t n = cron(text).next_after(at(after));
  return n == CronSchedule::kNever ? "never" : format_timestamp_utc(n);
}

// The next n fire times as UTC text.
std::vector<std::string> runs(std::string_view text, std::string_view after, int n) {
  CronSchedule s = cron(text);
  std::vector<std::string> out;
  int64_t t = at(after);
  for (int i = 0; i < n; ++i) {
    t = s.next_after(t);
    out.push_back(format_timestamp_utc(t));
  }
  return out;
}

std::string parse_error(std::string_view text) {
  auto r = CronSchedule::parse(text);
  EXPECT_FALSE(r.is_ok()) << text << " parsed as " << (r.is_ok() ? r->canonical() : "");
  return r.is_ok() ? "" : r.status().message();
}

// ------------------------------------------------------------------------------ syntax

TEST(CronParse, EveryFieldForm) {
  EXPECT_EQ(canonical("* * * * *"), "* * * * *");
  EXPECT_EQ(canonical("1,2,5 * * * *"), "1,2,5 * * * *");
  EXPECT_EQ(canonical("1-5 * * * *"), "1-5 * * * *");
  EXPECT_EQ(canonical("*/15 * * * *"), "*/15 * * * *");
  EXPECT_EQ(canonical("10-50/10 * * * *"), "10-50/10 * * * *");
  EXPECT_EQ(canonical("5/15 * * * *"), "5-50/15 * * * *");  // a start with a step runs to the end
  EXPECT_EQ(canonical("0,15,30,45 * * * *"), "*/15 * * * *");
  EXPECT_EQ(canonical("0-59 0-23 * 1-12 *"), "* * * * *");
  EXPECT_EQ(canonical("1,2,3,7,9 * * * *"), "1-3,7,9 * * * *");
  EXPECT_EQ(canonical("  0\t3   * * *  "), "0 3 * * *");
}

TEST(CronParse, NamesAndSunday) {
  EXPECT_EQ(canonical("0 9 * jan,jul mon-fri"), "0 9 * 1,7 1-5");
  EXPECT_EQ(canonical("0 9 * JAN-Mar MON"), "0 9 * 1-3 1");
  EXPECT_EQ(canonical("0 0 * * sun"), "0 0 * * 0");
  EXPECT_EQ(canonical("0 0 * * 7"), "0 0 * * 0");
  EXPECT_EQ(canonical("0 0 * * 0"), "0 0 * * 0");
  EXPECT_EQ(canonical("0 0 * * 5-7"), "0 0 * * 0,5,6");
  EXPECT_EQ(canonical("0 0 * * 0-7"), "0 0 * * 0-6");  // restricted: keeps the OR rule
  EXPECT_EQ(canonical("0 0 * * sat,sun"), "0 0 * * 0,6");
}

TEST(CronParse, DayFieldsKeepWhetherTheyAreRestricted) {
  EXPECT_EQ(canonical("0 0 1-31 * mon"), "0 0 1-31 * 1");
  EXPECT_EQ(canonical("0 0 */2 * *"), "0 0 */2 * *");
  EXPECT_EQ(canonical("0 0 1-31/2 * *"), "0 0 1-31/2 * *");
  EXPECT_EQ(canonical("0 0 * * */2"), "0 0 * * */2");
}

TEST(CronParse, Macros) {
  EXPECT_EQ(canonical("@hourly"), "0 * * * *");
  EXPECT_EQ(canonical("@daily"), "0 0 * * *");
  EXPECT_EQ(canonical("@midnight"), "0 0 * * *");
  EXPECT_EQ(canonical("@weekly"), "0 0 * * 0");
  EXPECT_EQ(canonical("@monthly"), "0 0 1 * *");
  EXPECT_EQ(canonical("@yearly"), "0 0 1 1 *");
  EXPECT_EQ(canonical("@annually"), "0 0 1 1 *");
  EXPECT_EQ(canonical(" @DAILY "), "0 0 * * *");
  EXPECT_EQ(canonical("TZ=Europe/Berlin @daily"), "TZ=Europe/Berlin 0 0 * * *");
}

TEST(CronParse, TimeZones) {
  EXPECT_EQ(canonical("TZ=Europe/Berlin 0 3 * * *"), "TZ=Europe/Berlin 0 3 * * *");
  EXPECT_EQ(canonical("CRON_TZ=Europe/Berlin 0 3 * * *"), "TZ=Europe/Berlin 0 3 * * *");
  EXPECT_EQ(canonical("TZ=UTC 0 3 * * *"), "0 3 * * *");
  auto berlin = TimeZone::find("Europe/Berlin");
  ASSERT_TRUE(berlin.is_ok());
  auto with_zone = CronSchedule::parse("0 3 * * *", *berlin);
  ASSERT_TRUE(with_zone.is_ok());
  EXPECT_EQ(with_zone->canonical(), "TZ=Europe/Berlin 0 3 * * *");
  // A prefix wins over the argument.
  auto prefixed = CronSchedule::parse("TZ=UTC 0 3 * * *", *berlin);
  ASSERT_TRUE(prefixed.is_ok());
  EXPECT_EQ(prefixed->canonical(), "0 3 * * *");
}

TEST(CronParse, CanonicalTextParsesToTheSameSchedule) {
  for (const char* text :
       {"*/7 1-5,9 */3 jan-jun/2 mon,wed", "0 0 13 * fri", "TZ=Europe/Berlin 30 2 * * *",
        "5/15 */4 1,15 * *", "0 0 * * 5-7", "@weekly", "59 23 31 12 *", "0 12 1-31 * 1-5"}) {
    CronSchedule a = cron(text);
    CronSchedule b = cron(a.canonical());
    EXPECT_EQ(a.canonical(), b.canonical()) << text;
    int64_t t = at("2024-01-01T00:00:00Z");
    for (int i = 0; i < 50; ++i) {
      int64_t na = a.next_after(t);
      ASSERT_EQ(na, b.next_after(t)) << text;
      t = na;
    }
  }
}

// ------------------------------------------------------------------------------ errors

TEST(CronParse, ErrorsNameTheFieldAndPosition) {
  EXPECT_EQ(parse_error("0 25 * * *"), "field 2 (hour): 25 is out of range 0-23 (position 3)");
  EXPECT_EQ(parse_error("60 * * * *"), "field 1 (minute): 60 is out of range 0-59 (position 1)");
  EXPECT_EQ(parse_error("0 0 0 * *"),
            "field 3 (day-of-month): 0 is out of range 1-31 (position 5)");
  EXPECT_EQ(parse_error("0 0 * 13 *"), "field 4 (month): 13 is out of range 1-12 (position 7)");
  EXPECT_EQ(parse_error("0 0 * * 8"), "field 5 (day-of-week): 8 is out of range 0-7 (position 9)");
  EXPECT_EQ(parse_error("0 0 * foo *"), "field 4 (month): unknown name 'foo' (position 7)");
  EXPECT_EQ(parse_error("0 0 * Foo *"), "field 4 (month): unknown name 'Foo' (position 7)");
  EXPECT_EQ(parse_error("mon * * * *"),
            "field 1 (minute): names are not allowed here ('mon') (position 1)");
  EXPECT_EQ(parse_error("*/0 * * * *"),
            "field 1 (minute): step 0 is out of range 1-60 (position 3)");
  EXPECT_EQ(parse_error("* */25 * * *"),
            "field 2 (hour): step 25 is out of range 1-24 (position 5)");
  EXPECT_EQ(parse_error("5-1 * * * *"), "field 1 (minute): range 5-1 goes backwards (position 3)");
  EXPECT_EQ(parse_error("1,,2 * * * *"), "field 1 (minute): empty list element (position 3)");
  EXPECT_EQ(parse_error("1, * * * *"), "field 1 (minute): empty list element (position 3)");
  EXPECT_EQ(parse_error("1- * * * *"), "field 1 (minute): a value is missing (position 3)");
  EXPECT_EQ(parse_error("*/ * * * *"),
            "field 1 (minute): a step needs a number after '/' (position 3)");
  EXPECT_EQ(parse_error("0 0 ? * *"),
            "field 3 (day-of-month): unexpected character '?' (position 5)");
  EXPECT_EQ(parse_error("0 0 1L * *"),
            "field 3 (day-of-month): unexpected character 'L' (position 6)");
  EXPECT_EQ(parse_error("0 0 * * 1#2"),
            "field 5 (day-of-week): unexpected character '#' (position 10)");
  EXPECT_EQ(parse_error("99999999999999999999 * * * *"),
            "field 1 (minute): 99999999999999999999 is out of range 0-59 (position 1)");
  EXPECT_EQ(parse_error("0 \x01 * * *"),
            "field 2 (hour): unexpected character '\\x01' (position 3)");
}

TEST(CronParse, WrongNumberOfFields) {
  EXPECT_EQ(parse_error(""),
            "expected 5 fields (minute hour day-of-month month day-of-week), found 0");
  EXPECT_EQ(parse_error("* * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), found 4");
  EXPECT_EQ(parse_error("* * * * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), found more: "
            "unexpected '*' (position 11)");
  EXPECT_EQ(parse_error("* * * * * /bin/backup"),
            "expected 5 fields (minute hour day-of-month month day-of-week), found more: "
            "unexpected '/bin/backup' (position 11)");
}

TEST(CronParse, MacroAndZoneErrors) {
  EXPECT_EQ(parse_error("@reboot"), "@reboot is not supported (position 1)");
  EXPECT_EQ(parse_error("@often"),
            "unknown macro '@often' (expected @hourly, @daily, @midnight, @weekly, @monthly, "
            "@yearly or @annually; position 1)");
  EXPECT_EQ(parse_error("@daily 5"), "unexpected '5' after @daily (position 8)");
  EXPECT_EQ(parse_error("TZ=Mars/Olympus 0 0 * * *"),
            "unknown time zone 'Mars/Olympus' (position 4)");
  EXPECT_EQ(parse_error("TZ=../../etc/passwd 0 0 * * *"),
            "unknown time zone '../../etc/passwd' (position 4)");
  EXPECT_EQ(parse_error("TZ= 0 0 * * *"), "TZ= needs a time zone name (position 4)");
  EXPECT_EQ(parse_error(std::string(1001, '*')), "the schedule is longer than 1000 characters");
}

TEST(CronParse, SchedulesThatNeverFireAreRefused) {
  for (const char* text : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 feb *", "0 0 30,31 2 *"}) {
    auto r = CronSchedule::parse(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find("never fires"), std::string::npos) << text;
  }
  // With a restricted day of week too, either day field matching is enough.
  EXPECT_EQ(next("0 0 30 2 mon", "2024-02-01T00:00:00Z"), "2024-02-05T00:00:00Z");
  EXPECT_EQ(parse_error("0 0 parse 2 *"),
            "field 3 (day-of-month): names are not allowed here "
            "('parse') (position 5)");
}

// ------------------------------------------------------------------------------ next_after

TEST(CronNext, StrictlyAfterAtMinuteResolution) {
  EXPECT_EQ(next("0 * * * *", "2024-05-01T10:00:00Z"), "2024-05-01T11:00:00Z");
  EXPECT_EQ(next("0 * * * *", "2024-05-01T09:59:59.999999Z"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(next("0 * * * *", "2024-05-01T10:00:00.000001Z"), "2024-05-01T11:00:00Z");
  EXPECT_EQ(next("* * * * *", "2024-05-01T10:00:30Z"), "2024-05-01T10:01:00Z");
  EXPECT_EQ(next("*/15 * * * *", "2024-05-01T10:07:30Z"), "2024-05-01T10:15:00Z");
  EXPECT_EQ(next("10-50/10 * * * *", "2024-05-01T10:50:00Z"), "2024-05-01T11:10:00Z");
  EXPECT_EQ(next("1,2,5 * * * *", "2024-05-01T10:02:00Z"), "2024-05-01T10:05:00Z");
  EXPECT_EQ(next("0 0 * * *", "1969-12-31T12:00:00Z"), "1970-01-01T00:00:00Z");
}

TEST(CronNext, MonthAndYearEnds) {
  EXPECT_EQ(next("0 0 1 * *", "2024-01-31T12:00:00Z"), "2024-02-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 * *", "2024-12-31T23:59:00Z"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(next("59 23 31 12 *", "2024-12-31T23:59:00Z"), "2025-12-31T23:59:00Z");
  EXPECT_EQ(next("0 0 31 * *", "2024-04-01T00:00:00Z"), "2024-05-31T00:00:00Z");
  EXPECT_EQ(runs("0 0 31 * *", "2024-01-31T00:00:00Z", 3),
            (std::vector<std::string>{"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z",
                                      "2024-07-31T00:00:00Z"}));
  EXPECT_EQ(next("@yearly", "2024-06-01T00:00:00Z"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(next("0 12 * jun *", "2024-07-01T00:00:00Z"), "2025-06-01T12:00:00Z");
}

TEST(CronNext, LeapYears) {
  EXPECT_EQ(next("0 0 29 2 *", "2024-01-01T00:00:00Z"), "2024-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2024-02-29T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");  // 2100 is not
  EXPECT_EQ(next("0 0 29 2 *", "1999-03-01T00:00:00Z"), "2000-02-29T00:00:00Z");  // 2000 is
  // Feb 29th that is also a Sunday (day of week `*/2` counts as unrestricted: both must match).
  EXPECT_EQ(next("0 0 29 2 */7", "2024-03-01T00:00:00Z"), "2032-02-29T00:00:00Z");
}

TEST(CronNext, DayOfMonthOrDayOfWeek) {
  // Both restricted: the 13th or any Friday.
  EXPECT_EQ(runs("0 0 13 * fri", "2024-09-01T00:00:00Z", 5),
            (std::vector<std::string>{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z",
                                      "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z",
                                      "2024-10-04T00:00:00Z"}));
  EXPECT_EQ(runs("0 0 1,15 * mon", "2024-09-30T12:00:00Z", 3),
            (std::vector<std::string>{"2024-10-01T00:00:00Z", "2024-10-07T00:00:00Z",
                                      "2024-10-14T00:00:00Z"}));
  // One of them `*` or `*/n`: both must match (odd days that are Fridays).
  EXPECT_EQ(runs("0 0 */2 * fri", "2024-09-01T00:00:00Z", 2),
            (std::vector<std::string>{"2024-09-13T00:00:00Z", "2024-09-27T00:00:00Z"}));
  EXPECT_EQ(next("0 0 * * 1-5", "2024-09-06T12:00:00Z"), "2024-09-09T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", "2024-09-06T12:00:00Z"), "2024-09-08T00:00:00Z");
  EXPECT_EQ(next("@weekly", "2024-09-06T12:00:00Z"), "2024-09-08T00:00:00Z");
  // A restricted day of month that matches every day still makes the OR rule apply.
  EXPECT_EQ(next("0 0 1-31 * mon", "2024-09-06T12:00:00Z"), "2024-09-07T00:00:00Z");
}

TEST(CronNext, WallClockOfTheZone) {
  EXPECT_EQ(next("TZ=Europe/Berlin 0 3 * * *", "2024-07-01T00:00:00Z"), "2024-07-01T01:00:00Z");
  EXPECT_EQ(next("TZ=Europe/Berlin 0 3 * * *", "2024-01-10T00:00:00Z"), "2024-01-10T02:00:00Z");
  EXPECT_EQ(next("TZ=America/New_York 0 9 * * mon-fri", "2024-09-06T14:00:00Z"),
            "2024-09-09T13:00:00Z");
  EXPECT_EQ(next("TZ=+05:30 0 0 * * *", "2024-09-06T00:00:00Z"), "2024-09-06T18:30:00Z");
}

// Europe/Berlin 2024: 2024-03-31 02:00 CET -> 03:00 CEST (01:00Z); 2024-10-27 03:00 CEST ->
// 02:00 CET (01:00Z).
TEST(CronNext, SpringForwardFiresOnceAfterTheGap) {
  EXPECT_EQ(runs("TZ=Europe/Berlin 30 2 * * *", "2024-03-30T12:00:00Z", 2),
            (std::vector<std::string>{"2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"}));
  // Every quarter hour: the skipped 02:00-02:45 collapse into one firing at 03:00 CEST.
  EXPECT_EQ(runs("TZ=Europe/Berlin */15 * * * *", "2024-03-31T00:40:00Z", 3),
            (std::vector<std::string>{"2024-03-31T00:45:00Z", "2024-03-31T01:00:00Z",
                                      "2024-03-31T01:15:00Z"}));
  // 03:00 itself exists: one firing, not two.
  EXPECT_EQ(runs("TZ=Europe/Berlin 0,30 2,3 * * *", "2024-03-31T00:00:00Z", 3),
            (std::vector<std::string>{"2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z",
                                      "2024-04-01T00:00:00Z"}));
}

TEST(CronNext, FallBackFiresOnceForAFixedHour) {
  EXPECT_EQ(runs("TZ=Europe/Berlin 30 2 * * *", "2024-10-26T12:00:00Z", 2),
            (std::vector<std::string>{"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"}));
  EXPECT_EQ(runs("TZ=Europe/Berlin 0 2 * * *", "2024-10-26T12:00:00Z", 2),
            (std::vector<std::string>{"2024-10-27T00:00:00Z", "2024-10-28T01:00:00Z"}));
  // Asked from inside the repeated hour, after the first occurrence: tomorrow.
  EXPECT_EQ(next("TZ=Europe/Berlin 30 2 * * *", "2024-10-27T01:10:00Z"), "2024-10-28T01:30:00Z");
}

TEST(CronNext, FallBackEveryHourRunsOnElapsedTime) {
  EXPECT_EQ(runs("TZ=Europe/Berlin 30 * * * *", "2024-10-26T23:00:00Z", 4),
            (std::vector<std::string>{"2024-10-26T23:30:00Z", "2024-10-27T00:30:00Z",
                                      "2024-10-27T01:30:00Z", "2024-10-27T02:30:00Z"}));
  // Every minute across both transitions: always exactly one minute apart.
  for (const char* from : {"2024-03-30T22:00:00Z", "2024-10-26T22:00:00Z"}) {
    CronSchedule s = cron("TZ=Europe/Berlin * * * * *");
    int64_t t = at(from);
    for (int i = 0; i < 600; ++i) {
      int64_t n = s.next_after(t);
      ASSERT_EQ(n - t, 60 * kMicrosPerSecond) << format_timestamp_utc(t);
      t = n;
    }
  }
}

// A minute-by-minute reference for UTC schedules.
bool matches_utc(const std::vector<std::vector<bool>>& f, bool dom_star, bool dow_star,
                 int64_t seconds) {
  int64_t days = seconds / 86400;
  int64_t of_day = seconds % 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  int dow = static_cast<int>((days + 4) % 7);
  if (!f[0][of_day % 3600 / 60] || !f[1][of_day / 3600] || !f[3][m]) return false;
  bool dom = f[2][d], wd = f[4][dow];
  return dom_star || dow_star ? dom && wd : dom || wd;
}

TEST(CronNext, AgreesWithAMinuteByMinuteScan) {
  std::mt19937 rng(7);
  const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 6};
  int compared = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<std::vector<bool>> f(5, std::vector<bool>(64, false));
    std::string text;
    bool star[5];
    for (int i = 0; i < 5; ++i) {
      int kind = static_cast<int>(rng() % 4);
      star[i] = kind == 0;
      std::string field;
      if (kind == 0) {
        for (int v = lo[i]; v <= hi[i]; ++v) f[i][v] = true;
        field = "*";
      } else if (kind == 1) {
        int a = lo[i] + static_cast<int>(rng() % (hi[i] - lo[i] + 1));
        int b = a + static_cast<int>(rng() % (hi[i] - a + 1));
        int step = 1 + static_cast<int>(rng() % 4);
        for (int v = a; v <= b; v += step) f[i][v] = true;
        field = std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(step);
      } else {
        int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k) {
          int v = lo[i] + static_cast<int>(rng() % (hi[i] - lo[i] + 1));
          f[i][v] = true;
          field += (k ? "," : "") + std::to_string(v);
        }
      }
      text += (i ? " " : "") + field;
    }
    auto parsed = CronSchedule::parse(text);
    if (!parsed.is_ok()) {
      ASSERT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << text;
      continue;
    }
    int64_t start = at("2023-01-01T00:00:00Z") / kMicrosPerSecond +
                    static_cast<int64_t>(rng() % (3 * 365 * 86400));
    int64_t expected = -1;
    for (int64_t s = (start / 60 + 1) * 60; s < start + 120 * 86400; s += 60) {
      if (matches_utc(f, star[2], star[4], s)) {
        expected = s;
        break;
      }
    }
    int64_t got = parsed->next_after(start * kMicrosPerSecond);
    if (expected >= 0) {
      ++compared;
      ASSERT_EQ(got, expected * kMicrosPerSecond) << text << " after " << start;
    } else {
      ASSERT_GT(got, (start + 120 * 86400) * kMicrosPerSecond) << text;
    }
  }
  EXPECT_GT(compared, 200);
}

TEST(CronNext, GarbageNeverCrashesOrHangs) {
  std::mt19937 rng(42);
  const std::string alphabet = "0123456789*/,- \t@abcdefjmnorstuwyTZ=LW#?";
  int parsed = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) {
      text += round % 5 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    if (round % 3 == 0) text = std::to_string(rng() % 70) + " " + text;  // nearer to valid
    auto r = CronSchedule::parse(text);
    if (!r.is_ok()) {
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    ++parsed;
    int64_t t = at("2024-03-31T00:00:00Z") + static_cast<int64_t>(rng() % 1000000) * 1000000;
    int64_t n = r->next_after(t);
    EXPECT_GT(n, t) << text;
    auto again = CronSchedule::parse(r->canonical());
    ASSERT_TRUE(again.is_ok()) << text << " -> " << r->canonical();
    EXPECT_EQ(again->canonical(), r->canonical());
    EXPECT_EQ(again->next_after(t), n) << text;
  }
  // Five fields of plausible pieces with random numbers, sometimes mutated.
  const unsigned top[5] = {62, 26, 33, 14, 9};  // a little past each field's range
  int field = 0;
  auto number = [&] { return std::to_string(rng() % top[field]); };
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    for (int i = 0; i < 5; ++i) {
      field = i;
      if (i) text += ' ';
      switch (rng() % 6) {
        case 0:
          text += "*";
          break;
        case 1:
          text += "*/" + number();
          break;
        case 2:
          text += number();
          break;
        case 3:
          text += number() + "-" + number();
          break;
        case 4:
          text += number() + "," + number();
          break;
        default:
          text += number() + "-" + number() + "/" + number();
          break;
      }
    }
    if (rng() % 4 == 0) text[rng() % text.size()] = "*/,- 9x"[rng() % 7];
    if (rng() % 4 == 0) text = "TZ=Europe/Berlin " + text;
    auto r = CronSchedule::parse(text);
    if (!r.is_ok()) continue;
    ++parsed;
    int64_t t = at("2024-10-27T00:00:00Z") + static_cast<int64_t>(rng() % 100000) * 60000000;
    int64_t n = r->next_after(t);
    EXPECT_GT(n, t) << text;
    auto again = CronSchedule::parse(r->canonical());
    ASSERT_TRUE(again.is_ok()) << text << " -> " << r->canonical();
    EXPECT_EQ(again->canonical(), r->canonical()) << text;
    EXPECT_EQ(again->next_after(t), n) << text;
  }
  EXPECT_GT(parsed, 50);
}

TEST(CronNext, EndOfTime) {
  EXPECT_EQ(cron("* * * * *").next_after(std::numeric_limits<int64_t>::max()),
            CronSchedule::kNever);
  EXPECT_GT(cron("* * * * *").next_after(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int64_t>::min());
}

// ------------------------------------------------------------------------------ decide

TEST(CronDecide, NothingDueYet) {
  FireDecision d =
      decide(cron("0 * * * *"), at("2024-05-01T10:00:00Z"), at("2024-05-01T10:30:00Z"));
  EXPECT_FALSE(d.fire);
  EXPECT_EQ(d.missed, 0);
  EXPECT_EQ(format_timestamp_utc(d.next), "2024-05-01T11:00:00Z");
}

TEST(CronDecide, OneDue) {
  FireDecision d =
      decide(cron("0 * * * *"), at("2024-05-01T10:00:00Z"), at("2024-05-01T11:00:00Z"));
  EXPECT_TRUE(d.fire);
  EXPECT_EQ(d.missed, 0);
  EXPECT_EQ(format_timestamp_utc(d.due), "2024-05-01T11:00:00Z");
  EXPECT_EQ(format_timestamp_utc(d.next), "2024-05-01T12:00:00Z");
}

TEST(CronDecide, ManyMissedBecomeOneRun) {
  CronSchedule s = cron("0 * * * *");
  FireDecision d = decide(s, at("2024-05-01T10:00:00Z"), at("2024-05-01T15:30:00Z"));
  EXPECT_TRUE(d.fire);
  EXPECT_EQ(d.missed, 4);  // 11:00..15:00 are five fire times: one run, four missed
  EXPECT_EQ(format_timestamp_utc(d.due), "2024-05-01T15:00:00Z");
  EXPECT_EQ(format_timestamp_utc(d.next), "2024-05-01T16:00:00Z");
  // Recorded as handled up to now: asked again at once, nothing fires (no double run).
  FireDecision again = decide(s, at("2024-05-01T15:30:00Z"), at("2024-05-01T15:30:00Z"));
  EXPECT_FALSE(again.fire);
  EXPECT_EQ(format_timestamp_utc(again.next), "2024-05-01T16:00:00Z");
}

TEST(CronDecide, LongOutageIsCappedAndStillOneRun) {
  FireDecision d =
      decide(cron("* * * * *"), at("2023-05-01T10:00:00Z"), at("2024-05-01T10:00:30Z"));
  EXPECT_TRUE(d.fire);
  EXPECT_EQ(d.missed, kMaxCountedMisses);
  EXPECT_EQ(format_timestamp_utc(d.due), "2024-05-01T10:00:00Z");
  EXPECT_EQ(format_timestamp_utc(d.next), "2024-05-01T10:01:00Z");
}

TEST(CronDecide, ClockWentBackwards) {
  FireDecision d =
      decide(cron("* * * * *"), at("2024-05-01T10:00:00Z"), at("2024-05-01T09:00:00Z"));
  EXPECT_FALSE(d.fire);
  EXPECT_EQ(format_timestamp_utc(d.next), "2024-05-01T10:01:00Z");
}

TEST(CronDecide, AcrossTheFallBack) {
  // A 02:30 job whose launcher was down over the night of the change: one run, nothing missed.
  FireDecision d = decide(cron("TZ=Europe/Berlin 30 2 * * *"), at("2024-10-26T12:00:00Z"),
                          at("2024-10-27T06:00:00Z"));
  EXPECT_TRUE(d.fire);
  EXPECT_EQ(d.missed, 0);
  EXPECT_EQ(format_timestamp_utc(d.due), "2024-10-27T00:30:00Z");
}

}  // namespace
}  // namespace dbsync
