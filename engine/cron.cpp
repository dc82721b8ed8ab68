#include "engine/cron.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace dbsync {
namespace {

constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerDay = 86400;
// The Gregorian calendar repeats every 400 years: a schedule that fires at all fires within them.
constexpr int64_t kSearchDays = 146097;
constexpr size_t kMaxTextLength = 1000;
// Fire times beyond this (in seconds) would overflow µs.
constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / kMicrosPerSecond - 1;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct FieldSpec {
  const char* name;
  int min;
  int max;  // largest value written (7 for Sunday in day-of-week)
  const char* const* names;
  int first_named;  // the value of names[0]
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                                       "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

constexpr FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr, 0},           {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},     {"month", 1, 12, kMonthNames, 1},
    {"day-of-week", 0, 7, kWeekdayNames, 0},
};

// The highest value a field really has (day-of-week 7 is folded into 0).
int field_top(int index) { return index == 4 ? 6 : kFields[index].max; }

constexpr int kDaysInMonthMax[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

// A character for an error message: printable ASCII as is, anything else as \xNN.
std::string show_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  const char* hex = "0123456789abcdef";
  return std::string("'\\x") + hex[u >> 4] + hex[u & 15] + "'";
}

std::string show_text(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      std::string shown = show_char(c);
      out += shown.substr(1, shown.size() - 2);
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

// Reads the text left to right; positions in errors are 1-based.
class CronParser {
 public:
  explicit CronParser(std::string_view text) : text_(text) {}

  Result<CronSchedule> parse(std::shared_ptr<const TimeZone> zone) {
    if (text_.size() > kMaxTextLength)
      return Status(ErrorCode::kParseError, "the schedule is longer than " +
                                                std::to_string(kMaxTextLength) + " characters");
    CronSchedule s;
    skip_spaces();
    DBSYNC_RETURN_IF_ERROR(parse_zone_prefix(zone));
    s.zone_ = zone ? zone : TimeZone::utc();
    if (pos_ < text_.size() && text_[pos_] == '@') {
      DBSYNC_RETURN_IF_ERROR(parse_macro(s));
    } else {
      for (int i = 0; i < 5; ++i) {
        skip_spaces();
        if (pos_ >= text_.size())
          return Status(ErrorCode::kParseError,
                        "expected 5 fields (minute hour day-of-month month day-of-week), found " +
                            std::to_string(i));
        DBSYNC_RETURN_IF_ERROR(parse_field(i, s));
        if (pos_ < text_.size() && !is_space(text_[pos_]))
          return field_error(i, "unexpected character " + show_char(text_[pos_]), pos_);
      }
      skip_spaces();
      if (pos_ < text_.size())
        return Status(ErrorCode::kParseError,
                      "expected 5 fields (minute hour day-of-month month day-of-week), found more: "
                      "unexpected '" +
                          show_text(text_.substr(pos_)) + "' (position " +
                          std::to_string(pos_ + 1) + ")");
    }
    DBSYNC_RETURN_IF_ERROR(check_fires(s));
    return s;
  }

 private:
  Status field_error(int i, const std::string& what, size_t at) const {
    return Status(ErrorCode::kParseError, "field " + std::to_string(i + 1) + " (" +
                                              kFields[i].name + "): " + what + " (position " +
                                              std::to_string(at + 1) + ")");
  }

  void skip_spaces() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  Status parse_zone_prefix(std::shared_ptr<const TimeZone>& zone) {
    size_t prefix = 0;
    auto starts = [&](std::string_view p) {
      if (text_.size() - pos_ < p.size()) return false;
      for (size_t i = 0; i < p.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(text_[pos_ + i])) != p[i]) return false;
      return true;
    };
    if (starts("TZ=")) {
      prefix = 3;
    } else if (starts("CRON_TZ=")) {
      prefix = 8;
    } else {
      return Status::ok();
    }
    size_t start = pos_ + prefix;
    size_t end = start;
    while (end < text_.size() && !is_space(text_[end])) ++end;
    std::string_view name = text_.substr(start, end - start);
    if (name.empty())
      return Status(ErrorCode::kParseError,
                    "TZ= needs a time zone name (position " + std::to_string(start + 1) + ")");
    auto found = TimeZone::find(name);
    if (!found.is_ok())
      return Status(ErrorCode::kParseError, "unknown time zone '" + show_text(name) +
                                                "' (position " + std::to_string(start + 1) + ")");
    zone = *found;
    pos_ = end;
    skip_spaces();
    return Status::ok();
  }

  Status parse_macro(CronSchedule& s) {
    size_t start = pos_;
    size_t end = pos_ + 1;
    while (end < text_.size() && !is_space(text_[end])) ++end;
    std::string word(text_.substr(start, end - start));
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const char* fields = nullptr;
    if (word == "@yearly" || word == "@annually") {
      fields = "0 0 1 1 *";
    } else if (word == "@monthly") {
      fields = "0 0 1 * *";
    } else if (word == "@weekly") {
      fields = "0 0 * * 0";
    } else if (word == "@daily" || word == "@midnight") {
      fields = "0 0 * * *";
    } else if (word == "@hourly") {
      fields = "0 * * * *";
    } else if (word == "@reboot") {
      return Status(ErrorCode::kParseError, "@reboot is not supported (position 1)");
    } else {
      return Status(ErrorCode::kParseError, "unknown macro '" + show_text(word) +
                                                "' (expected @hourly, @daily, @midnight, "
                                                "@weekly, @monthly, @yearly or @annually; "
                                                "position " +
                                                std::to_string(start + 1) + ")");
    }
    pos_ = end;
    skip_spaces();
    if (pos_ < text_.size())
      return Status(ErrorCode::kParseError, "unexpected '" + show_text(text_.substr(pos_)) +
                                                "' after " + word + " (position " +
                                                std::to_string(pos_ + 1) + ")");
    CronParser inner(fields);
    for (int i = 0; i < 5; ++i) {
      inner.skip_spaces();
      DBSYNC_RETURN_IF_ERROR(inner.parse_field(i, s));
    }
    return Status::ok();
  }

  // A number or (month, day-of-week) a name. `at` is where it starts.
  Status read_value(int i, int& value) {
    size_t at = pos_;
    if (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      int64_t v = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (v < 1000000) v = v * 10 + (text_[pos_] - '0');
        ++pos_;
      }
      if (v < kFields[i].min || v > kFields[i].max)
        return field_error(i,
                           show_text(text_.substr(at, pos_ - at)) + " is out of range " +
                               std::to_string(kFields[i].min) + "-" +
                               std::to_string(kFields[i].max),
                           at);
      value = static_cast<int>(v);
      return Status::ok();
    }
    if (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) {
      while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      std::string word(text_.substr(at, pos_ - at));
      for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (kFields[i].names)
        for (int k = 0; kFields[i].names[k]; ++k)
          if (word == kFields[i].names[k]) {
            value = kFields[i].first_named + k;
            return Status::ok();
          }
      std::string written = show_text(text_.substr(at, pos_ - at));
      return field_error(i,
                         kFields[i].names ? "unknown name '" + written + "'"
                                          : "names are not allowed here ('" + written + "')",
                         at);
    }
    if (pos_ >= text_.size() || is_space(text_[pos_]))
      return field_error(i, "a value is missing", pos_);
    return field_error(i, "unexpected character " + show_char(text_[pos_]), pos_);
  }

  Status parse_field(int i, CronSchedule& s) {
    CronSchedule::Field& f = s.fields_[i];
    int elements = 0;
    bool lone_star = false;
    int star_step = 1;
    for (;;) {
      ++elements;
      int lo, hi, step = 1;
      bool star = false, ranged = false;
      size_t element_start = pos_;
      if (pos_ < text_.size() && text_[pos_] == '*') {
        star = true;
        ++pos_;
        lo = kFields[i].min;
        hi = field_top(i);
      } else {
        DBSYNC_RETURN_IF_ERROR(read_value(i, lo));
        hi = lo;
        if (pos_ < text_.size() && text_[pos_] == '-') {
          ranged = true;
          ++pos_;
          size_t hi_at = pos_;
          DBSYNC_RETURN_IF_ERROR(read_value(i, hi));
          if (hi < lo)
            return field_error(i,
                               "range " +
                                   show_text(text_.substr(element_start, pos_ - element_start)) +
                                   " goes backwards",
                               hi_at);
        }
      }
      if (pos_ < text_.size() && text_[pos_] == '/') {
        ++pos_;
        size_t step_at = pos_;
        if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_])))
          return field_error(i, "a step needs a number after '/'", pos_);
        int64_t v = 0;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
          if (v < 1000000) v = v * 10 + (text_[pos_] - '0');
          ++pos_;
        }
        int span = field_top(i) - kFields[i].min + 1;
        if (v < 1 || v > span)
          return field_error(i,
                             "step " + show_text(text_.substr(step_at, pos_ - step_at)) +
                                 " is out of range 1-" + std::to_string(span),
                             step_at);
        step = static_cast<int>(v);
        if (!star && !ranged) hi = kFields[i].max;  // "5/15": from 5 to the end
      }
      for (int v = lo; v <= hi; v += step) f.bits |= uint64_t{1} << (i == 4 && v == 7 ? 0 : v);
      if (star) {
        lone_star = true;
        star_step = step;
      }
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        if (pos_ >= text_.size() || is_space(text_[pos_]) || text_[pos_] == ',')
          return field_error(i, "empty list element", pos_);
        continue;
      }
      break;
    }
    f.star = lone_star && elements == 1;
    s.steps_[i] = f.star ? star_step : 0;
    return Status::ok();
  }

  // Refuses day and month combinations that never exist ("0 0 30 2 *"). With both day fields
  // restricted either one matching is enough, and every weekday occurs in every month.
  static Status check_fires(const CronSchedule& s) {
    const auto& dom = s.fields_[2];
    const auto& dow = s.fields_[4];
    if (!dom.star && !dow.star) return Status::ok();
    for (int m = 1; m <= 12; ++m) {
      if (!s.fields_[3].has(m)) continue;
      for (int d = 1; d <= kDaysInMonthMax[m]; ++d)
        if (dom.has(d)) return Status::ok();
    }
    return Status(ErrorCode::kInvalidArgument,
                  "the schedule never fires: no month it names has the days of month it names");
  }

  std::string_view text_;
  size_t pos_ = 0;
};

Result<CronSchedule> CronSchedule::parse(std::string_view text) { return parse(text, nullptr); }

Result<CronSchedule> CronSchedule::parse(std::string_view text,
                                         std::shared_ptr<const TimeZone> default_zone) {
  return CronParser(text).parse(std::move(default_zone));
}

bool CronSchedule::day_matches(int64_t days) const {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (!fields_[kMonth].has(static_cast<int>(m))) return false;
  int dow = static_cast<int>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  bool dom_ok = fields_[kDayOfMonth].has(static_cast<int>(d));
  bool dow_ok = fields_[kDayOfWeek].has(dow);
  if (fields_[kDayOfMonth].star || fields_[kDayOfWeek].star) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

int64_t CronSchedule::next_local_match(int64_t local) const {
  int64_t days = floor_div(local, kSecondsPerDay);
  int64_t of_day = local - days * kSecondsPerDay;
  int hour = static_cast<int>(of_day / 3600);
  int minute = static_cast<int>((of_day % 3600 + 59) / 60);  // round up to a whole minute
  if (minute == 60) {
    minute = 0;
    ++hour;
  }
  int64_t last_day = days + kSearchDays;
  while (days <= last_day) {
    int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    if (!fields_[kMonth].has(static_cast<int>(m))) {
      days = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
      hour = minute = 0;
      continue;
    }
    if (day_matches(days)) {
      for (int h = hour; h < 24; ++h) {
        if (!fields_[kHour].has(h)) continue;
        uint64_t minutes = fields_[kMinute].bits >> (h == hour ? minute : 0);
        if (minutes == 0) continue;
        int mm = std::countr_zero(minutes) + (h == hour ? minute : 0);
        return days * kSecondsPerDay + h * 3600 + mm * kSecondsPerMinute;
      }
    }
    ++days;
    hour = minute = 0;
  }
  return kNever;
}

int CronSchedule::instants_of(int64_t local, int64_t out[2]) const {
  const TimeZone& z = *zone_;
  // The offsets a day before and a day after bracket any single transition.
  int64_t o1 = z.offset_at_utc(local - kSecondsPerDay);
  int64_t o2 = z.offset_at_utc(local + kSecondsPerDay);
  bool v1 = z.offset_at_utc(local - o1) == o1;
  bool v2 = z.offset_at_utc(local - o2) == o2;
  if (o1 == o2 || (v1 && !v2) || (!v1 && v2)) {
    out[0] = local - (v1 || o1 == o2 ? o1 : o2);
    return 1;
  }
  if (v1 && v2) {  // a fall-back repeats this wall-clock time
    out[0] = local - std::max(o1, o2);
    if (!fields_[kHour].star) return 1;
    out[1] = local - std::min(o1, o2);
    return 2;
  }
  // A spring-forward skipped this wall-clock time: the first instant after the gap, i.e. the
  // first second whose wall-clock time is past `local`.
  int64_t lo = local - std::max(o1, o2);
  int64_t hi = local - std::min(o1, o2);
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (mid + z.offset_at_utc(mid) > local) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  out[0] = floor_div(lo + kSecondsPerMinute - 1, kSecondsPerMinute) * kSecondsPerMinute;
  return 1;
}

int64_t CronSchedule::next_after(int64_t utc_micros) const {
  const TimeZone& z = *zone_;
  int64_t after = floor_div(utc_micros, kMicrosPerSecond);
  if (after >= kMaxSeconds) return kNever;
  // u s > utc_micros µs, without multiplying (which overflows near the ends of time): for a
  // whole number of seconds u, u * 10^6 > m exactly when u > floor(m / 10^6) = after.
  auto later = [&](int64_t u) { return u <= kMaxSeconds && u > after; };
  // Wall-clock times from the smallest offset around `after` on: a fall-back's second occurrence
  // of an earlier wall-clock time can still lie after the instant.
  int64_t off_lo = std::min(z.offset_at_utc(after), z.offset_at_utc(after + kSecondsPerDay));
  int64_t off_hi = std::max(z.offset_at_utc(after), z.offset_at_utc(after + kSecondsPerDay));
  int64_t local = floor_div(after + off_lo, kSecondsPerMinute) * kSecondsPerMinute;
  int64_t best = kNever;
  int64_t bound = kNever;  // wall-clock times past it cannot fire before `best`
  for (;;) {
    local = next_local_match(local);
    if (local == kNever || local > bound) break;
    int64_t instants[2];
    int n = instants_of(local, instants);
    for (int k = 0; k < n; ++k) {
      if (later(instants[k]) && instants[k] < best) {
        best = instants[k];
        int64_t hi =
            std::max({off_hi, z.offset_at_utc(best), z.offset_at_utc(best - kSecondsPerDay)});
        bound = best + hi;
      }
    }
    local += kSecondsPerMinute;
  }
  return best == kNever ? kNever : best * kMicrosPerSecond;
}

namespace {

// A set as text: "*", "*/n", "a-b/n", or a list of ranges and values.
std::string render_set(uint64_t bits, int min, int top, bool star_allowed) {
  std::vector<int> values;
  for (int v = min; v <= top; ++v)
    if ((bits >> v) & 1U) values.push_back(v);
  if (static_cast<int>(values.size()) == top - min + 1)
    return star_allowed ? "*" : std::to_string(min) + "-" + std::to_string(top);
  if (values.size() >= 3) {
    int step = values[1] - values[0];
    bool progression = step > 1;
    for (size_t k = 2; progression && k < values.size(); ++k)
      progression = values[k] - values[k - 1] == step;
    if (progression) {
      if (star_allowed && values.front() == min && values.back() + step > top)
        return "*/" + std::to_string(step);
      return std::to_string(values.front()) + "-" + std::to_string(values.back()) + "/" +
             std::to_string(step);
    }
  }
  std::string out;
  for (size_t k = 0; k < values.size();) {
    size_t run = k;
    while (run + 1 < values.size() && values[run + 1] == values[run] + 1) ++run;
    if (!out.empty()) out += ',';
    if (run >= k + 2) {
      out += std::to_string(values[k]) + "-" + std::to_string(values[run]);
      k = run + 1;
    } else {
      out += std::to_string(values[k]);
      ++k;
    }
  }
  return out;
}

}  // namespace

std::string CronSchedule::canonical() const {
  std::string out;
  if (zone_->name() != TimeZone::utc()->name()) out = "TZ=" + zone_->name() + " ";
  for (int i = 0; i < 5; ++i) {
    if (i) out += ' ';
    const Field& f = fields_[i];
    if (f.star) {
      out += steps_[i] > 1 ? "*/" + std::to_string(steps_[i]) : "*";
    } else {
      // Written as `*` a day field would lose its "restricted" meaning (the OR rule).
      out += render_set(f.bits, kFields[i].min, field_top(i), i != kDayOfMonth && i != kDayOfWeek);
    }
  }
  return out;
}

FireDecision decide(const CronSchedule& schedule, int64_t handled_micros, int64_t now_micros) {
  FireDecision d;
  int64_t first = schedule.next_after(handled_micros);
  if (now_micros < handled_micros || first > now_micros) {
    d.next = first;
    return d;
  }
  d.fire = true;
  // Count the fire times in (handled, now] beyond the first, up to the cap.
  int64_t t = first;
  while (d.missed < kMaxCountedMisses) {
    int64_t n = schedule.next_after(t);
    if (n > now_micros) break;
    ++d.missed;
    t = n;
  }
  // The latest fire time at or before now: from the last one counted, or when the count was
  // capped, searched in growing windows back from now.
  if (d.missed < kMaxCountedMisses) {
    d.due = t;
  } else {
    constexpr int64_t kWindows[] = {3600, 86400, 32 * 86400, 367 * 86400};
    int64_t from = t;
    for (int64_t w : kWindows) {
      int64_t start = std::max(t, now_micros - w * kMicrosPerSecond);
      if (schedule.next_after(start) <= now_micros) {
        from = start;
        break;
      }
    }
    for (int64_t n = schedule.next_after(from); n <= now_micros; n = schedule.next_after(n))
      from = n;
    d.due = from;
  }
  d.next = schedule.next_after(now_micros);
  return d;
}

}  // namespace dbsync
