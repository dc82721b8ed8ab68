// Calendar arithmetic, ISO-8601 parsing/formatting and time zones (UTC, fixed offsets and IANA
// names read from the system's TZif files), without the C library's global TZ state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

namespace dbsync {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400LL * kMicrosPerSecond;

// PostgreSQL's special values, kept as the extremes of the engine's own counts so that they
// order (below and above every finite value), compare and hash like any other value.
constexpr int64_t kTimestampMinusInfinity = INT64_MIN;
constexpr int64_t kTimestampInfinity = INT64_MAX;
constexpr int32_t kDateMinusInfinity = INT32_MIN;
constexpr int32_t kDateInfinity = INT32_MAX;
inline bool timestamp_is_finite(int64_t micros) {
  return micros != kTimestampMinusInfinity && micros != kTimestampInfinity;
}
inline bool date_is_finite(int32_t days) {
  return days != kDateMinusInfinity && days != kDateInfinity;
}

// The finite range: PostgreSQL's, from 4714-11-24 BC (Julian day 0). Dates end with
// PostgreSQL's (5874897-12-31); timestamps end at 294247-01-01 (exclusive), where µs since 1970
// run out of 64 bits (PostgreSQL's own count starts in 2000 and reaches 294276-12-31).
constexpr int32_t kMinDate = -2440588;    // 4714-11-24 BC
constexpr int32_t kMaxDate = 2145042905;  // 5874897-12-31
constexpr int64_t kMinTimestampMicros = int64_t{kMinDate} * kMicrosPerDay;
constexpr int64_t kEndTimestampMicros = 106751982LL * kMicrosPerDay;  // 294247-01-01

// Proleptic Gregorian calendar <-> days since 1970-01-01.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t days, int64_t& y, unsigned& m, unsigned& d);

class TimeZone {
 public:
  static std::shared_ptr<const TimeZone> utc();
  // "UTC", "Z", "+02:00", "-0530", or an IANA name such as "Europe/Berlin".
  static Result<std::shared_ptr<const TimeZone>> find(std::string_view name);

  const std::string& name() const { return name_; }
  // Offset from UTC in seconds at the given UTC instant.
  int64_t offset_at_utc(int64_t utc_seconds) const;
  // Offset for a wall-clock time in this zone (for gaps/overlaps the earlier offset wins).
  int64_t offset_for_local(int64_t local_seconds) const;

  int64_t utc_to_local_micros(int64_t utc_micros) const;
  int64_t local_to_utc_micros(int64_t local_micros) const;

 private:
  std::string name_;
  int64_t fixed_offset_ = 0;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int64_t> offsets_;      // offset in force from transitions_[i]
  int64_t initial_offset_ = 0;
  friend struct TimeZoneLoader;
};

// Parses "YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]][ BC]" (also a bare date; years of 4 to
// 7 digits; " BC" as PostgreSQL prints it, also after the zone), and PostgreSQL's special words
// "infinity", "-infinity" and "epoch". Text without a zone is wall-clock time in
// `zone_for_local`. Returns µs since the epoch, UTC. kOutOfRange outside the finite range above.
Result<int64_t> parse_timestamp(std::string_view text, const TimeZone& zone_for_local);
// YYYY-MM-DD[ BC], or a timestamp's text whose date is kept as written (as PostgreSQL's date
// input does), or "infinity", "-infinity", "epoch".
Result<int32_t> parse_date(std::string_view text);
Result<int64_t> parse_time_of_day(std::string_view text);  // HH:MM[:SS[.ffffff]]

// "2024-05-01T10:00:00Z", with ".ffffff" only when the fraction is not zero; "0044-03-15T10:00:00Z
// BC" before year 1; "infinity", "-infinity".
std::string format_timestamp_utc(int64_t micros);
// Wall-clock text "2024-05-01 12:00:00[.ffffff][ BC]" in the given zone (for zoneless targets).
std::string format_timestamp_local(int64_t micros, const TimeZone& zone);
// PostgreSQL's input text for a timestamp column: "2024-05-01 10:00:00[.ffffff][+00][ BC]" (the
// UTC wall clock; "+00" with `with_zone`), "infinity", "-infinity".
std::string format_timestamp_pg(int64_t micros, bool with_zone);
// "2024-05-01", "0044-03-15 BC", "infinity", "-infinity" (PostgreSQL reads all of them).
std::string format_date(int32_t days);
std::string format_time_of_day(int64_t micros);
// strftime-like: %Y %m %d %H %M %S %f(µs) %y %j %a %A %b %B %p %I %z %% over a UTC instant.
std::string format_with_pattern(int64_t micros, std::string_view pattern);

}  // namespace dbsync
