// Exact decimal arithmetic on the digit strings that Value kDecimal holds.
//
// Canonical form: an optional '-', integer digits without leading zeros ("0" when there are
// none), then optionally '.' and one or more fraction digits. No exponent, no '+', no spaces.
// Negative zero is written without its sign ("-0.00" becomes "0.00"). The scale (number of
// fraction digits) is part of the text and is preserved: "10.50" stays "10.50". Equality of
// value ignores the scale (compare("10.5", "10.50") == 0); strip_trailing_zeros() gives the
// scale-free form used for hashing.
//
// PostgreSQL's numeric also holds NaN and the infinities (MySQL's DECIMAL does not): their
// canonical texts are "NaN", "Infinity" and "-Infinity". They order as PostgreSQL orders them:
// -Infinity below every number, Infinity above, NaN above Infinity and equal to itself; and
// compute as PostgreSQL computes with them (NaN in, NaN out; Infinity - Infinity is NaN).
//
// Every function taking a `std::string_view` decimal expects canonical input (the output of
// parse() or of another function here); behaviour on other text is unspecified but never UB.
// Results are canonical.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.hpp"

namespace dbsync::decimal {

// Scale used by division when the caller has no better idea (enough for money and ratios).
constexpr int kDefaultDivisionScale = 16;
// Largest scale and exponent accepted, so that "1e999999999" cannot allocate a gigabyte.
constexpr int kMaxScale = 16383;           // PostgreSQL's limit on digits after the point
constexpr int kMaxIntegerDigits = 131072;  // PostgreSQL's limit on digits before the point

constexpr std::string_view kNaN = "NaN";
constexpr std::string_view kInfinity = "Infinity";
constexpr std::string_view kMinusInfinity = "-Infinity";
// Whether a canonical decimal is NaN or an infinity (cheap: looks at its first bytes).
inline bool is_special(std::string_view a) {
  return !a.empty() && (a[0] == 'N' || a[0] == 'I' || (a[0] == '-' && a.size() > 1 && a[1] == 'I'));
}
inline bool is_nan(std::string_view a) { return !a.empty() && a[0] == 'N'; }

// Parses decimal text: optional sign, digits with an optional '.', optional exponent
// ("12.50", "-0.5", "+.5", "1.", "1e3", "1.5E-2"), surrounding ASCII spaces ignored; and, as
// PostgreSQL's numeric input, "NaN", "[+-]Infinity", "[+-]inf" in any case.
// The scale of the result is the fraction digits written minus the exponent, never below 0:
// "1.50e1" -> "15.0", "1e3" -> "1000", "1.5E-2" -> "0.015".
// Errors: kParseError for malformed text, kOutOfRange beyond kMaxScale/kMaxIntegerDigits.
Result<std::string> parse(std::string_view text);

// Whether `text` is already in canonical form.
bool is_canonical(std::string_view text);

// <0, 0, >0 by numeric value (scale ignored).
int compare(std::string_view a, std::string_view b);
// Same, against an int64 (exact, no double in between).
int compare_with_int(std::string_view a, int64_t b);
// Same, against a finite double (exact: the double's full binary value is compared).
int compare_with_double(std::string_view a, double b);

// -1, 0 or 1.
int sign(std::string_view a);
bool is_zero(std::string_view a);
std::string negate(std::string_view a);
std::string abs(std::string_view a);

// Exact; the result scale is max(scale a, scale b) for add/sub and scale a + scale b for mul.
std::string add(std::string_view a, std::string_view b);
std::string sub(std::string_view a, std::string_view b);
std::string mul(std::string_view a, std::string_view b);
// a / b rounded half away from zero to `scale` fraction digits (0..kMaxScale).
// kEvaluation "division by zero" when b is zero.
Result<std::string> div(std::string_view a, std::string_view b, int scale = kDefaultDivisionScale);
// Remainder of a / b with the quotient truncated toward zero; the sign follows a (as
// PostgreSQL's and MySQL's MOD). kEvaluation "division by zero" when b is zero.
Result<std::string> mod(std::string_view a, std::string_view b);

// Rounds (or zero-pads) to exactly `scale` fraction digits (0..kMaxScale), half away from zero,
// as PostgreSQL and MySQL round: round("9.995", 2) == "10.00", round("-2.5", 0) == "-3",
// round("10.5", 2) == "10.50".
std::string round(std::string_view a, int scale);
// Truncates toward zero to `scale` fraction digits (no padding beyond the current scale).
std::string trunc(std::string_view a, int scale);

// Number of fraction digits as written ("10.50" -> 2, "3" -> 0).
int scale_of(std::string_view a);
// Number of integer digits, for precision checks: "123.4" -> 3, "0.5" -> 0, "0" -> 0.
int integer_digits(std::string_view a);
// Whether |a| < 10^(precision - scale), i.e. the value (already rounded to `scale`) fits
// numeric(precision, scale). Works for scale > precision too (PostgreSQL 15+). NaN fits,
// the infinities do not (as in PostgreSQL).
bool fits_precision(std::string_view a, int precision, int scale);

// "10.50" -> "10.5", "10.00" -> "10", "0.0" -> "0". Returns a view into `a` (no allocation).
std::string_view strip_trailing_zeros(std::string_view a);

// Correctly rounded nearest double (huge values give +-inf; NaN and the infinities map over).
double to_double(std::string_view a);
// Exact conversion when `a` is integral and fits int64; false otherwise.
bool to_int64(std::string_view a, int64_t& out);
std::string from_int(int64_t v);
// Shortest text that reads back as the same double (0.1 -> "0.1", 1e20 -> "100000000000000000000").
// kInvalidArgument for NaN and infinities.
Result<std::string> from_double(double v);

}  // namespace dbsync::decimal
