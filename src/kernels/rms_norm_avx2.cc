// AVX2 RMSNorm (rms_norm.h): lanes 0-7 of the contract in one register, 8-15 in another; the last
// partial group of 16 runs through a zero-padded buffer (fma(0, 0, lane) == lane, exactly), and
// the lanes are summed by the contract's tree.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/rms_norm.h"

namespace medassist::kernels {

void RmsNormAvx2(const float* x, const float* weight, float eps, int64_t d, float* out) {
  if (d <= 0) return;
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    lo = _mm256_fmadd_ps(a, a, lo);
    hi = _mm256_fmadd_ps(b, b, hi);
  }
  if (i < d) {
    alignas(32) float tail[kRmsNormLanes] = {};
    std::copy(x + i, x + d, tail);
    const __m256 a = _mm256_load_ps(tail), b = _mm256_load_ps(tail + 8);
    lo = _mm256_fmadd_ps(a, a, lo);
    hi = _mm256_fmadd_ps(b, b, hi);
  }
  // Tree: t[j] = l[j] + l[j + 8], then + 4, + 2, + 1.
  const __m256 t8 = _mm256_add_ps(lo, hi);
  const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
  const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
  const __m128 t1 = _mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1));
  const float scale = RmsNormScale(_mm_cvtss_f32(t1), d, eps);

  const __m256 s = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= d; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
  }
  if (i < d) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(d - i)), idx);
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, mask), s);
    _mm256_maskstore_ps(out + i, mask, _mm256_mul_ps(v, _mm256_maskload_ps(weight + i, mask)));
  }
}

}  // namespace medassist::kernels
