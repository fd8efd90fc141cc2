#include "model/weights.h"

#include <cstring>

#include "core/check.h"
#include "kernels/dequantize.h"
#include "kernels/fp16.h"

namespace medassist::model {

float Weight::At(int64_t i) const {
  DCHECK(data != nullptr && i >= 0 && i < n_elements());
  CHECK(type == WeightType::kF32 || type == WeightType::kF16 || type == WeightType::kBF16)
      << name << ": element access to a " << kernels::Traits(type).name << " tensor";
  const uint8_t* p = data + i * (type == WeightType::kF32 ? 4 : 2);
  if (type == WeightType::kF32) {
    float v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return type == WeightType::kBF16 ? kernels::BF16ToF32(bits) : kernels::F16ToF32(bits);
}

void Weight::RowToFloat(int64_t r, float* out) const {
  DCHECK(r >= 0 && r < rows);
  if (type == WeightType::kF32) {
    std::memcpy(out, row(r), static_cast<size_t>(cols) * 4);
    return;
  }
  if (type == WeightType::kF16 || type == WeightType::kBF16) {
    const uint8_t* p = row(r);
    for (int64_t c = 0; c < cols; ++c) {
      uint16_t bits;
      std::memcpy(&bits, p + 2 * c, sizeof(bits));
      out[c] = type == WeightType::kBF16 ? kernels::BF16ToF32(bits) : kernels::F16ToF32(bits);
    }
    return;
  }
  kernels::DequantizeRow(type, row(r), cols, out);
}

}  // namespace medassist::model
