#include "model/weights.h"

#include <cstring>

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
