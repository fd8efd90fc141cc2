#include "model/weights.h"

#include <cmath>

#include "core/check.h"

namespace medassist::model {

const char* WeightTypeName(WeightType type) {
  switch (type) {
    case WeightType::kF32:
      return "F32";
    case WeightType::kF16:
      return "F16";
    case WeightType::kBF16:
      return "BF16";
  }
  return "?";
}

size_t WeightTypeSize(WeightType type) { return type == WeightType::kF32 ? 4 : 2; }

// IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float HalfToFloat(uint16_t bits) {
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  if (exponent == 31) return mantissa == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
}

float Weight::At(int64_t i) const {
  DCHECK(data != nullptr && i >= 0 && i < n_elements());
  const uint8_t* p = data + i * static_cast<int64_t>(WeightTypeSize(type));
  if (type == WeightType::kF32) {
    float v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return type == WeightType::kBF16 ? BF16ToFloat(bits) : HalfToFloat(bits);
}

void Weight::RowToFloat(int64_t r, float* out) const {
  DCHECK(r >= 0 && r < rows);
  if (type == WeightType::kF32) {
    std::memcpy(out, data + r * cols * 4, static_cast<size_t>(cols) * 4);
    return;
  }
  for (int64_t c = 0; c < cols; ++c) out[c] = At(r * cols + c);
}

}  // namespace medassist::model
