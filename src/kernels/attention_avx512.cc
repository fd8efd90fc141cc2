// AVX-512 attention for one (row, KV head) group; see attention.h. head_dim % 16 == 0 (otherwise
// the scalar reference runs). Compiled with AVX-512 flags: no inline function here may be shared
// with other files.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"

// GCC 12 warns, wrongly, that AVX-512 intrinsics read uninitialised values (clang does not, and
// does not know -Wmaybe-uninitialized).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace medassist::kernels {
namespace {

const float* SlotRow(const float* const* blocks, int32_t block_size, int64_t stride, int64_t t) {
  return blocks[t / block_size] + (t % block_size) * stride;
}

// e^x for x <= 0 (softmax arguments), Cephes' expf polynomial: x = n ln2 + r, e^r by a degree-6
// polynomial, then scaled by 2^n with vscalefps. Relative error about 2 ulp; underflows to 0.
__m512 ExpNonPositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-88.0f));
  const __m512 n = _mm512_roundscale_ps(
      _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
      _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// scores[t] = scale * q . k_t for one head, q in d / 16 registers.
void Scores(const AttentionGroupArgs& a, const float* q, float* s) {
  const int64_t d = a.head_dim;
  for (int64_t t = 0; t < a.n_pos; ++t) {
    const float* k = SlotRow(a.k_blocks, a.block_size, a.kv_stride, t);
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(q), _mm512_loadu_ps(k));
    for (int64_t i = 16; i < d; i += 16) {
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i), acc);
    }
    s[t] = _mm512_reduce_add_ps(acc) * a.scale;
  }
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

}  // namespace

void AttentionGroupAvx512(const AttentionGroupArgs& a) {
  if (a.head_dim % 16 != 0 || a.head_dim > 256) {
    AttentionGroupScalar(a);
    return;
  }
  const int64_t n = a.n_pos, d = a.head_dim;
  for (int64_t h = 0; h < a.group; ++h) {
    Scores(a, a.q + h * d, a.scores + h * n);
    Softmax(a.scores + h * n, n);
  }
  // out_h = sum_t p_h[t] v_t, in position order; each value row is loaded once for the group.
  for (int64_t h = 0; h < a.group; ++h) std::fill(a.out + h * d, a.out + (h + 1) * d, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    const float* v = SlotRow(a.v_blocks, a.block_size, a.kv_stride, t);
    for (int64_t i = 0; i < d; i += 16) {
      const __m512 vi = _mm512_loadu_ps(v + i);
      for (int64_t h = 0; h < a.group; ++h) {
        float* o = a.out + h * d + i;
        const __m512 p = _mm512_set1_ps(a.scores[h * n + t]);
        _mm512_storeu_ps(o, _mm512_fmadd_ps(p, vi, _mm512_loadu_ps(o)));
      }
    }
  }
}

}  // namespace medassist::kernels
