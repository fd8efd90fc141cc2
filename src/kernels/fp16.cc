#include "kernels/fp16.h"

#include <cmath>
#include <cstring>

namespace medassist::kernels {

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Bit manipulation, no libm: exact.
float F16ToF32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {        // subnormal half: normalise
    uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t F32ToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;   // NaN -> quiet NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;  // >= 65520 (rounds past 65504): inf
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

float BF16ToF32(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

// Round to nearest even on the upper 16 bits; NaN stays a quiet NaN.
uint16_t F32ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace medassist::kernels
