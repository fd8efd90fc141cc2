// AVX-512 SiLU-gate (activation.h): silu(g) = g * sigmoid(g) with e = e^-|g| (never overflows):
// sigmoid(g) = 1 / (1 + e) for g >= 0, e / (1 + e) otherwise; the tail is masked.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

#include "kernels/exp_avx512.h"

namespace medassist::kernels {
namespace {

__m512 SiluTimes(__m512 g, __m512 u) {
  const __m512 abs_g = _mm512_abs_ps(g);
  // e^-|g|, exactly 0 below ln(FLT_MIN) (ExpNonPositive clamps its argument at -88 instead).
  const __mmask16 representable = _mm512_cmp_ps_mask(abs_g, _mm512_set1_ps(87.3f), _CMP_LT_OQ);
  const __m512 e = _mm512_maskz_mov_ps(
      representable, vec512::ExpNonPositive(_mm512_sub_ps(_mm512_setzero_ps(), abs_g)));
  const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  const __mmask16 negative = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 sigmoid = _mm512_mask_mul_ps(inv, negative, inv, e);
  return _mm512_mul_ps(_mm512_mul_ps(g, sigmoid), u);
}

}  // namespace

void SiluGateAvx512(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(gate + i, SiluTimes(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const auto tail = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 g = _mm512_maskz_loadu_ps(tail, gate + i);
    _mm512_mask_storeu_ps(gate + i, tail, SiluTimes(g, _mm512_maskz_loadu_ps(tail, up + i)));
  }
}

}  // namespace medassist::kernels
