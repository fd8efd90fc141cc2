// AVX-512 RoPE (rope.h), 16 lanes. Rotate-half: lanes are 16 consecutive frequencies, the two
// halves of the head loaded apart. Interleaved: lanes are 8 pairs (x0, x1); cos and sin are
// duplicated to (c, c) per pair, x0 * c - x1 * s is formed in even lanes and x1 * c + x0 * s in odd
// ones (addition commutes: the scalar bits). Tails are masked.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

namespace medassist::kernels {
namespace {

__mmask16 FirstLanes(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// (c0, c0, c1, c1, ..., c7, c7) from 8 floats.
__m512 Duplicate8(__m256 v) {
  const __m512i idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(v));
}

__m512 RotatePairs(__m512 x, __m512 c, __m512 s) {
  const __m512 xc = _mm512_mul_ps(x, c);
  const __m512 swapped_s = _mm512_mul_ps(_mm512_permute_ps(x, 0xB1), s);  // (x1 s, x0 s)
  const __m512 sum = _mm512_add_ps(xc, swapped_s);
  return _mm512_mask_sub_ps(sum, 0x5555, xc, swapped_s);  // even lanes subtract
}

}  // namespace

void RopeRotateHalfAvx512(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                          const float* sin) {
  const int64_t half = head_dim / 2;
  const __mmask16 tail = FirstLanes(half % 16);
  for (int64_t h = 0; h < n_heads; ++h) {
    float* a = x + h * head_dim;
    float* b = a + half;
    int64_t i = 0;
    for (; i + 16 <= half; i += 16) {
      const __m512 x0 = _mm512_loadu_ps(a + i), x1 = _mm512_loadu_ps(b + i);
      const __m512 c = _mm512_loadu_ps(cos + i), s = _mm512_loadu_ps(sin + i);
      _mm512_storeu_ps(a + i, _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, s)));
      _mm512_storeu_ps(b + i, _mm512_add_ps(_mm512_mul_ps(x0, s), _mm512_mul_ps(x1, c)));
    }
    if (i < half) {
      const __m512 x0 = _mm512_maskz_loadu_ps(tail, a + i);
      const __m512 x1 = _mm512_maskz_loadu_ps(tail, b + i);
      const __m512 c = _mm512_maskz_loadu_ps(tail, cos + i);
      const __m512 s = _mm512_maskz_loadu_ps(tail, sin + i);
      _mm512_mask_storeu_ps(a + i, tail, _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, s)));
      _mm512_mask_storeu_ps(b + i, tail, _mm512_add_ps(_mm512_mul_ps(x0, s), _mm512_mul_ps(x1, c)));
    }
  }
}

void RopeInterleavedAvx512(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                           const float* sin) {
  const int64_t half = head_dim / 2;
  const int64_t rem = half % 8;  // pairs in the last partial group
  const __mmask16 tail = FirstLanes(2 * rem);
  const auto tail_table = static_cast<__mmask8>(FirstLanes(rem));
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    int64_t i = 0;  // frequency; pair i is head[2i], head[2i + 1]
    for (; i + 8 <= half; i += 8) {
      const __m512 c = Duplicate8(_mm256_loadu_ps(cos + i));
      const __m512 s = Duplicate8(_mm256_loadu_ps(sin + i));
      _mm512_storeu_ps(head + 2 * i, RotatePairs(_mm512_loadu_ps(head + 2 * i), c, s));
    }
    if (i < half) {
      const __m512 c = Duplicate8(_mm256_maskz_loadu_ps(tail_table, cos + i));
      const __m512 s = Duplicate8(_mm256_maskz_loadu_ps(tail_table, sin + i));
      const __m512 v = _mm512_maskz_loadu_ps(tail, head + 2 * i);
      _mm512_mask_storeu_ps(head + 2 * i, tail, RotatePairs(v, c, s));
    }
  }
}

}  // namespace medassist::kernels
