// Cron schedules: the standard five fields (minute hour day-of-month month day-of-week) with
// lists, ranges, steps, month and weekday names and the @ macros, evaluated in a time zone.
//
// Semantics worth knowing:
//  - Day of month and day of week: when both are restricted, a day matches if either matches
//    (Vixie cron). A field counts as unrestricted when it is `*` or `*/n`, as in Vixie cron.
//  - Time zone: `TZ=Europe/Berlin ` (or `CRON_TZ=`) in front of the fields, or a zone given to
//    parse(); UTC otherwise.
//  - Daylight saving time: the fields are wall-clock times in the zone.
//      * A wall-clock time skipped by a spring-forward fires once, at the first instant after the
//        gap (02:30 on a day clocks jump 02:00 -> 03:00 fires at 03:00). Several skipped times
//        collapse into that one firing.
//      * A wall-clock time repeated by a fall-back fires once, at its first occurrence — unless
//        the hour field is `*`: such a schedule ("every n minutes") runs on elapsed time and also
//        fires during the repeated hour, as Vixie cron does.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "engine/status.hpp"
#include "engine/timeutil.hpp"

namespace dbsync {

class CronSchedule {
 public:
  // No fire time (only at the end of the representable range: parse() refuses schedules that
  // can never fire).
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // Errors name the field and the 1-based position in the text:
  //   "field 2 (hour): 25 is out of range 0-23 (position 4)"  (kParseError)
  //   "the schedule never fires: ..."                          (kInvalidArgument)
  static Result<CronSchedule> parse(std::string_view text);
  // The same with a zone used when the text has no TZ= prefix.
  static Result<CronSchedule> parse(std::string_view text,
                                    std::shared_ptr<const TimeZone> default_zone);

  // The first fire time strictly after the instant (µs since the epoch, UTC), at whole minutes.
  int64_t next_after(int64_t utc_micros) const;

  // Normalised text that parses to the same schedule: names become numbers, Sunday is 0, sets
  // are written as `*`, `*/n`, `a-b/n`, ranges and lists; "TZ=<zone> " in front unless UTC.
  std::string canonical() const;

  const TimeZone& zone() const { return *zone_; }

 private:
  struct Field {
    uint64_t bits = 0;  // bit v set: value v allowed
    bool star = false;  // written as `*` or `*/n` (unrestricted for the day-of-month/week rule)
    bool has(int v) const { return (bits >> v) & 1U; }
  };
  enum FieldIndex { kMinute = 0, kHour, kDayOfMonth, kMonth, kDayOfWeek };

  CronSchedule() = default;
  bool day_matches(int64_t days) const;
  // The first wall-clock minute (local seconds) at or after `local` that matches, or kNever.
  int64_t next_local_match(int64_t local) const;
  // The fire instants (UTC seconds) of one matching wall-clock minute; returns how many (1-2).
  int instants_of(int64_t local, int64_t out[2]) const;

  std::array<Field, 5> fields_{};
  std::array<int, 5> steps_{};  // the n of a `*/n` field (for canonical())
  std::shared_ptr<const TimeZone> zone_;
  friend class CronParser;
};

// What the launcher does with one schedule at `now`, given the instant up to which its fire
// times are already handled (the last firing, or when the schedule was set).
struct FireDecision {
  bool fire = false;   // start one run now
  int64_t due = 0;     // when fire: the latest fire time at or before now (the run stands for it)
  int64_t missed = 0;  // fire times in (handled, now] that the one run replaces (capped)
  int64_t next = 0;    // the next fire time after now (or after `handled` when not firing)
};

// Any number of fire times that passed while nobody looked (server down, launcher busy) become
// one run, never a burst: fire is true once, missed counts the others (at most kMaxCountedMisses).
// After firing, the caller records `now` as handled, atomically with queueing the job, so two
// launchers cannot both fire for the same instants. A clock that went backwards (now < handled)
// never fires.
constexpr int64_t kMaxCountedMisses = 10000;
FireDecision decide(const CronSchedule& schedule, int64_t handled_micros, int64_t now_micros);

}  // namespace dbsync
