#include "engine/decimal.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <vector>

#include "engine/utf8.hpp"

namespace dbsync::decimal {
namespace {

// A canonical decimal split into its sign, integer digits and fraction digits (views into it).
struct Parts {
  bool negative = false;
  std::string_view integer;   // no leading zeros except a lone "0"
  std::string_view fraction;  // may be empty
};

Parts split(std::string_view a) {
  Parts p;
  if (!a.empty() && a.front() == '-') {
    p.negative = true;
    a.remove_prefix(1);
  }
  size_t dot = a.find('.');
  if (dot == std::string_view::npos) {
    p.integer = a;
  } else {
    p.integer = a.substr(0, dot);
    p.fraction = a.substr(dot + 1);
  }
  // Tolerate non-canonical leading zeros so that comparisons stay right.
  while (p.integer.size() > 1 && p.integer.front() == '0') p.integer.remove_prefix(1);
  if (p.integer.empty()) p.integer = "0";
  return p;
}

bool all_zero(std::string_view digits) {
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; });
}

bool parts_zero(const Parts& p) { return all_zero(p.integer) && all_zero(p.fraction); }

std::string_view strip_leading_zeros(std::string_view digits) {
  while (!digits.empty() && digits.front() == '0') digits.remove_prefix(1);
  return digits;
}

// Compares two unsigned digit strings by value.
int magnitude_compare(std::string_view x, std::string_view y) {
  x = strip_leading_zeros(x);
  y = strip_leading_zeros(y);
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  int c = x.compare(y);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string magnitude_add(std::string_view x, std::string_view y) {
  if (x.size() < y.size()) std::swap(x, y);
  std::string out(x.size() + 1, '0');
  int carry = 0;
  size_t i = x.size(), j = y.size(), k = out.size();
  while (i > 0) {
    int d = (x[--i] - '0') + carry + (j > 0 ? y[--j] - '0' : 0);
    carry = d >= 10;
    out[--k] = static_cast<char>('0' + (d - (carry ? 10 : 0)));
  }
  out[0] = static_cast<char>('0' + carry);
  return out;
}

// x - y for x >= y.
std::string magnitude_sub(std::string_view x, std::string_view y) {
  std::string out(x.size(), '0');
  int borrow = 0;
  size_t i = x.size(), j = y.size();
  while (i > 0) {
    --i;
    int d = (x[i] - '0') - borrow - (j > 0 ? y[--j] - '0' : 0);
    borrow = d < 0;
    out[i] = static_cast<char>('0' + (d + (borrow ? 10 : 0)));
  }
  return out;
}

std::string magnitude_mul(std::string_view x, std::string_view y) {
  x = strip_leading_zeros(x);
  y = strip_leading_zeros(y);
  if (x.empty() || y.empty()) return "0";
  std::vector<uint32_t> acc(x.size() + y.size(), 0);
  for (size_t i = x.size(); i-- > 0;) {
    uint32_t xd = static_cast<uint32_t>(x[i] - '0');
    if (xd == 0) continue;
    for (size_t j = y.size(); j-- > 0;) acc[i + j + 1] += xd * static_cast<uint32_t>(y[j] - '0');
    // Propagate now and then so the accumulators cannot overflow on very long inputs.
    if ((i & 63) == 0) {
      for (size_t k = acc.size(); k-- > 1;) {
        acc[k - 1] += acc[k] / 10;
        acc[k] %= 10;
      }
    }
  }
  for (size_t k = acc.size(); k-- > 1;) {
    acc[k - 1] += acc[k] / 10;
    acc[k] %= 10;
  }
  std::string out(acc.size(), '0');
  for (size_t k = 0; k < acc.size(); ++k) out[k] = static_cast<char>('0' + acc[k]);
  return out;
}

// Truncated quotient of two unsigned digit strings (divisor not zero).
std::string magnitude_div(std::string_view n, std::string_view d) {
  n = strip_leading_zeros(n);
  d = strip_leading_zeros(d);
  if (n.size() <= 38 && d.size() <= 38) {
    // Fast path: both fit in 128 bits (10^38 < 2^127).
    unsigned __int128 nv = 0, dv = 0;
    for (char c : n) nv = nv * 10 + static_cast<unsigned>(c - '0');
    for (char c : d) dv = dv * 10 + static_cast<unsigned>(c - '0');
    unsigned __int128 q = nv / dv;
    char buf[40];
    size_t len = 0;
    do {
      buf[len++] = static_cast<char>('0' + static_cast<int>(q % 10));
      q /= 10;
    } while (q != 0);
    std::reverse(buf, buf + len);
    return std::string(buf, len);
  }
  std::string quotient;
  quotient.reserve(n.size());
  std::string remainder;
  for (char c : n) {
    if (remainder == "0") remainder.clear();
    remainder.push_back(c);
    int count = 0;
    while (magnitude_compare(remainder, d) >= 0) {
      remainder = std::string(strip_leading_zeros(magnitude_sub(remainder, d)));
      if (remainder.empty()) remainder = "0";
      ++count;
    }
    quotient.push_back(static_cast<char>('0' + count));
  }
  return quotient.empty() ? "0" : quotient;
}

// Builds the canonical text of (negative ? -1 : 1) * digits / 10^scale.
std::string build(bool negative, std::string_view digits, int scale) {
  size_t s = static_cast<size_t>(scale);
  std::string_view integer = digits.size() > s ? digits.substr(0, digits.size() - s) : "";
  std::string_view fraction_tail = digits.size() > s ? digits.substr(digits.size() - s) : digits;
  integer = strip_leading_zeros(integer);
  bool zero = integer.empty() && all_zero(fraction_tail);
  std::string out;
  out.reserve(integer.size() + s + 3);
  if (negative && !zero) out.push_back('-');
  if (integer.empty()) {
    out.push_back('0');
  } else {
    out.append(integer);
  }
  if (s > 0) {
    out.push_back('.');
    out.append(s - fraction_tail.size(), '0');  // digits shorter than the scale
    out.append(fraction_tail);
  }
  return out;
}

// The unscaled digits of p at `scale` (>= its own scale): integer + fraction + zero padding.
std::string unscaled(const Parts& p, size_t scale) {
  std::string digits;
  digits.reserve(p.integer.size() + scale);
  digits.append(p.integer);
  digits.append(p.fraction);
  digits.append(scale - p.fraction.size(), '0');
  return digits;
}

std::string add_signed(std::string_view a, std::string_view b, bool negate_b) {
  Parts pa = split(a), pb = split(b);
  if (negate_b) pb.negative = !pb.negative;
  size_t scale = std::max(pa.fraction.size(), pb.fraction.size());
  std::string da = unscaled(pa, scale), db = unscaled(pb, scale);
  if (pa.negative == pb.negative) {
    return build(pa.negative, magnitude_add(da, db), static_cast<int>(scale));
  }
  int c = magnitude_compare(da, db);
  if (c == 0) return build(false, "0", static_cast<int>(scale));
  if (c > 0) return build(pa.negative, magnitude_sub(da, db), static_cast<int>(scale));
  return build(pb.negative, magnitude_sub(db, da), static_cast<int>(scale));
}

// Quotient of a / b truncated toward zero at `scale` fraction digits, as canonical text.
std::string divide_truncated(const Parts& pa, const Parts& pb, int scale) {
  // a / b = A / 10^sa / (B / 10^sb); scaled by 10^scale: A * 10^(sb + scale) / (B * 10^sa).
  std::string numerator(pa.integer);
  numerator.append(pa.fraction);
  numerator.append(pb.fraction.size() + static_cast<size_t>(scale), '0');
  std::string denominator(pb.integer);
  denominator.append(pb.fraction);
  denominator.append(pa.fraction.size(), '0');
  return build(pa.negative != pb.negative, magnitude_div(numerator, denominator), scale);
}

void append_exact_double(std::string& out, double v);

// -1 for -Infinity, 0 for a number, 1 for Infinity, 2 for NaN: PostgreSQL's order.
int special_rank(std::string_view a) {
  if (!is_special(a)) return 0;
  if (a[0] == 'N') return 2;
  return a[0] == '-' ? -1 : 1;
}

std::string special_text(int rank) {
  return std::string(rank == 2 ? kNaN : rank > 0 ? kInfinity : kMinusInfinity);
}

// a + b (negate_b: a - b) when either is special.
std::string add_special(std::string_view a, std::string_view b, bool negate_b) {
  int ra = special_rank(a), rb = special_rank(b);
  if (ra == 2 || rb == 2) return std::string(kNaN);
  if (negate_b) rb = -rb;
  if (ra != 0 && rb != 0 && ra != rb) return std::string(kNaN);  // Infinity - Infinity
  return special_text(ra != 0 ? ra : rb);
}

}  // namespace

Result<std::string> parse(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  auto bad = [&]() {
    return Status(ErrorCode::kParseError, "invalid decimal number: '" + std::string(text) + "'");
  };
  {
    std::string_view word = text;
    bool negative = false;
    if (!word.empty() && (word.front() == '+' || word.front() == '-')) {
      negative = word.front() == '-';
      word.remove_prefix(1);
    }
    if (!word.empty() && ((word.front() | 0x20) == 'n' || (word.front() | 0x20) == 'i')) {
      if (ascii_iequals(word, "nan") && word.size() == text.size()) return std::string(kNaN);
      if (ascii_iequals(word, "infinity") || ascii_iequals(word, "inf"))
        return std::string(negative ? kMinusInfinity : kInfinity);
      return bad();
    }
  }
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  size_t int_begin = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  std::string_view integer = text.substr(int_begin, i - int_begin);
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    size_t frac_begin = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    fraction = text.substr(frac_begin, i - frac_begin);
  }
  if (integer.empty() && fraction.empty()) return bad();
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    size_t exp_begin = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (exponent < 100000000) exponent = exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (i == exp_begin) return bad();
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return bad();

  std::string digits(strip_leading_zeros(integer));
  digits.append(fraction);
  int64_t scale = static_cast<int64_t>(fraction.size()) - exponent;
  int64_t integer_digit_count = static_cast<int64_t>(strip_leading_zeros(digits).size()) - scale;
  if (!all_zero(digits) && integer_digit_count > kMaxIntegerDigits) {
    return Status(ErrorCode::kOutOfRange, "decimal number too large: '" + std::string(text) + "'");
  }
  if (scale > kMaxScale) {
    return Status(ErrorCode::kOutOfRange,
                  "decimal number has too many fraction digits: '" + std::string(text) + "'");
  }
  if (scale < 0) {
    if (all_zero(digits)) {
      scale = 0;
    } else {
      digits.append(static_cast<size_t>(-scale), '0');
      scale = 0;
    }
  }
  return build(negative, digits, static_cast<int>(scale));
}

bool is_canonical(std::string_view text) {
  if (is_special(text)) return text == kNaN || text == kInfinity || text == kMinusInfinity;
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && rest.front() == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  size_t dot = rest.find('.');
  std::string_view integer = rest.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : rest.substr(dot + 1);
  auto digits_only = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (integer.empty() || !digits_only(integer) || !digits_only(fraction)) return false;
  if (integer.size() > 1 && integer.front() == '0') return false;
  if (dot != std::string_view::npos && fraction.empty()) return false;
  if (negative && all_zero(integer) && all_zero(fraction)) return false;
  return true;
}

int compare(std::string_view a, std::string_view b) {
  if (is_special(a) || is_special(b)) {
    int ra = special_rank(a), rb = special_rank(b);
    return ra == rb ? 0 : (ra < rb ? -1 : 1);
  }
  Parts pa = split(a), pb = split(b);
  bool za = parts_zero(pa), zb = parts_zero(pb);
  int sa = za ? 0 : (pa.negative ? -1 : 1);
  int sb = zb ? 0 : (pb.negative ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int magnitude = 0;
  if (pa.integer.size() != pb.integer.size()) {
    magnitude = pa.integer.size() < pb.integer.size() ? -1 : 1;
  } else if (int c = pa.integer.compare(pb.integer); c != 0) {
    magnitude = c < 0 ? -1 : 1;
  } else {
    size_t n = std::max(pa.fraction.size(), pb.fraction.size());
    for (size_t k = 0; k < n && magnitude == 0; ++k) {
      char x = k < pa.fraction.size() ? pa.fraction[k] : '0';
      char y = k < pb.fraction.size() ? pb.fraction[k] : '0';
      if (x != y) magnitude = x < y ? -1 : 1;
    }
  }
  return sa < 0 ? -magnitude : magnitude;
}

int compare_with_int(std::string_view a, int64_t b) {
  if (is_special(a)) return special_rank(a) > 0 ? 1 : -1;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, b);
  (void)ec;
  return compare(a, std::string_view(buf, static_cast<size_t>(end - buf)));
}

int compare_with_double(std::string_view a, double b) {
  if (is_special(a)) return special_rank(a) > 0 ? 1 : -1;
  // Rounding to the nearest double is monotonic, so when the rounded decimal differs from b
  // the order is already known; only a tie needs the exact binary value of b.
  double approx = to_double(a);
  if (approx < b) return -1;
  if (approx > b) return 1;
  std::string exact;
  append_exact_double(exact, b);
  return compare(a, exact);
}

int sign(std::string_view a) {
  if (is_special(a)) return special_rank(a) == 2 ? 0 : special_rank(a);
  Parts p = split(a);
  if (parts_zero(p)) return 0;
  return p.negative ? -1 : 1;
}

bool is_zero(std::string_view a) { return !is_special(a) && parts_zero(split(a)); }

std::string negate(std::string_view a) {
  if (is_nan(a)) return std::string(a);
  if (!a.empty() && a.front() == '-') return std::string(a.substr(1));
  if (is_zero(a)) return std::string(a);
  std::string out = "-";
  out.append(a);
  return out;
}

std::string abs(std::string_view a) {
  if (!a.empty() && a.front() == '-') return std::string(a.substr(1));
  return std::string(a);
}

std::string add(std::string_view a, std::string_view b) {
  if (is_special(a) || is_special(b)) return add_special(a, b, false);
  return add_signed(a, b, false);
}
std::string sub(std::string_view a, std::string_view b) {
  if (is_special(a) || is_special(b)) return add_special(a, b, true);
  return add_signed(a, b, true);
}

std::string mul(std::string_view a, std::string_view b) {
  if (is_special(a) || is_special(b)) {
    // NaN in, NaN out; infinity times zero is NaN; otherwise an infinity of the product's sign.
    if (is_nan(a) || is_nan(b) || is_zero(a) || is_zero(b)) return std::string(kNaN);
    return special_text(sign(a) * sign(b));
  }
  Parts pa = split(a), pb = split(b);
  std::string da(pa.integer), db(pb.integer);
  da.append(pa.fraction);
  db.append(pb.fraction);
  return build(pa.negative != pb.negative, magnitude_mul(da, db),
               static_cast<int>(pa.fraction.size() + pb.fraction.size()));
}

Result<std::string> div(std::string_view a, std::string_view b, int scale) {
  if (is_special(a) || is_special(b)) {
    if (is_nan(a) || is_nan(b)) return std::string(kNaN);
    if (is_zero(b)) return Status(ErrorCode::kEvaluation, "division by zero");
    if (is_special(a) && is_special(b)) return std::string(kNaN);
    if (is_special(b)) return std::string("0");  // a finite number over an infinity
    return special_text(sign(a) * sign(b));
  }
  Parts pa = split(a), pb = split(b);
  if (parts_zero(pb)) return Status(ErrorCode::kEvaluation, "division by zero");
  scale = std::clamp(scale, 0, kMaxScale);
  // One extra digit decides the rounding: half away from zero only looks at the first
  // dropped digit.
  return round(divide_truncated(pa, pb, scale + 1), scale);
}

Result<std::string> mod(std::string_view a, std::string_view b) {
  if (is_special(a) || is_special(b)) {
    if (is_nan(a) || is_nan(b)) return std::string(kNaN);
    if (is_zero(b)) return Status(ErrorCode::kEvaluation, "division by zero");
    if (is_special(a)) return std::string(kNaN);
    return std::string(a);  // a finite number modulo an infinity
  }
  Parts pa = split(a), pb = split(b);
  if (parts_zero(pb)) return Status(ErrorCode::kEvaluation, "division by zero");
  std::string quotient = divide_truncated(pa, pb, 0);
  return sub(a, mul(quotient, b));
}

std::string round(std::string_view a, int scale) {
  if (is_special(a)) return std::string(a);
  scale = std::clamp(scale, 0, kMaxScale);
  // Common case when coercing: the value already has the column's scale.
  if (scale_of(a) == scale && is_canonical(a)) return std::string(a);
  Parts p = split(a);
  size_t s = static_cast<size_t>(scale);
  if (p.fraction.size() <= s) return build(p.negative, unscaled(p, s), scale);
  std::string digits(p.integer);
  digits.append(p.fraction.substr(0, s));
  if (p.fraction[s] >= '5') digits = magnitude_add(digits, "1");
  return build(p.negative, digits, scale);
}

std::string trunc(std::string_view a, int scale) {
  if (is_special(a)) return std::string(a);
  scale = std::clamp(scale, 0, kMaxScale);
  Parts p = split(a);
  size_t s = static_cast<size_t>(scale);
  if (p.fraction.size() <= s) return std::string(a);
  std::string digits(p.integer);
  digits.append(p.fraction.substr(0, s));
  return build(p.negative, digits, scale);
}

int scale_of(std::string_view a) {
  size_t dot = a.find('.');
  return dot == std::string_view::npos ? 0 : static_cast<int>(a.size() - dot - 1);
}

int integer_digits(std::string_view a) {
  if (is_special(a)) return 0;
  Parts p = split(a);
  return static_cast<int>(strip_leading_zeros(p.integer).size());
}

bool fits_precision(std::string_view a, int precision, int scale) {
  if (is_special(a)) return is_nan(a);
  Parts p = split(a);
  if (parts_zero(p)) return true;
  // Decimal exponent of the most significant digit: 123.4 -> 2, 0.05 -> -2.
  int64_t msd;
  std::string_view integer = strip_leading_zeros(p.integer);
  if (!integer.empty()) {
    msd = static_cast<int64_t>(integer.size()) - 1;
  } else {
    size_t first = p.fraction.find_first_not_of('0');
    msd = -static_cast<int64_t>(first) - 1;
  }
  return msd < static_cast<int64_t>(precision) - scale;
}

std::string_view strip_trailing_zeros(std::string_view a) {
  if (a.find('.') == std::string_view::npos) return a;
  while (a.back() == '0') a.remove_suffix(1);
  if (a.back() == '.') a.remove_suffix(1);
  if (a == "-0") return "0";
  return a;
}

double to_double(std::string_view a) {
  if (is_special(a)) {
    const int rank = special_rank(a);
    return rank == 2 ? std::numeric_limits<double>::quiet_NaN()
                     : rank * std::numeric_limits<double>::infinity();
  }
  double out = 0;
  auto [ptr, ec] = std::from_chars(a.data(), a.data() + a.size(), out);
  (void)ptr;
  if (ec == std::errc::result_out_of_range) {
    // Too large gives infinity, too small gives zero (with the sign of the input).
    bool negative = !a.empty() && a.front() == '-';
    double magnitude = integer_digits(a) > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    return negative ? -magnitude : magnitude;
  }
  return out;
}

bool to_int64(std::string_view a, int64_t& out) {
  if (is_special(a)) return false;
  Parts p = split(a);
  if (!all_zero(p.fraction)) return false;
  std::string text;
  if (p.negative) text.push_back('-');
  text.append(p.integer);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  out = v;
  return true;
}

std::string from_int(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, static_cast<size_t>(end - buf));
}

Result<std::string> from_double(double v) {
  if (!std::isfinite(v)) {
    return Status(ErrorCode::kInvalidArgument, "NaN or infinity is not a decimal number");
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return parse(std::string_view(buf, static_cast<size_t>(end - buf)));
}

namespace {

// The exact decimal value of a finite double: mantissa * 2^exponent written out in full
// (at most ~770 significant digits). Only used to break ties in compare_with_double.
void append_exact_double(std::string& out, double v) {
  if (v == 0 || !std::isfinite(v)) {
    out.append("0");
    return;
  }
  int exponent = 0;
  double fraction = std::frexp(std::fabs(v), &exponent);  // |v| = fraction * 2^exponent
  auto mantissa = static_cast<uint64_t>(std::ldexp(fraction, 53));
  exponent -= 53;
  std::string digits = from_int(static_cast<int64_t>(mantissa));
  int scale = 0;
  if (exponent > 0) {
    for (int k = 0; k < exponent; ++k) {
      digits = std::string(strip_leading_zeros(magnitude_add(digits, digits)));
    }
  } else {
    // m * 2^-k = m * 5^k / 10^k.
    for (int k = 0; k < -exponent; ++k) {
      digits = std::string(strip_leading_zeros(magnitude_mul(digits, "5")));
    }
    scale = -exponent;
  }
  out.append(build(v < 0, digits, scale));
}

}  // namespace

}  // namespace dbsync::decimal
