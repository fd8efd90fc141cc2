// The per-row steps both forward passes share (forward_reference.cc, forward.cc): RMSNorm and
// RoPE are O(hidden) per row, far from the hot path, and one definition keeps the two passes'
// angles and norms identical.
#pragma once

#include <cstdint>

#include "model/model.h"
#include "model/weights.h"

namespace medassist::model {

// RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, per row of d values.
void RmsNormNaive(const float* x, const Weight& weight, float eps, int64_t n_rows, int64_t d,
                  float* out);

// RoPE on n_heads heads of head_dim at position pos. Frequency i (of head_dim / 2) rotates the
// pair (i, i + head_dim/2) in rotate-half style (HF) or (2i, 2i+1) in interleaved style (GGUF
// llama). Angles are computed in double.
void RopeNaive(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, double theta,
               RopeStyle style);

}  // namespace medassist::model
