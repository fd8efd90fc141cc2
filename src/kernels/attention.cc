#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "kernels/fp16.h"

namespace medassist::kernels {

// Defined in attention_avx2.cc and attention_avx512.cc (compiled with their ISA's flags).
void AttentionGroupAvx2(const AttentionGroupArgs& args);
void AttentionGroupAvx512(const AttentionGroupArgs& args);

namespace {

template <typename T>
const T* SlotRow(const void* const* blocks, int32_t block_size, int64_t stride, int64_t t) {
  return static_cast<const T*>(blocks[t / block_size]) + (t % block_size) * stride;
}

float Widen(float x) { return x; }
float Widen(uint16_t h) { return F16ToF32(h); }

// T: the stored element (float, or uint16_t F16 bits).
template <typename T>
void Run(const AttentionGroupArgs& a) {
  const int64_t n = a.n_pos, d = a.head_dim;
  for (int64_t h = 0; h < a.group; ++h) {
    const float* q = a.q + h * d;
    float* s = a.scores + h * n;
    for (int64_t t = 0; t < n; ++t) {
      const T* k = SlotRow<T>(a.k_blocks, a.block_size, a.kv_stride, t);
      float dot = 0.0f;
      for (int64_t i = 0; i < d; ++i) dot += q[i] * Widen(k[i]);
      s[t] = dot * a.scale;
    }
    const float max_score = *std::max_element(s, s + n);
    float sum = 0.0f;
    for (int64_t t = 0; t < n; ++t) {
      s[t] = std::exp(s[t] - max_score);
      sum += s[t];
    }
    const float inv_sum = 1.0f / sum;
    float* out = a.out + h * d;
    std::fill(out, out + d, 0.0f);
    for (int64_t t = 0; t < n; ++t) {
      const T* v = SlotRow<T>(a.v_blocks, a.block_size, a.kv_stride, t);
      const float p = s[t] * inv_sum;
      for (int64_t i = 0; i < d; ++i) out[i] += p * Widen(v[i]);
    }
  }
}

}  // namespace

void AttentionGroupScalar(const AttentionGroupArgs& a) {
  if (a.kv_f16) {
    Run<uint16_t>(a);
  } else {
    Run<float>(a);
  }
}

AttentionGroupFn SelectAttentionGroup(Isa isa) {
  CHECK(IsaSupported(isa)) << "attention for " << IsaName(isa) << " on a CPU without it";
  switch (isa) {
    case Isa::kAvx512:
      return &AttentionGroupAvx512;
    case Isa::kAvx2:
      return &AttentionGroupAvx2;
    default:
      return &AttentionGroupScalar;
  }
}

}  // namespace medassist::kernels
