// The one inner primitive of every matrix product (DESIGN §2b): the dot product of one weight row
// (in its storage format) with one activation row (prepared for that format). Matrix-vector and
// matrix-matrix products both call exactly this, so a value's bits do not depend on how many rows
// are computed together, on the thread count, or on chunking.
//
//   const DotKernel& k = SelectDotKernel(WeightFormat::kQ8_0, BestIsa());
//   k.prepare(x, n, prepared);          // once per activation row (quantize to Q8_0 here)
//   float y = k.dot(w_row, prepared, n);
//
// Float formats take F32 activations as they are (prepare copies). Q8_0 / Q4_0 / Q5_0 take
// activations quantized to Q8_0 blocks, Q4_K / Q6_K to Q8_K blocks, as llama.cpp does.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/weight_format.h"

namespace medassist::kernels {

// Converts n F32 activations into the format dot reads; out has PreparedRowBytes(n) bytes.
using PrepareFn = void (*)(const float* x, int64_t n, void* out);
// Dot product of a weight row (n elements in the kernel's format) with a prepared activation row.
using DotFn = float (*)(const void* w_row, const void* x_prepared, int64_t n);
// Dots of rows consecutive weight rows (stride w_row_bytes) with one prepared activation row:
// out[i] = dot(w + i * w_row_bytes, x, n), bit for bit. Lets an implementation share activation
// loads across rows without changing any value.
using DotRowsFn = void (*)(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared,
                           int64_t n, float* out);

struct DotKernel {
  WeightFormat format;
  Isa isa;
  PrepareFn prepare;
  DotFn dot;
  DotRowsFn dot_rows;
  // Bytes of a prepared activation row of n elements.
  int64_t (*prepared_row_bytes)(int64_t n);
};

// The kernel for (format, isa); isa must be supported by this CPU (IsaSupported). Falls back to
// the best lower level implemented for that format.
const DotKernel& SelectDotKernel(WeightFormat format, Isa isa);

}  // namespace medassist::kernels
