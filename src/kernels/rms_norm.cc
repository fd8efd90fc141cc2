#include "kernels/rms_norm.h"

#include <cmath>

namespace medassist::kernels {

// rms_norm_avx2.cc, rms_norm_avx512.cc.
void RmsNormAvx2(const float* x, const float* weight, float eps, int64_t d, float* out);
void RmsNormAvx512(const float* x, const float* weight, float eps, int64_t d, float* out);

float RmsNormReduceLanes(const float* lanes) {
  float t[kRmsNormLanes / 2];
  for (int j = 0; j < 8; ++j) t[j] = lanes[j] + lanes[j + 8];
  for (int j = 0; j < 4; ++j) t[j] = t[j] + t[j + 4];
  for (int j = 0; j < 2; ++j) t[j] = t[j] + t[j + 2];
  return t[0] + t[1];
}

float RmsNormScale(float sum_squares, int64_t d, float eps) {
  return 1.0f / std::sqrt(sum_squares / static_cast<float>(d) + eps);
}

void RmsNormScalar(const float* x, const float* weight, float eps, int64_t d, float* out) {
  if (d <= 0) return;
  float lanes[kRmsNormLanes] = {};
  for (int64_t i = 0; i < d; ++i) {
    float& lane = lanes[i % kRmsNormLanes];
    lane = std::fma(x[i], x[i], lane);
  }
  const float scale = RmsNormScale(RmsNormReduceLanes(lanes), d, eps);
  for (int64_t i = 0; i < d; ++i) out[i] = (x[i] * scale) * weight[i];
}

RmsNormFn SelectRmsNorm(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return RmsNormAvx512;
    case Isa::kAvx2:
      return RmsNormAvx2;
    case Isa::kScalar:
      break;
  }
  return RmsNormScalar;
}

}  // namespace medassist::kernels
