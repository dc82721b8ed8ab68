#include "engine/decimal.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace dbsync {
namespace {

std::string parsed(std::string_view text) {
  auto r = decimal::parse(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().to_string();
  return r.is_ok() ? *r : std::string("<error>");
}

TEST(DecimalParse, CanonicalForms) {
  EXPECT_EQ(parsed("12.50"), "12.50");
  EXPECT_EQ(parsed("-0.5"), "-0.5");
  EXPECT_EQ(parsed("+.5"), "0.5");
  EXPECT_EQ(parsed("007"), "7");
  EXPECT_EQ(parsed("1."), "1");
  EXPECT_EQ(parsed("  42  "), "42");
  EXPECT_EQ(parsed("-0"), "0");
  EXPECT_EQ(parsed("-0.00"), "0.00");
  EXPECT_EQ(parsed("0000.000"), "0.000");
}

TEST(DecimalParse, Exponents) {
  EXPECT_EQ(parsed("1e3"), "1000");
  EXPECT_EQ(parsed("1.5E-2"), "0.015");
  EXPECT_EQ(parsed("1.50e1"), "15.0");
  EXPECT_EQ(parsed("-2.5e+2"), "-250");
  EXPECT_EQ(parsed("12e-5"), "0.00012");
  EXPECT_EQ(parsed("0e5"), "0");
}

TEST(DecimalParse, RejectsGarbage) {
  for (const char* bad : {"", " ", "abc", "1.2.3", "--1", "1e", "e5", ".", "NaNa", "-NaN",
                          "Infinit", "1,5", "0x10", "1e+", "+-1"}) {
    auto r = decimal::parse(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kParseError) << bad;
    }
  }
}

TEST(DecimalParse, HugeExponentIsOutOfRangeNotAnAllocation) {
  auto r = decimal::parse("1e999999999");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kOutOfRange);
  auto tiny = decimal::parse("1e-999999999");
  ASSERT_FALSE(tiny.is_ok());
  EXPECT_EQ(tiny.status().code(), ErrorCode::kOutOfRange);
}

TEST(DecimalCanonical, Recognised) {
  EXPECT_TRUE(decimal::is_canonical("0"));
  EXPECT_TRUE(decimal::is_canonical("-12.50"));
  EXPECT_FALSE(decimal::is_canonical("012"));
  EXPECT_FALSE(decimal::is_canonical("-0"));
  EXPECT_FALSE(decimal::is_canonical("1."));
  EXPECT_FALSE(decimal::is_canonical(".5"));
  EXPECT_FALSE(decimal::is_canonical("1e3"));
  EXPECT_FALSE(decimal::is_canonical("+1"));
}

TEST(DecimalCompare, ByValueIgnoringScale) {
  EXPECT_EQ(decimal::compare("10.5", "10.50"), 0);
  EXPECT_EQ(decimal::compare("0", "0.000"), 0);
  EXPECT_LT(decimal::compare("9.99", "10"), 0);
  EXPECT_GT(decimal::compare("-1", "-2"), 0);
  EXPECT_LT(decimal::compare("-10.5", "-10.49"), 0);
  EXPECT_LT(decimal::compare("-0.1", "0"), 0);
  EXPECT_GT(decimal::compare("0.001", "0"), 0);
  EXPECT_LT(decimal::compare("123.455", "123.46"), 0);
}

TEST(DecimalCompare, AgainstIntegersExactly) {
  // 2^63 - 1 and its neighbours differ only beyond double precision.
  EXPECT_EQ(decimal::compare_with_int("9223372036854775807", INT64_MAX), 0);
  EXPECT_GT(decimal::compare_with_int("9223372036854775807.5", INT64_MAX), 0);
  EXPECT_LT(decimal::compare_with_int("9223372036854775806", INT64_MAX), 0);
  EXPECT_EQ(decimal::compare_with_int("-9223372036854775808", INT64_MIN), 0);
  EXPECT_EQ(decimal::compare_with_int("42.000", 42), 0);
}

TEST(DecimalCompare, AgainstDoublesExactly) {
  // The double 0.1 is slightly above 1/10.
  EXPECT_LT(decimal::compare_with_double("0.1", 0.1), 0);
  EXPECT_EQ(decimal::compare_with_double("0.5", 0.5), 0);
  EXPECT_EQ(decimal::compare_with_double(
                "0.1000000000000000055511151231257827021181583404541015625", 0.1),
            0);
  EXPECT_GT(decimal::compare_with_double("2", 1.5), 0);
  EXPECT_EQ(decimal::compare_with_double("9007199254740993", 9007199254740992.0), 1);
  EXPECT_EQ(decimal::compare_with_double("-3", -3.0), 0);
}

TEST(DecimalArithmetic, AddSub) {
  EXPECT_EQ(decimal::add("1.5", "2.25"), "3.75");
  EXPECT_EQ(decimal::add("9.99", "0.01"), "10.00");
  EXPECT_EQ(decimal::add("-1.5", "1.5"), "0.0");
  EXPECT_EQ(decimal::add("-1.5", "0.25"), "-1.25");
  EXPECT_EQ(decimal::sub("1", "1.001"), "-0.001");
  EXPECT_EQ(decimal::sub("-5", "-7"), "2");
  EXPECT_EQ(decimal::add("99999999999999999999", "1"), "100000000000000000000");
}

TEST(DecimalArithmetic, MulIsExact) {
  EXPECT_EQ(decimal::mul("1.5", "1.5"), "2.25");
  EXPECT_EQ(decimal::mul("-0.1", "0.2"), "-0.02");
  EXPECT_EQ(decimal::mul("0", "-5.5"), "0.0");
  EXPECT_EQ(decimal::mul("123456789012345678901234567890", "10"),
            "1234567890123456789012345678900");
  EXPECT_EQ(decimal::mul("19.99", "1.2"), "23.988");
}

TEST(DecimalArithmetic, DivRoundsToScale) {
  EXPECT_EQ(*decimal::div("1", "3", 16), "0.3333333333333333");
  EXPECT_EQ(*decimal::div("2", "3", 4), "0.6667");
  EXPECT_EQ(*decimal::div("-2", "3", 4), "-0.6667");
  EXPECT_EQ(*decimal::div("10", "4", 0), "3");  // 2.5 rounds away from zero
  EXPECT_EQ(*decimal::div("-10", "4", 0), "-3");
  EXPECT_EQ(*decimal::div("1.5", "0.5", 2), "3.00");
  EXPECT_EQ(*decimal::div("1", "3"), "0.3333333333333333");  // default scale 16
  // Long operands take the schoolbook path.
  EXPECT_EQ(*decimal::div("100000000000000000000000000000000000000000", "3", 2),
            "33333333333333333333333333333333333333333.33");
  auto by_zero = decimal::div("1", "0.00");
  ASSERT_FALSE(by_zero.is_ok());
  EXPECT_EQ(by_zero.status().code(), ErrorCode::kEvaluation);
}

TEST(DecimalArithmetic, ModFollowsDividendSign) {
  EXPECT_EQ(*decimal::mod("7", "3"), "1");
  EXPECT_EQ(*decimal::mod("-7", "3"), "-1");
  EXPECT_EQ(*decimal::mod("7.5", "2"), "1.5");
  EXPECT_FALSE(decimal::mod("1", "0").is_ok());
}

TEST(DecimalRound, HalfAwayFromZero) {
  EXPECT_EQ(decimal::round("2.5", 0), "3");
  EXPECT_EQ(decimal::round("-2.5", 0), "-3");
  EXPECT_EQ(decimal::round("-2.4", 0), "-2");
  EXPECT_EQ(decimal::round("10.505", 2), "10.51");
  EXPECT_EQ(decimal::round("10.504", 2), "10.50");
  EXPECT_EQ(decimal::round("-10.505", 2), "-10.51");
}

TEST(DecimalRound, CarriesAndPadding) {
  EXPECT_EQ(decimal::round("9.995", 2), "10.00");
  EXPECT_EQ(decimal::round("-9.995", 2), "-10.00");
  EXPECT_EQ(decimal::round("999.5", 0), "1000");
  EXPECT_EQ(decimal::round("10.5", 2), "10.50");
  EXPECT_EQ(decimal::round("7", 3), "7.000");
  EXPECT_EQ(decimal::round("-0.004", 2), "0.00");  // no negative zero
  EXPECT_EQ(decimal::round("0.5", 0), "1");
}

TEST(DecimalRound, Trunc) {
  EXPECT_EQ(decimal::trunc("9.999", 2), "9.99");
  EXPECT_EQ(decimal::trunc("-9.999", 0), "-9");
  EXPECT_EQ(decimal::trunc("-0.9", 0), "0");
}

TEST(DecimalDigits, ScaleAndPrecision) {
  EXPECT_EQ(decimal::scale_of("10.50"), 2);
  EXPECT_EQ(decimal::scale_of("3"), 0);
  EXPECT_EQ(decimal::integer_digits("123.4"), 3);
  EXPECT_EQ(decimal::integer_digits("-0.5"), 0);
  EXPECT_EQ(decimal::integer_digits("0"), 0);
  EXPECT_TRUE(decimal::fits_precision("999.9", 4, 1));
  EXPECT_FALSE(decimal::fits_precision("1000.0", 4, 1));
  EXPECT_FALSE(decimal::fits_precision("12345.6", 4, 1));
  EXPECT_TRUE(decimal::fits_precision("0.00012", 2, 5));  // scale above precision
  EXPECT_FALSE(decimal::fits_precision("0.00123", 2, 5));
  EXPECT_TRUE(decimal::fits_precision("0.000", 2, 3));
}

TEST(DecimalDigits, StripTrailingZeros) {
  EXPECT_EQ(decimal::strip_trailing_zeros("10.50"), "10.5");
  EXPECT_EQ(decimal::strip_trailing_zeros("10.00"), "10");
  EXPECT_EQ(decimal::strip_trailing_zeros("100"), "100");
  EXPECT_EQ(decimal::strip_trailing_zeros("0.0"), "0");
  EXPECT_EQ(decimal::strip_trailing_zeros("-0.50"), "-0.5");
}

TEST(DecimalConvert, Doubles) {
  EXPECT_EQ(decimal::to_double("0.1"), 0.1);
  EXPECT_EQ(decimal::to_double("-2.5"), -2.5);
  EXPECT_TRUE(std::isinf(decimal::to_double(std::string(400, '9'))));
  EXPECT_EQ(*decimal::from_double(0.1), "0.1");
  EXPECT_EQ(*decimal::from_double(1e20), "100000000000000000000");
  EXPECT_EQ(*decimal::from_double(-1.5e-7), "-0.00000015");
  EXPECT_EQ(*decimal::from_double(-0.0), "0");
  EXPECT_FALSE(decimal::from_double(std::numeric_limits<double>::quiet_NaN()).is_ok());
  EXPECT_FALSE(decimal::from_double(std::numeric_limits<double>::infinity()).is_ok());
}

TEST(DecimalConvert, Integers) {
  EXPECT_EQ(decimal::from_int(INT64_MIN), "-9223372036854775808");
  int64_t out = 0;
  EXPECT_TRUE(decimal::to_int64("-42.000", out));
  EXPECT_EQ(out, -42);
  EXPECT_FALSE(decimal::to_int64("1.5", out));
  EXPECT_FALSE(decimal::to_int64("9223372036854775808", out));
  EXPECT_EQ(decimal::negate("1.5"), "-1.5");
  EXPECT_EQ(decimal::negate("-1.5"), "1.5");
  EXPECT_EQ(decimal::negate("0.0"), "0.0");
  EXPECT_EQ(decimal::abs("-3"), "3");
  EXPECT_EQ(decimal::sign("-0.01"), -1);
  EXPECT_EQ(decimal::sign("0.00"), 0);
  EXPECT_TRUE(decimal::is_zero("0.000"));
}

}  // namespace
}  // namespace dbsync

namespace dbsync {
namespace {

// Property check against 128-bit integer arithmetic on the unscaled values.
std::string int128_to_decimal(__int128 unscaled, int scale) {
  bool negative = unscaled < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(unscaled) : unscaled;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  std::string out = digits.substr(0, digits.size() - scale);
  if (scale > 0) out += "." + digits.substr(digits.size() - scale);
  bool zero = digits.find_first_not_of('0') == std::string::npos;
  return (negative && !zero ? "-" : "") + out;
}

__int128 pow10_128(int n) {
  __int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

TEST(DecimalArithmetic, AgreesWith128BitIntegers) {
  uint64_t state = 0x2545F4914F6CDD1DULL;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int k = 0; k < 20000; ++k) {
    int sa = static_cast<int>(next() % 7), sb = static_cast<int>(next() % 7);
    __int128 a = static_cast<int64_t>(next() % 2000000000001ULL) - 1000000000000LL;
    __int128 b = static_cast<int64_t>(next() % 2000001ULL) - 1000000LL;
    std::string da = int128_to_decimal(a, sa), db = int128_to_decimal(b, sb);
    int s = std::max(sa, sb);
    __int128 a_aligned = a * pow10_128(s - sa), b_aligned = b * pow10_128(s - sb);
    ASSERT_EQ(decimal::add(da, db), int128_to_decimal(a_aligned + b_aligned, s))
        << da << " + " << db;
    ASSERT_EQ(decimal::sub(da, db), int128_to_decimal(a_aligned - b_aligned, s))
        << da << " - " << db;
    ASSERT_EQ(decimal::mul(da, db), int128_to_decimal(a * b, sa + sb)) << da << " * " << db;
    int cmp = a_aligned < b_aligned ? -1 : (a_aligned > b_aligned ? 1 : 0);
    ASSERT_EQ(decimal::compare(da, db), cmp) << da << " <=> " << db;
    if (b != 0) {
      // a/b at scale 4, half away from zero: |A| * 10^(sb+4) / (|B| * 10^sa), rounded.
      __int128 num = (a < 0 ? -a : a) * pow10_128(sb + 4) * 2;
      __int128 den = (b < 0 ? -b : b) * pow10_128(sa);
      __int128 q = (num / den + 1) / 2;  // floor(x + 1/2) on magnitudes
      if ((a < 0) != (b < 0)) q = -q;
      ASSERT_EQ(*decimal::div(da, db, 4), int128_to_decimal(q, 4)) << da << " / " << db;
    }
    ASSERT_EQ(decimal::round(da, 2), int128_to_decimal(
                                         [&] {
                                           if (sa <= 2) return a * pow10_128(2 - sa);
                                           __int128 m = a < 0 ? -a : a;
                                           __int128 r = (m * 2 / pow10_128(sa - 2) + 1) / 2;
                                           return a < 0 ? -r : r;
                                         }(),
                                         2))
        << da;
  }
}

}  // namespace
}  // namespace dbsync
