// Internal to the AVX2 kernel files: e^x for the x <= 0 that softmax and the sigmoid need, exactly
// 0 below ln(FLT_MIN). Include only from files compiled with the AVX2 flags; the function is
// static (a private copy per file), so no inline function compiled with AVX2 is shared with
// baseline code.
#pragma once

#include <immintrin.h>

namespace medassist::kernels::vec256 {

// e^x for x <= 0 (softmax arguments), Cephes' expf polynomial: x = n ln2 + r, e^r by a degree-6
// polynomial, times 2^n built in the exponent bits (AVX2 has no vscalefps). Relative error about 2
// ulp down to ln(FLT_MIN); below it, where the result would be subnormal, exactly 0 (and n stays >=
// -126, a normal 2^n).
static inline __m256 ExpNonPositive(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3365447f), _CMP_LT_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.5f));
  const __m256 n = _mm256_round_ps(
      _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)),
      _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  const __m256 pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, pow2n));
}

}  // namespace medassist::kernels::vec256
