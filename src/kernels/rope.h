// Rotary position embedding of one row's heads (q or k) at one position, from a cos/sin table:
// frequency i (of half = head_dim / 2) rotates the pair (a, b) by the angle
//   pos * theta^(-2i / head_dim)
// with (a, b) = (i, i + half) in rotate-half style (Hugging Face, GGUF NEOX) or (2i, 2i + 1) in
// interleaved style (GGUF llama):
//   head[a] = x0 * cos[i] - x1 * sin[i];   head[b] = x0 * sin[i] + x1 * cos[i]
// two multiplies and one subtract / add, never an fma, so the SIMD variants give the scalar
// reference's bits exactly. The kernel files are compiled with -ffp-contract=off (CMakeLists.txt):
// GCC 12 fuses x0 * c - x1 * s into an fma wherever FMA is enabled, -std=c++20 or not. The table
// depends only on the position: one per row serves every layer, q and k.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace medassist::kernels {

enum class RopePairs { kRotateHalf, kInterleaved };

// cos_out[i], sin_out[i] for i < head_dim / 2 at position pos: the angle in double
// (std::pow, std::cos, std::sin), rounded to float.
void RopeTable(int32_t pos, int64_t head_dim, double theta, float* cos_out, float* sin_out);

// x (n_heads, head_dim) rotated in place with the table of one position (head_dim / 2 entries
// each). head_dim must be even.
using RopeFn = void (*)(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                        const float* sin);

void RopeRotateHalfScalar(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                          const float* sin);
void RopeInterleavedScalar(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                           const float* sin);

// The variant for isa (which the CPU must support) and pair layout.
RopeFn SelectRope(Isa isa, RopePairs pairs);

}  // namespace medassist::kernels
