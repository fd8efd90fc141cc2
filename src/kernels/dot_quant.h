// Internal to kernels: what the quantized dot kernels of every ISA share (dot_quant*.cc).
//
// Accumulation contract, the same for every ISA, so each variant gives the scalar reference's
// bits exactly (and dot_rows gives dot's bits, DESIGN §2b):
//   * the integer dot of one block (weight quants x activation quants, with the sub-block scales
//     and mins of K-quants) is exact in int32;
//   * block b is scaled and added in float into lane b % kDotLanes with fused multiply-adds:
//       Q8_0, Q4_0, Q5_0:  lane = fma(d_w * d_x, float(isum), lane)
//       Q6_K:        lane = fma(d_x * d_w, float(isum), lane)
//       Q4_K:        lane = fma(d_x * d_w, float(isum_scales), lane);
//                    lane = fma(-(d_x * dmin_w), float(isum_mins), lane)
//     (blocks of one lane in increasing order);
//   * the lanes are summed by ReduceLanes' fixed tree.
// SIMD code keeps the lanes in one 8-float vector; the scalar code in an array.
#pragma once

#include <cstdint>

#include "kernels/dot.h"
#include "kernels/dot_registry.h"

namespace medassist::kernels {

inline constexpr int kDotLanes = 8;

// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Out of line, in baseline code, on purpose:
// the ISA files call no inline function shared with other files (an inline function compiled
// with AVX flags could be the copy the linker keeps for the scalar path too).
float ReduceLanes(const float* lanes);

int64_t PreparedRowBytesQ8_0(int64_t n);  // activations as BlockQ8_0
int64_t PreparedRowBytesQ8_K(int64_t n);  // activations as BlockQ8_K

// QuantizeRowQ8_0 (quantize.h) with AVX-512, the same bytes for every input but NaN
// (quantize_avx512.cc); the prepare of the AVX-512 kernels whose activations are Q8_0.
void QuantizeRowQ8_0Avx512(const float* x, int64_t n, void* out);

// The kernel of format f for exactly that ISA, or nullptr (dot_quant_avx2.cc, _avx512.cc).
const DotKernel* FindQuantDotKernelAvx2(WeightFormat f);
const DotKernel* FindQuantDotKernelAvx512(WeightFormat f);

// The AVX-512 kernel of Q5_0 (dot_q5_0_avx512.cc); FindQuantDotKernel asks it directly. Its
// tile is QuantDotTileAvx512's.
const DotKernel* QuantDotKernelQ5_0Avx512();

// The tile function (dot_registry.h) of the AVX-512 kernel of format f, or nullptr
// (dot_quant_tile_avx512.cc).
QuantDotTileFn QuantDotTileAvx512(WeightFormat f);

// The AVX-512 kernels and tiles of Q4_K / Q6_K, or nullptr (dot_quant_k_tile_avx512.cc); the two
// functions above delegate to these for the K-quants.
const DotKernel* FindQuantDotKernelKAvx512(WeightFormat f);
QuantDotTileFn QuantDotTileKAvx512(WeightFormat f);

// The 16-row panel prefill tiles of Q4_K and Q6_K (dot_quant_k_panel_avx512.cc), which
// QuantDotTileKAvx512 returns; nullptr for other formats.
QuantDotTileFn QuantPanelTileKAvx512(WeightFormat f);

}  // namespace medassist::kernels
