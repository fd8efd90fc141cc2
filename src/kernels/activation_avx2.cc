// AVX2 SiLU-gate (activation.h): as the AVX-512 variant, 8 lanes; the tail runs through a
// zero-padded buffer.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/exp_avx2.h"

namespace medassist::kernels {
namespace {

__m256 SiluTimes(__m256 g, __m256 u) {
  const __m256 abs_g = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), g);
  const __m256 e = vec256::ExpNonPositive(_mm256_sub_ps(_mm256_setzero_ps(), abs_g));
  const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  const __m256 negative = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 sigmoid = _mm256_blendv_ps(inv, _mm256_mul_ps(inv, e), negative);
  return _mm256_mul_ps(_mm256_mul_ps(g, sigmoid), u);
}

}  // namespace

void SiluGateAvx2(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(gate + i, SiluTimes(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    alignas(32) float g[8] = {}, u[8] = {};
    std::copy(gate + i, gate + n, g);
    std::copy(up + i, up + n, u);
    _mm256_store_ps(g, SiluTimes(_mm256_load_ps(g), _mm256_load_ps(u)));
    std::copy(g, g + (n - i), gate + i);
  }
}

}  // namespace medassist::kernels
