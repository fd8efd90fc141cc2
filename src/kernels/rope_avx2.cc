// AVX2 RoPE (rope.h), 8 lanes. Rotate-half: lanes are 8 consecutive frequencies, the two halves of
// the head loaded apart. Interleaved: lanes are 4 pairs (x0, x1); cos and sin are duplicated to
// (c, c) per pair, and addsub forms x0 * c - x1 * s in even lanes, x1 * c + x0 * s in odd ones
// (addition commutes: the scalar bits). Tails use masked loads and stores.
#include <immintrin.h>

#include <cstdint>

namespace medassist::kernels {
namespace {

// The first n (0..8) lanes.
__m256i FirstLanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// (c0, c0, c1, c1, c2, c2, c3, c3) from (c0, c1, c2, c3).
__m256 Duplicate4(__m128 v) {
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v),
                                  _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
}

__m256 RotatePairs(__m256 x, __m256 c, __m256 s) {
  const __m256 swapped = _mm256_permute_ps(x, 0xB1);  // (x1, x0) per pair
  return _mm256_addsub_ps(_mm256_mul_ps(x, c), _mm256_mul_ps(swapped, s));
}

}  // namespace

void RopeRotateHalfAvx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                        const float* sin) {
  const int64_t half = head_dim / 2;
  const __m256i tail = FirstLanes(half % 8);
  for (int64_t h = 0; h < n_heads; ++h) {
    float* a = x + h * head_dim;
    float* b = a + half;
    int64_t i = 0;
    for (; i + 8 <= half; i += 8) {
      const __m256 x0 = _mm256_loadu_ps(a + i), x1 = _mm256_loadu_ps(b + i);
      const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
      _mm256_storeu_ps(a + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
      _mm256_storeu_ps(b + i, _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
    }
    if (i < half) {
      const __m256 x0 = _mm256_maskload_ps(a + i, tail), x1 = _mm256_maskload_ps(b + i, tail);
      const __m256 c = _mm256_maskload_ps(cos + i, tail), s = _mm256_maskload_ps(sin + i, tail);
      _mm256_maskstore_ps(a + i, tail, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
      _mm256_maskstore_ps(b + i, tail, _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
    }
  }
}

void RopeInterleavedAvx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos,
                         const float* sin) {
  const int64_t half = head_dim / 2;
  const int64_t rem = half % 4;  // pairs in the last partial group
  const __m256i tail = FirstLanes(2 * rem);
  const __m128i tail_table = _mm256_castsi256_si128(FirstLanes(rem));
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    int64_t i = 0;  // frequency; pair i is head[2i], head[2i + 1]
    for (; i + 4 <= half; i += 4) {
      const __m256 c = Duplicate4(_mm_loadu_ps(cos + i)), s = Duplicate4(_mm_loadu_ps(sin + i));
      _mm256_storeu_ps(head + 2 * i, RotatePairs(_mm256_loadu_ps(head + 2 * i), c, s));
    }
    if (i < half) {
      const __m256 c = Duplicate4(_mm_maskload_ps(cos + i, tail_table));
      const __m256 s = Duplicate4(_mm_maskload_ps(sin + i, tail_table));
      const __m256 v = _mm256_maskload_ps(head + 2 * i, tail);
      _mm256_maskstore_ps(head + 2 * i, tail, RotatePairs(v, c, s));
    }
  }
}

}  // namespace medassist::kernels
