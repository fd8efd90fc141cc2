// Causal attention of one row for one KV head and the query heads that share it (GQA), over the
// positions 0..n_pos-1 of a sequence's paged KV cache:
//
//   for each query head h of the group:
//     s[t] = scale * (q_h . k_t)                      t in 0..n_pos-1, in position order
//     p    = softmax(s)                               max, then exp and sum in a fixed order
//     out_h = sum_t p[t] * v_t                        accumulated in position order
//
// Keys and values are read through per-block pointers: k_blocks[b] points at the key of slot 0 of
// block b for this layer and KV head, and slot j's key is kv_stride elements further (the KV cache
// layout). Elements are F32, or F16 when kv_f16 (widened to F32 on load; the arithmetic is F32).
// Each variant's order of operations depends only on its own inputs, so a row's result is the same
// whatever else is in the batch (DESIGN §2b); variants (scalar, AVX2, AVX-512) may differ from each
// other by rounding.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace medassist::kernels {

struct AttentionGroupArgs {
  const float* q = nullptr;  // group x head_dim, head-major
  int64_t group = 1;
  int64_t head_dim = 0;
  const void* const* k_blocks = nullptr;  // float or uint16_t (F16 bits) elements
  const void* const* v_blocks = nullptr;
  int64_t kv_stride = 0;  // elements between the keys (values) of consecutive slots
  bool kv_f16 = false;
  int32_t block_size = 0;
  int64_t n_pos = 0;
  float scale = 1.0f;
  float* scores = nullptr;  // scratch: group x n_pos floats
  float* out = nullptr;     // group x head_dim
};

using AttentionGroupFn = void (*)(const AttentionGroupArgs& args);

// The scalar reference: plain loops, std::exp.
void AttentionGroupScalar(const AttentionGroupArgs& args);

// The variant for isa (which the CPU must support). The AVX-512 variant needs head_dim % 16 == 0
// and hands other sizes to the AVX2 one, which needs head_dim % 8 == 0 and falls back to the
// scalar one otherwise (per call).
AttentionGroupFn SelectAttentionGroup(Isa isa);

}  // namespace medassist::kernels
