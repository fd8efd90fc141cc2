// AVX2 + FMA attention for one (row, KV head) group; see attention.h. head_dim % 8 == 0
// (otherwise the scalar reference runs). Compiled with AVX2 flags: no inline function here may be
// shared with other files. The AVX-512 twin is attention_avx512.cc, the scalar one attention.cc.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/exp_avx2.h"

namespace medassist::kernels {
namespace {

using vec256::ExpNonPositive;

// 8 cached elements as F32: F32 as they are, F16 widened (exact).
__m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
__m256 Load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Walks the slots 0, 1, 2, ... of a paged K or V store without a division per position; T is the
// stored element (float, or uint16_t F16 bits).
template <typename T>
struct SlotCursor {
  const void* const* blocks;
  int32_t block_size;
  int64_t stride;
  int64_t block = 0;
  int32_t slot = 0;

  const T* Next() {
    const T* row = static_cast<const T*>(blocks[block]) + slot * stride;
    if (++slot == block_size) slot = 0, ++block;
    return row;
  }
};

// Lane mask with the first count (0..8) lanes set, for maskload / maskstore.
__m256i FirstLanes(int64_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes);
}

// Fixed-order horizontal sum: 256 -> 128 (lo + hi), then pairs (0+2, 1+3), then (0 + 1).
float Reduce(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float ReduceMax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// {sum of a[0]'s lanes, ..., sum of a[7]'s lanes}: a fixed tree of 6 hadds, 2 lane permutes and
// one add instead of 8 horizontal reductions. Lane sums are ((0+1)+(2+3)) + ((4+5)+(6+7)).
__m256 SumEach8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  // u0 = {a0..a3 low-half sums | a0..a3 high-half sums}, u1 the same for a4..a7.
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// s[t] = scale * q . k_t for one head. Positions in blocks of 8: the 8 dot products are
// accumulated lane-wise side by side (element i of every key before element i + 8), then summed
// by SumEach8. The last n % 8 positions run the same sequence (the missing lanes repeat the first
// key and are not stored), so s[t] depends on q and k_t only, not on t or n.
template <typename T>
void Scores(const AttentionGroupArgs& a, const float* q, float* s) {
  const int64_t d = a.head_dim, n = a.n_pos;
  const __m256 scale = _mm256_set1_ps(a.scale);
  SlotCursor<T> keys{a.k_blocks, a.block_size, a.kv_stride};
  for (int64_t t = 0; t < n; t += 8) {
    const int64_t count = std::min<int64_t>(8, n - t);
    const T* k[8];
    for (int64_t j = 0; j < 8; ++j) k[j] = j < count ? keys.Next() : k[0];
    __m256 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_mul_ps(_mm256_loadu_ps(q), Load8(k[j]));
    for (int64_t i = 8; i < d; i += 8) {
      const __m256 qi = _mm256_loadu_ps(q + i);
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(qi, Load8(k[j] + i), acc[j]);
    }
    const __m256 block = _mm256_mul_ps(SumEach8(acc), scale);
    if (count == 8) {
      _mm256_storeu_ps(s + t, block);
    } else {
      _mm256_maskstore_ps(s + t, FirstLanes(count), block);
    }
  }
}

// In place: s[t] = exp(s[t] - max) / sum. Lane j handles positions t = j mod 8, then one fixed
// reduction: the order depends on n only.
void Softmax(float* s, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t t = 0;
  for (; t + 8 <= n; t += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + t));
  float max_score = ReduceMax(vmax);
  for (int64_t u = t; u < n; ++u) max_score = std::max(max_score, s[u]);
  const __m256 m = _mm256_set1_ps(max_score);
  __m256 vsum = _mm256_setzero_ps();
  for (t = 0; t + 8 <= n; t += 8) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(s + t), m));
    _mm256_storeu_ps(s + t, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  if (t < n) {
    const __m256i tail = FirstLanes(n - t);
    const __m256 x = _mm256_maskload_ps(s + t, tail);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(tail), ExpNonPositive(_mm256_sub_ps(x, m)));
    _mm256_maskstore_ps(s + t, tail, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  const float inv_sum = 1.0f / Reduce(vsum);
  const __m256 inv = _mm256_set1_ps(inv_sum);
  for (t = 0; t + 8 <= n; t += 8) {
    _mm256_storeu_ps(s + t, _mm256_mul_ps(_mm256_loadu_ps(s + t), inv));
  }
  for (; t < n; ++t) s[t] *= inv_sum;
}

// out_h[c, c + 8 * kVecs) = sum_t p_h[t] v_t[c, c + 8 * kVecs) for kHeads heads from h, with the
// kHeads * kVecs accumulators in registers (the generic loop in AttentionGroupAvx2 loads and
// stores them per position). Each lane still adds its positions in order, so the bits are those
// of the generic loop whatever kHeads and kVecs.
template <typename T, int kHeads, int kVecs>
void WeightedValues(const AttentionGroupArgs& a, int64_t h, int64_t c) {
  const int64_t n = a.n_pos;
  __m256 acc[kHeads][kVecs];
  for (int j = 0; j < kHeads; ++j)
    for (int i = 0; i < kVecs; ++i) acc[j][i] = _mm256_setzero_ps();
  SlotCursor<T> values{a.v_blocks, a.block_size, a.kv_stride};
  for (int64_t t = 0; t < n; ++t) {
    const T* v = values.Next() + c;
    __m256 vi[kVecs];
    for (int i = 0; i < kVecs; ++i) vi[i] = Load8(v + 8 * i);
    for (int j = 0; j < kHeads; ++j) {
      const __m256 p = _mm256_broadcast_ss(a.scores + (h + j) * n + t);
      for (int i = 0; i < kVecs; ++i) acc[j][i] = _mm256_fmadd_ps(p, vi[i], acc[j][i]);
    }
  }
  for (int j = 0; j < kHeads; ++j)
    for (int i = 0; i < kVecs; ++i)
      _mm256_storeu_ps(a.out + (h + j) * a.head_dim + c + 8 * i, acc[j][i]);
}

template <typename T>
void Run(const AttentionGroupArgs& a) {
  const int64_t n = a.n_pos, d = a.head_dim;
  for (int64_t h = 0; h < a.group; ++h) {
    Scores<T>(a, a.q + h * d, a.scores + h * n);
    Softmax(a.scores + h * n, n);
  }
  // out_h = sum_t p_h[t] v_t, in position order per lane. Pairs of heads x 32 columns share each
  // v load (12 of the 16 ymm registers); measured ~8% faster than one head x 64 columns (group 7,
  // head_dim 64, n_pos 512 and 4096).
  if (d == 64 || d == 128) {
    int64_t h = 0;
    for (; h + 2 <= a.group; h += 2)
      for (int64_t c = 0; c < d; c += 32) WeightedValues<T, 2, 4>(a, h, c);
    for (; h < a.group; ++h)
      for (int64_t c = 0; c < d; c += 64) WeightedValues<T, 1, 8>(a, h, c);
    return;
  }
  for (int64_t h = 0; h < a.group; ++h) std::fill(a.out + h * d, a.out + (h + 1) * d, 0.0f);
  SlotCursor<T> values{a.v_blocks, a.block_size, a.kv_stride};
  for (int64_t t = 0; t < n; ++t) {
    const T* v = values.Next();
    for (int64_t i = 0; i < d; i += 8) {
      const __m256 vi = Load8(v + i);
      for (int64_t h = 0; h < a.group; ++h) {
        float* o = a.out + h * d + i;
        const __m256 p = _mm256_set1_ps(a.scores[h * n + t]);
        _mm256_storeu_ps(o, _mm256_fmadd_ps(p, vi, _mm256_loadu_ps(o)));
      }
    }
  }
}

}  // namespace

void AttentionGroupAvx2(const AttentionGroupArgs& a) {
  if (a.head_dim % 8 != 0) {
    AttentionGroupScalar(a);
  } else if (a.kv_f16) {
    Run<uint16_t>(a);
  } else {
    Run<float>(a);
  }
}

}  // namespace medassist::kernels
