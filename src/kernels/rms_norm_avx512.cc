// AVX-512 RMSNorm (rms_norm.h): the contract's 16 lanes are one register; the tail is masked (a
// masked-off lane adds fma(0, 0, lane) == lane, exactly), and the lanes are summed by the
// contract's tree.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

#include "kernels/rms_norm.h"

namespace medassist::kernels {

void RmsNormAvx512(const float* x, const float* weight, float eps, int64_t d, float* out) {
  if (d <= 0) return;
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  const auto tail = static_cast<__mmask16>((1u << (d - i)) - 1u);  // 0 when d % 16 == 0
  if (i < d) {
    const __m512 v = _mm512_maskz_loadu_ps(tail, x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  // Tree: t[j] = l[j] + l[j + 8], then + 4, + 2, + 1.
  const __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
  const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
  const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
  const __m128 t1 = _mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1));
  const float scale = RmsNormScale(_mm_cvtss_f32(t1), d, eps);

  const __m512 s = _mm512_set1_ps(scale);
  for (i = 0; i + 16 <= d; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), s);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(v, _mm512_loadu_ps(weight + i)));
  }
  if (i < d) {
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), s);
    _mm512_mask_storeu_ps(out + i, tail, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(tail, weight + i)));
  }
}

}  // namespace medassist::kernels
