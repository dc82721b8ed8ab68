#include "engine/timeutil.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace dbsync {
namespace {

constexpr int64_t kHour = 3600;

std::shared_ptr<const TimeZone> zone(std::string_view name) {
  auto z = TimeZone::find(name);
  EXPECT_TRUE(z.is_ok()) << name << ": " << z.status().to_string();
  return z.is_ok() ? *z : TimeZone::utc();
}

int64_t ts(std::string_view text, const TimeZone& local = *TimeZone::utc()) {
  auto r = parse_timestamp(text, local);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : 0;
}

int64_t seconds_of(std::string_view utc_text) { return ts(utc_text) / kMicrosPerSecond; }

TEST(TimeCalendar, KnownDays) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(1, 1, 1), -719162);
  EXPECT_EQ(days_from_civil(2024, 2, 29) + 1, days_from_civil(2024, 3, 1));
  EXPECT_EQ(days_from_civil(2100, 2, 28) + 1, days_from_civil(2100, 3, 1));  // 2100 is not leap
}

TEST(TimeCalendar, RoundTripsEveryDayOfFourCenturies) {
  int64_t first = days_from_civil(1800, 1, 1), last = days_from_civil(2200, 12, 31);
  for (int64_t d = first; d <= last; ++d) {
    int64_t y;
    unsigned m, day;
    civil_from_days(d, y, m, day);
    ASSERT_EQ(days_from_civil(y, m, day), d);
    ASSERT_TRUE(m >= 1 && m <= 12 && day >= 1 && day <= 31);
  }
}

TEST(TimeParse, Timestamps) {
  EXPECT_EQ(ts("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ts("2024-05-01T10:00:00Z"), 1714557600LL * kMicrosPerSecond);
  EXPECT_EQ(ts("2024-05-01 12:00:00+02:00"), ts("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ts("2024-05-01 12:00:00+02"), ts("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ts("2024-05-01 04:30:00-0530"), ts("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ts("2024-05-01 10:00:00 +00:00"), ts("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ts("2024-05-01 10:00"), ts("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ts("2024-05-01"), ts("2024-05-01T00:00:00Z"));
  EXPECT_EQ(ts("2024-05-01T10:00:00.5Z") - ts("2024-05-01T10:00:00Z"), 500000);
  EXPECT_EQ(ts("2024-05-01T10:00:00.1234567Z") - ts("2024-05-01T10:00:00Z"), 123457);  // rounded
  EXPECT_EQ(ts("2024-05-01 24:00:00"), ts("2024-05-02 00:00:00"));
  EXPECT_EQ(ts("1900-01-01T00:00:00Z"), -2208988800LL * kMicrosPerSecond);
}

TEST(TimeParse, RejectsGarbageAndRange) {
  for (const char* bad : {"", "2024", "2024-13-01", "2024-02-30", "2024-05-01 25:00",
                          "2024-05-01 10:60", "2024-05-01X10:00", "2024-05-01 10:00:00+25",
                          "2024-05-01 10:00:00 Mars", "yesterday", "2024-05-01 10:00:00."}) {
    auto r = parse_timestamp(bad, *TimeZone::utc());
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kParseError) << bad;
    }
  }
  // PostgreSQL's range: from 4714-11-24 BC; the engine's timestamps end at 294247-01-01.
  auto too_late = parse_timestamp("294247-01-01 00:00:00", *TimeZone::utc());
  ASSERT_FALSE(too_late.is_ok());
  EXPECT_EQ(too_late.status().code(), ErrorCode::kOutOfRange);
  auto too_early = parse_timestamp("4714-11-24 00:30:00+01:00 BC", *TimeZone::utc());
  ASSERT_FALSE(too_early.is_ok());
  EXPECT_EQ(too_early.status().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(parse_timestamp("0000-01-01 00:00:00", *TimeZone::utc()).status().code(),
            ErrorCode::kOutOfRange);  // there is no year 0
  EXPECT_TRUE(parse_timestamp("4714-11-24 00:00:00+00 BC", *TimeZone::utc()).is_ok());
  EXPECT_TRUE(parse_timestamp("294246-12-31 23:59:59.999999Z", *TimeZone::utc()).is_ok());
  EXPECT_TRUE(parse_timestamp("10000-01-01 00:00:00", *TimeZone::utc()).is_ok());
}

TEST(TimeParse, DatesAndTimes) {
  EXPECT_EQ(*parse_date("2024-05-01"), 19844);
  EXPECT_EQ(*parse_date("1969-12-31"), -1);
  EXPECT_FALSE(parse_date("2023-02-29").is_ok());
  EXPECT_EQ(*parse_date("2024-05-01 23:00:00-05"), 19844);  // the date as written, as PostgreSQL
  EXPECT_FALSE(parse_date("2024-05-01 10:60").is_ok());
  EXPECT_EQ(parse_date("0000-12-31").status().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(*parse_time_of_day("01:02:03"), 3723 * kMicrosPerSecond);
  EXPECT_EQ(*parse_time_of_day("01:02"), 3720 * kMicrosPerSecond);
  EXPECT_EQ(*parse_time_of_day("23:59:59.999999"), kMicrosPerDay - 1);
  EXPECT_EQ(*parse_time_of_day("24:00:00"), kMicrosPerDay);
  EXPECT_FALSE(parse_time_of_day("24:00:01").is_ok());
  EXPECT_FALSE(parse_time_of_day("1:2:3").is_ok());
}

TEST(TimeFormat, Iso) {
  EXPECT_EQ(format_timestamp_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp_utc(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp_utc(ts("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp_utc(ts("2024-05-01T10:00:00.000250Z")), "2024-05-01T10:00:00.000250Z");
  EXPECT_EQ(format_date(19844), "2024-05-01");
  EXPECT_EQ(format_time_of_day(kMicrosPerDay), "24:00:00");
  EXPECT_EQ(format_timestamp_local(ts("2024-05-01T10:00:00Z"), *zone("Europe/Berlin")),
            "2024-05-01 12:00:00");
  EXPECT_EQ(format_timestamp_local(ts("2024-05-01T10:00:00Z"), *zone("-05:30")),
            "2024-05-01 04:30:00");
}

TEST(TimeFormat, Pattern) {
  int64_t t = ts("2024-03-05T14:07:09.012345Z");  // a Tuesday
  EXPECT_EQ(format_with_pattern(t, "%Y-%m-%d %H:%M:%S.%f"), "2024-03-05 14:07:09.012345");
  EXPECT_EQ(format_with_pattern(t, "%y %j %a %A %b %B"), "24 065 Tue Tuesday Mar March");
  EXPECT_EQ(format_with_pattern(t, "%I %p %z %% %Q"), "02 PM +0000 % %Q");
  EXPECT_EQ(format_with_pattern(ts("2024-03-05T00:30:00Z"), "%I%p"), "12AM");
  EXPECT_EQ(format_with_pattern(t, "trailing %"), "trailing %");
}

TEST(TimeZones, FixedOffsets) {
  EXPECT_EQ(zone("UTC")->offset_at_utc(0), 0);
  EXPECT_EQ(zone("Z")->offset_at_utc(0), 0);
  EXPECT_EQ(zone("+02:00")->offset_at_utc(123), 2 * kHour);
  EXPECT_EQ(zone("-0530")->offset_at_utc(0), -(5 * kHour + 30 * 60));
  EXPECT_EQ(zone("+02")->offset_for_local(0), 2 * kHour);
  EXPECT_EQ(TimeZone::find("+25:00").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::find("+02:xx").status().code(), ErrorCode::kInvalidArgument);
}

TEST(TimeZones, RejectsPathsAndUnknownNames) {
  EXPECT_EQ(TimeZone::find("../../etc/passwd").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::find("/etc/localtime").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::find("Europe/../../etc/passwd").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::find("Mars/Olympus_Mons").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(TimeZone::find("").status().code(), ErrorCode::kInvalidArgument);
  // A file that exists but is not TZif.
  auto not_tzif = TimeZone::find("zone.tab");
  EXPECT_FALSE(not_tzif.is_ok());
}

TEST(TimeZones, BerlinAroundDaylightSavingChanges) {
  auto berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  // 2024-03-31 01:00 UTC: clocks go from 02:00 CET to 03:00 CEST.
  int64_t spring = seconds_of("2024-03-31T01:00:00Z");
  EXPECT_EQ(berlin->offset_at_utc(spring - 1), 1 * kHour);
  EXPECT_EQ(berlin->offset_at_utc(spring), 2 * kHour);
  // 2024-10-27 01:00 UTC: back from 03:00 CEST to 02:00 CET.
  int64_t autumn = seconds_of("2024-10-27T01:00:00Z");
  EXPECT_EQ(berlin->offset_at_utc(autumn - 1), 2 * kHour);
  EXPECT_EQ(berlin->offset_at_utc(autumn), 1 * kHour);
  // Wall clock: 02:30 on 2024-03-31 does not exist: the earlier offset (+1) moves it to 03:30.
  EXPECT_EQ(format_timestamp_utc(ts("2024-03-31 02:30:00", *berlin)), "2024-03-31T01:30:00Z");
  // 02:30 on 2024-10-27 happens twice: the earlier offset (+2) wins.
  EXPECT_EQ(format_timestamp_utc(ts("2024-10-27 02:30:00", *berlin)), "2024-10-27T00:30:00Z");
  EXPECT_EQ(format_timestamp_utc(ts("2024-10-27 03:30:00", *berlin)), "2024-10-27T02:30:00Z");
  EXPECT_EQ(format_timestamp_utc(ts("2024-10-27 01:30:00", *berlin)), "2024-10-26T23:30:00Z");
}

TEST(TimeZones, FarFutureFollowsTheRule) {
  // Beyond the transitions stored in the file, the POSIX rule in its footer applies.
  auto berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin->offset_at_utc(seconds_of("2100-07-01T00:00:00Z")), 2 * kHour);
  EXPECT_EQ(berlin->offset_at_utc(seconds_of("2100-12-01T00:00:00Z")), 1 * kHour);
  EXPECT_EQ(berlin->offset_at_utc(seconds_of("9999-07-01T00:00:00Z")), 2 * kHour);
  // Last Sunday of March 2100 is the 28th.
  EXPECT_EQ(berlin->offset_at_utc(seconds_of("2100-03-28T00:59:59Z")), 1 * kHour);
  EXPECT_EQ(berlin->offset_at_utc(seconds_of("2100-03-28T01:00:00Z")), 2 * kHour);
}

TEST(TimeZones, SouthernHemisphereAndHistory) {
  auto sydney = zone("Australia/Sydney");
  EXPECT_EQ(sydney->offset_at_utc(seconds_of("2024-01-15T00:00:00Z")), 11 * kHour);  // summer
  EXPECT_EQ(sydney->offset_at_utc(seconds_of("2024-07-15T00:00:00Z")), 10 * kHour);
  EXPECT_EQ(sydney->offset_at_utc(seconds_of("2200-01-15T00:00:00Z")), 11 * kHour);
  auto new_york = zone("America/New_York");
  EXPECT_EQ(new_york->offset_at_utc(seconds_of("2024-07-04T12:00:00Z")), -4 * kHour);
  EXPECT_EQ(new_york->offset_at_utc(seconds_of("2024-12-25T12:00:00Z")), -5 * kHour);
  auto kolkata = zone("Asia/Kolkata");
  EXPECT_EQ(kolkata->offset_at_utc(seconds_of("2024-01-01T00:00:00Z")), 5 * kHour + 30 * 60);
}

TEST(TimeZones, LocalMicrosConversions) {
  auto berlin = zone("Europe/Berlin");
  int64_t utc = ts("2024-07-01T10:00:00.25Z");
  int64_t local = berlin->utc_to_local_micros(utc);
  EXPECT_EQ(local - utc, 2 * kHour * kMicrosPerSecond);
  EXPECT_EQ(berlin->local_to_utc_micros(local), utc);
  // Negative instants (before 1970) floor correctly.
  int64_t old = ts("1960-01-01T00:00:00.5Z");
  EXPECT_EQ(berlin->local_to_utc_micros(berlin->utc_to_local_micros(old)), old);
}

TEST(TimeZones, CachedAndThreadSafe) {
  std::vector<std::thread> threads;
  std::vector<int64_t> offsets(8, 0);
  for (size_t k = 0; k < offsets.size(); ++k) {
    threads.emplace_back([&offsets, k] {
      auto z = TimeZone::find("America/Sao_Paulo");
      offsets[k] = z.is_ok() ? (*z)->offset_at_utc(1714557600) : 999;
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t o : offsets) EXPECT_EQ(o, -3 * kHour);
  EXPECT_EQ(zone("Europe/Paris").get(), zone("Europe/Paris").get());
}

}  // namespace
}  // namespace dbsync

namespace dbsync {
namespace {

TEST(TimeParse, RandomInputNeverCrashes) {
  const std::string alphabet = "0123456789-:T .Z+zUTC";
  uint64_t state = 88172645463325252ULL;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  auto berlin = TimeZone::find("Europe/Berlin");
  ASSERT_TRUE(berlin.is_ok());
  for (int k = 0; k < 50000; ++k) {
    std::string text = k % 2 ? "2024-" : "";
    size_t length = next() % 28;
    for (size_t c = 0; c < length; ++c) text.push_back(alphabet[next() % alphabet.size()]);
    auto r = parse_timestamp(text, **berlin);
    if (r.is_ok()) {
      // Accepted text round-trips through the formatter.
      ASSERT_EQ(*parse_timestamp(format_timestamp_utc(*r), *TimeZone::utc()), *r) << text;
    } else {
      ASSERT_TRUE(r.status().code() == ErrorCode::kParseError ||
                  r.status().code() == ErrorCode::kOutOfRange)
          << text;
    }
    (void)parse_date(text);
    (void)parse_time_of_day(text);
  }
}

}  // namespace
}  // namespace dbsync
