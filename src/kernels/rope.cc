#include "kernels/rope.h"

#include <cmath>

namespace medassist::kernels {

// rope_avx2.cc, rope_avx512.cc.
void RopeRotateHalfAvx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                        const float* sin);
void RopeInterleavedAvx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                         const float* sin);
void RopeRotateHalfAvx512(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                          const float* sin);
void RopeInterleavedAvx512(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                           const float* sin);

void RopeTable(int32_t pos, int64_t head_dim, double theta, float* cos_out, float* sin_out) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double angle =
        pos * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    cos_out[i] = static_cast<float>(std::cos(angle));
    sin_out[i] = static_cast<float>(std::sin(angle));
  }
}

void RopeRotateHalfScalar(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                          const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float x0 = head[i], x1 = head[i + half];
      head[i] = x0 * cos[i] - x1 * sin[i];
      head[i + half] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

void RopeInterleavedScalar(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                           const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float x0 = head[2 * i], x1 = head[2 * i + 1];
      head[2 * i] = x0 * cos[i] - x1 * sin[i];
      head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

RopeFn SelectRope(Isa isa, RopePairs pairs) {
  const bool half = pairs == RopePairs::kRotateHalf;
  switch (isa) {
    case Isa::kAvx512:
      return half ? RopeRotateHalfAvx512 : RopeInterleavedAvx512;
    case Isa::kAvx2:
      return half ? RopeRotateHalfAvx2 : RopeInterleavedAvx2;
    case Isa::kScalar:
      break;
  }
  return half ? RopeRotateHalfScalar : RopeInterleavedScalar;
}

}  // namespace medassist::kernels
