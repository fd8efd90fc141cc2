// Internal to kernels: the float-weight dot kernels (F32, F16, BF16 weights, F32 activations).
//
// Every variant accumulates a row in a fixed order: the scalar reference one element at a time in
// index order; the SIMD variants in two vector accumulators (lanes of elements i mod width, blocks
// alternating between them), then one fixed horizontal reduction. dot_rows runs the very same
// per-row sequence for several rows at once (sharing the activation loads), so its values equal
// dot's bit for bit. Different ISAs round differently; within one ISA every path agrees.
//
// ISA files (dot_float_avx2.cc, dot_float_avx512.cc) are compiled with that ISA's flags and must
// not define inline functions visible to other files (an ODR-merged copy compiled with AVX-512
// could be picked by the linker for scalar callers): this header only declares.
#pragma once

#include <cstdint>

#include "kernels/dot.h"

namespace medassist::kernels {

// The float formats' prepare: activations are used as they are (a copy of n floats).
void PrepareFloatCopy(const float* x, int64_t n, void* out);
int64_t FloatPreparedRowBytes(int64_t n);  // 4 * n

// True when k.prepare is PrepareFloatCopy, i.e. the prepared row is the F32 row itself and a
// caller may pass x directly (Matmul skips the copy then).
bool PreparesByCopy(const DotKernel& k);

// The kernel for exactly (format, isa) for float formats, nullptr otherwise. Per-ISA tables.
const DotKernel* FindFloatDotKernelScalar(WeightFormat format);
const DotKernel* FindFloatDotKernelAvx2(WeightFormat format);
const DotKernel* FindFloatDotKernelAvx512(WeightFormat format);

// Several weight rows against several F32 activation rows (x_stride floats apart):
// y[c * y_stride + r] = dot(w row r, x row c, n) for r < rows, c < n_x, bit for bit the same as
// the kernel's dot. Register-blocked for prefill (each weight load serves several activation rows).
using DotTileFn = void (*)(const void* w, int64_t w_row_bytes, int64_t rows, const float* x,
                           int64_t x_stride, int64_t n_x, int64_t n, float* y, int64_t y_stride);
// The tile function of k when k is one of the float kernels above that has one, else nullptr.
DotTileFn FindFloatDotTile(const DotKernel& k);
DotTileFn FloatDotTileAvx2(WeightFormat format);
DotTileFn FloatDotTileAvx512(WeightFormat format);

// Opt-in, NOT batch-equivalent to the default BF16 kernel: BF16 weights with activations rounded
// to BF16 (nearest even) in prepare, multiplied with AVX512_BF16 vdpbf16ps. Activations lose
// precision, so results differ from SelectDotKernel(kBF16, ...); still, its dot and dot_rows
// agree bit for bit. nullptr when the CPU lacks AVX512_BF16 (or AVX-512 as BestIsa needs it).
const DotKernel* Bf16DotProductKernel();

}  // namespace medassist::kernels
