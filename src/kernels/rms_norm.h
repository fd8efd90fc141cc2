// RMSNorm of one row of d values, before each attention and MLP block and before the output head:
//   out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]
// A scalar reference and AVX2 / AVX-512 variants, chosen once like the other kernels, that give
// the same bits for every input by a fixed accumulation contract (as the dot kernels' lanes,
// dot_quant.h):
//   * the sum of squares is kept in 16 float lanes: element i goes into lane i % 16 by
//     lane = fma(x[i], x[i], lane), the elements of one lane in increasing order;
//   * the lanes l[0..15] are summed by a fixed tree: t[j] = l[j] + l[j + 8] for j < 8, then
//     t[j] + t[j + 4] for j < 4, then t[j] + t[j + 2] for j < 2, then t[0] + t[1];
//   * scale = 1.0f / std::sqrt(sum / float(d) + eps);
//   * out[i] = (x[i] * scale) * weight[i]: two roundings, in that order, no fma.
// The scalar reference emulates the lanes with std::fma; AVX2 keeps lanes 0-7 and 8-15 in two
// registers, AVX-512 all 16 in one. A row's result depends only on the row, so any batch gives the
// same bits (DESIGN §2b). d == 0 writes nothing.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace medassist::kernels {

inline constexpr int kRmsNormLanes = 16;

// x (d,), weight (d,) -> out (d,); out may equal x.
using RmsNormFn = void (*)(const float* x, const float* weight, float eps, int64_t d, float* out);

void RmsNormScalar(const float* x, const float* weight, float eps, int64_t d, float* out);

// The variant for isa (which the CPU must support).
RmsNormFn SelectRmsNorm(Isa isa);

// The contract's steps after the lanes, shared by every variant (out of line, in baseline code, so
// no variant can contract or reorder them differently): the reduction tree of the 16 lanes, and
// scale from the sum of squares.
float RmsNormReduceLanes(const float* lanes);
float RmsNormScale(float sum_squares, int64_t d, float eps);

}  // namespace medassist::kernels
