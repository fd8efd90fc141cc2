#include "model/row_ops.h"

#include <cmath>

namespace medassist::model {

void RmsNormNaive(const float* x, const Weight& weight, float eps, int64_t n_rows, int64_t d,
                  float* out) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x_r = x + r * d;
    float sum_squares = 0.0f;
    for (int64_t i = 0; i < d; ++i) sum_squares += x_r[i] * x_r[i];
    const float scale = 1.0f / std::sqrt(sum_squares / static_cast<float>(d) + eps);
    for (int64_t i = 0; i < d; ++i) out[r * d + i] = x_r[i] * scale * weight.At(i);
  }
}

void RopeNaive(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, double theta,
               RopeStyle style) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double angle =
        pos * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const float c = static_cast<float>(std::cos(angle));
    const float s = static_cast<float>(std::sin(angle));
    const int64_t a = style == RopeStyle::kRotateHalf ? i : 2 * i;
    const int64_t b = style == RopeStyle::kRotateHalf ? i + half : 2 * i + 1;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = x + h * head_dim;
      const float x0 = head[a];
      const float x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace medassist::model
