// AVX-512 attention for one (row, KV head) group; see attention.h. head_dim % 16 == 0 (otherwise
// the AVX2 variant runs, which itself falls back to the scalar reference). Compiled with AVX-512
// flags: no inline function here may be shared with other files.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/exp_avx512.h"

// GCC 12 warns, wrongly, that AVX-512 intrinsics read uninitialised values (clang does not, and
// does not know -Wmaybe-uninitialized).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace medassist::kernels {
namespace {

using vec512::ExpNonPositive;

// Slot t's row of a paged K or V store of T elements (float, or uint16_t F16 bits).
template <typename T>
const T* SlotRow(const void* const* blocks, int32_t block_size, int64_t stride, int64_t t) {
  return static_cast<const T*>(blocks[t / block_size]) + (t % block_size) * stride;
}

// 16 cached elements as F32: F32 as they are, F16 widened (exact).
__m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
__m512 Load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// One step of the 16-vector reduction: x and y hold 16 / len groups of len lanes each (group g
// of x is vector a_g's partial sums, of y the next groups'); the step returns every group's first
// half plus its second half, x's groups then y's, len / 2 lanes each. kHalving[s] are the
// permute indices of the step with len = 16 >> s: [0] the first halves, [1] the second.
struct HalvingIndices {
  alignas(64) int32_t idx[4][2][16];
};

constexpr HalvingIndices MakeHalvingIndices() {
  HalvingIndices h{};
  for (int step = 0; step < 4; ++step) {
    const int len = 16 >> step, groups = 16 / len, half = len / 2;
    for (int g = 0; g < groups; ++g) {
      for (int i = 0; i < half; ++i) {
        for (int second = 0; second < 2; ++second) {
          h.idx[step][second][g * half + i] = g * len + second * half + i;
          h.idx[step][second][(groups + g) * half + i] = 16 + g * len + second * half + i;
        }
      }
    }
  }
  return h;
}

constexpr HalvingIndices kHalving = MakeHalvingIndices();

__m512 HalveGroups(__m512 x, __m512 y, int step) {
  const __m512i first = _mm512_load_si512(kHalving.idx[step][0]);
  const __m512i second = _mm512_load_si512(kHalving.idx[step][1]);
  return _mm512_add_ps(_mm512_permutex2var_ps(x, first, y), _mm512_permutex2var_ps(x, second, y));
}

// {sum of a[0]'s lanes, ..., sum of a[15]'s lanes}: a fixed tree of 15 adds and 30 permutes
// instead of 16 horizontal reductions.
__m512 SumEach16(const __m512* a) {
  __m512 s8[8], s4[4], s2[2];
  for (int i = 0; i < 8; ++i) s8[i] = HalveGroups(a[2 * i], a[2 * i + 1], 0);
  for (int i = 0; i < 4; ++i) s4[i] = HalveGroups(s8[2 * i], s8[2 * i + 1], 1);
  for (int i = 0; i < 2; ++i) s2[i] = HalveGroups(s4[2 * i], s4[2 * i + 1], 2);
  return HalveGroups(s2[0], s2[1], 3);
}

// scores[t] = scale * q . k_t for one head. Positions in blocks of 16 (one vector of scores per
// block), the last n % 16 one by one; either way the order depends on t and n only.
template <typename T>
void Scores(const AttentionGroupArgs& a, const float* q, float* s) {
  const int64_t d = a.head_dim;
  const auto dot = [&](int64_t t) {
    const T* k = SlotRow<T>(a.k_blocks, a.block_size, a.kv_stride, t);
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(q), Load16(k));
    for (int64_t i = 16; i < d; i += 16) {
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), Load16(k + i), acc);
    }
    return acc;
  };
  const __m512 scale = _mm512_set1_ps(a.scale);
  int64_t t = 0;
  for (; t + 16 <= a.n_pos; t += 16) {
    __m512 acc[16];
    for (int j = 0; j < 16; ++j) acc[j] = dot(t + j);
    _mm512_storeu_ps(s + t, _mm512_mul_ps(SumEach16(acc), scale));
  }
  for (; t < a.n_pos; ++t) s[t] = _mm512_reduce_add_ps(dot(t)) * a.scale;
}

// In place: s[t] = exp(s[t] - max) / sum. Lane j handles positions t = j mod 16, then one fixed
// reduction: the order depends on n only.
void Softmax(float* s, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t t = 0;
  for (; t + 16 <= n; t += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + t));
  float max_score = _mm512_reduce_max_ps(vmax);
  for (int64_t u = t; u < n; ++u) max_score = std::max(max_score, s[u]);
  const __m512 m = _mm512_set1_ps(max_score);
  __m512 vsum = _mm512_setzero_ps();
  for (t = 0; t + 16 <= n; t += 16) {
    const __m512 e = ExpNonPositive(_mm512_sub_ps(_mm512_loadu_ps(s + t), m));
    _mm512_storeu_ps(s + t, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (t < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - t)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(tail, s + t);
    const __m512 e = _mm512_maskz_mov_ps(tail, ExpNonPositive(_mm512_sub_ps(x, m)));
    _mm512_mask_storeu_ps(s + t, tail, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (t = 0; t + 16 <= n; t += 16) {
    _mm512_storeu_ps(s + t, _mm512_mul_ps(_mm512_loadu_ps(s + t), inv));
  }
  for (; t < n; ++t) s[t] *= _mm512_cvtss_f32(inv);
}

// out_h = sum_t p_h[t] v_t for head_dim 16 * kD16, with the accumulators of up to kHeads heads in
// registers (the generic loop in AttentionGroupAvx512 loads and stores them per position). Each
// lane still adds its positions in order, so the bits are those of the generic loop.
template <typename T, int kD16>
void WeightedValues(const AttentionGroupArgs& a) {
  constexpr int kHeads = std::max(1, 24 / kD16);
  const int64_t n = a.n_pos, d = 16 * kD16;
  for (int64_t h0 = 0; h0 < a.group; h0 += kHeads) {
    const int64_t hc = std::min<int64_t>(kHeads, a.group - h0);
    __m512 acc[kHeads][kD16];
    for (int h = 0; h < kHeads; ++h)
      for (int i = 0; i < kD16; ++i) acc[h][i] = _mm512_setzero_ps();
    for (int64_t t = 0; t < n; ++t) {
      const T* v = SlotRow<T>(a.v_blocks, a.block_size, a.kv_stride, t);
      __m512 vi[kD16];
      for (int i = 0; i < kD16; ++i) vi[i] = Load16(v + 16 * i);
      for (int h = 0; h < kHeads; ++h) {
        if (h >= hc) break;
        const __m512 p = _mm512_set1_ps(a.scores[(h0 + h) * n + t]);
        for (int i = 0; i < kD16; ++i) acc[h][i] = _mm512_fmadd_ps(p, vi[i], acc[h][i]);
      }
    }
    for (int64_t h = 0; h < hc; ++h)
      for (int i = 0; i < kD16; ++i) _mm512_storeu_ps(a.out + (h0 + h) * d + 16 * i, acc[h][i]);
  }
}

template <typename T>
void Run(const AttentionGroupArgs& a) {
  const int64_t n = a.n_pos, d = a.head_dim;
  for (int64_t h = 0; h < a.group; ++h) {
    Scores<T>(a, a.q + h * d, a.scores + h * n);
    Softmax(a.scores + h * n, n);
  }
  // out_h = sum_t p_h[t] v_t, in position order per lane.
  if (d == 64) return WeightedValues<T, 4>(a);
  if (d == 128) return WeightedValues<T, 8>(a);
  for (int64_t h = 0; h < a.group; ++h) std::fill(a.out + h * d, a.out + (h + 1) * d, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    const T* v = SlotRow<T>(a.v_blocks, a.block_size, a.kv_stride, t);
    for (int64_t i = 0; i < d; i += 16) {
      const __m512 vi = Load16(v + i);
      for (int64_t h = 0; h < a.group; ++h) {
        float* o = a.out + h * d + i;
        const __m512 p = _mm512_set1_ps(a.scores[h * n + t]);
        _mm512_storeu_ps(o, _mm512_fmadd_ps(p, vi, _mm512_loadu_ps(o)));
      }
    }
  }
}

}  // namespace

void AttentionGroupAvx2(const AttentionGroupArgs& a);  // attention_avx2.cc

void AttentionGroupAvx512(const AttentionGroupArgs& a) {
  if (a.head_dim % 16 != 0 || a.head_dim > 256) {
    AttentionGroupAvx2(a);  // head_dim 8 (tiny models): 8-lane vectors; else it runs the scalar one
  } else if (a.kv_f16) {
    Run<uint16_t>(a);
  } else {
    Run<float>(a);
  }
}

}  // namespace medassist::kernels
