// Internal to kernels: where SelectDotKernel (dot.cc) finds the implementations. Each returns the
// kernel for exactly (format, isa), or nullptr when that combination is not implemented.
#pragma once

#include "kernels/dot.h"

namespace medassist::kernels {

// F32, F16, BF16 weights (dot_float*.cc).
const DotKernel* FindFloatDotKernel(WeightFormat format, Isa isa);
// Q8_0, Q4_0, Q5_0, Q4_K, Q6_K weights (dot_quant*.cc, dot_q5_0_avx512.cc).
const DotKernel* FindQuantDotKernel(WeightFormat format, Isa isa);

// Prefill tile of a quantized kernel: several weight rows against several prepared activation
// rows (x_stride bytes apart): y[c * y_stride + r] = k.dot(w row r, x row c, n) for r < rows,
// c < n_x, bit for bit (so Matmul may use it without changing any value, DESIGN §2b). Shares
// weight-block unpacking across activation rows and activation loads across weight rows.
using QuantDotTileFn = void (*)(const void* w, int64_t w_row_bytes, int64_t rows,
                                const void* x_prepared, int64_t x_stride, int64_t n_x, int64_t n,
                                float* y, int64_t y_stride);
// The tile function of k when k is one of the quantized kernels FindQuantDotKernel returns and
// that (format, ISA) has one; nullptr otherwise (callers then use k.dot_rows per activation row).
QuantDotTileFn FindQuantDotTile(const DotKernel& k);

}  // namespace medassist::kernels
