#include "model/float16.h"

#include <cmath>

namespace medassist::model {

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float HalfToFloat(uint16_t bits) {
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  if (exponent == 31) return mantissa == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
}

uint16_t FloatToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;   // NaN -> quiet NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;  // >= 65520 (halfway past 65504, tie to even): inf
  if (abs <= 0x33000000) return sign;           // <= 2^-25 (half the smallest subnormal): zero
  const uint32_t exp = abs >> 23;
  uint32_t mant = abs & 0x7FFFFF;
  uint32_t shift = 13, q = 0;
  if (exp < 113) {  // below 2^-14: a subnormal half, in units of 2^-24
    mant |= 0x800000;
    shift = 126 - exp;  // 14..24
  } else {
    q = (exp - 112) << 10;  // half exponent, bias 15
  }
  q |= mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;  // a carry rolls into the exponent: correct
  return static_cast<uint16_t>(sign | q);
}

uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace medassist::model
