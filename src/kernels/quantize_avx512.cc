// AVX-512 twin of QuantizeRowQ8_0 (quantize.cc), the activation quantizer of the Q8_0 / Q4_0 /
// Q5_0 dot kernels: a prefill quantizes every activation row once per projection, so the scalar
// loop with its roundf calls showed up at ~10% of prompt processing. Same bytes as the scalar
// code for every input (tests/kernels/quant_dot_test.cc), so kernels may pick either:
//   * amax by max(|x|, amax) lane-wise: like std::max(amax, |x|), a NaN element is skipped;
//   * d and 1 / d in scalar float, d stored through F32ToF16, exactly as the scalar code;
//   * round half away from zero (std::round): t = floor(|v|), + 1 when |v| - t >= 0.5 (exact),
//     sign restored; clamp to [-127, 127].
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>

#include "core/check.h"
#include "kernels/dot_quant.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr float kMaxHalf = 65504.0f;  // as quantize.cc: scales saturate instead of becoming inf

// std::round(v), then std::clamp(., -127, 127), as int32 lanes.
__m512i RoundClamp127(__m512 v) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_andnot_ps(sign, v);
  const __m512 t = _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(a, t), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 r = _mm512_mask_add_ps(t, up, t, _mm512_set1_ps(1.0f));
  const __m512 signed_r = _mm512_or_ps(r, _mm512_and_ps(sign, v));
  const __m512 clamped =
      _mm512_min_ps(_mm512_max_ps(signed_r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  return _mm512_cvttps_epi32(clamped);
}

}  // namespace

void QuantizeRowQ8_0Avx512(const float* x, int64_t n, void* out) {
  CHECK(n % kQK8_0 == 0) << "Q8_0 row of " << n << " elements";
  auto* y = static_cast<BlockQ8_0*>(out);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    // max(|x|, amax): the second operand wins when the first is NaN, as in std::max(amax, |x|).
    __m512 amax16 = _mm512_max_ps(_mm512_andnot_ps(sign, lo), _mm512_setzero_ps());
    amax16 = _mm512_max_ps(_mm512_andnot_ps(sign, hi), amax16);
    const float amax = _mm512_reduce_max_ps(amax16);
    const float d = std::min(amax / 127.0f, kMaxHalf);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    const __m512 scale = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs),
                     _mm512_cvtepi32_epi8(RoundClamp127(_mm512_mul_ps(lo, scale))));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16),
                     _mm512_cvtepi32_epi8(RoundClamp127(_mm512_mul_ps(hi, scale))));
  }
}

}  // namespace medassist::kernels
