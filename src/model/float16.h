// 16-bit float formats <-> float: IEEE binary16 ("half", F16) and bfloat16 (BF16). Widening is
// exact (every half and bfloat16 value is a float); narrowing rounds to nearest, ties to even, as
// PyTorch and numpy do, so exported weights match what those tools would write.
#pragma once

#include <cstdint>
#include <cstring>

namespace medassist::model {

float HalfToFloat(uint16_t bits);

inline float BF16ToFloat(uint16_t bits) {
  const uint32_t f = uint32_t{bits} << 16;
  float out;
  std::memcpy(&out, &f, sizeof(out));
  return out;
}

// Overflow (>= 65520 in magnitude) becomes infinity, values below half the smallest subnormal
// become a signed zero, NaN stays a quiet NaN.
uint16_t FloatToF16(float f);

// NaN stays a quiet NaN.
uint16_t FloatToBf16(float f);

}  // namespace medassist::model
