// F16 / BF16 conversions: every one of the 65536 bit patterns widens to the value it encodes and
// narrows back to itself (NaNs to a quiet NaN), and rounding between neighbours is to nearest even.
#include "kernels/fp16.h"

#include <gtest/gtest.h>

#include <cmath>

namespace medassist::model {
namespace {

TEST(Float16, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float f = kernels::F16ToF32(h);
    if (std::isnan(f)) {
      EXPECT_EQ(kernels::F32ToF16(f) & 0x7E00, 0x7E00) << bits;  // a quiet NaN
      continue;
    }
    ASSERT_EQ(kernels::F32ToF16(f), h) << bits;
  }
  EXPECT_EQ(kernels::F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(kernels::F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(kernels::F16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(kernels::F16ToF32(0xFC00), -INFINITY);
}

TEST(Float16, EveryBf16RoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float f = kernels::BF16ToF32(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(kernels::F32ToBF16(f), h) << bits;
  }
  EXPECT_EQ(kernels::BF16ToF32(0x3F80), 1.0f);
  EXPECT_TRUE(std::isnan(kernels::BF16ToF32(kernels::F32ToBF16(NAN))));
}

TEST(Float16, MidpointsRoundToEven) {
  // 1 + 2^-11 lies halfway between halves 1.0 (even) and 1 + 2^-10 (odd): rounds to 1.0.
  EXPECT_EQ(kernels::F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // 1 + 3 * 2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even): rounds up.
  EXPECT_EQ(kernels::F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // bfloat16 keeps 7 mantissa bits: 1 + 2^-8 is halfway between 1.0 and 1 + 2^-7.
  EXPECT_EQ(kernels::F32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(kernels::F32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
}

}  // namespace
}  // namespace medassist::model
