// AVX-512 (VNNI) quantized dot kernels for blocks of 32: vpdpbusd on 256-bit lanes (AVX512VL),
// one instruction for what AVX2 does with maddubs + madd. Bit-identical to the scalar reference
// by the lane contract of dot_quant.h. Q4_K / Q6_K: dot_quant_k_tile_avx512.cc. Like
// dot_quant_avx2.cc, this file calls no inline function shared with other files.
#include <immintrin.h>

#include "kernels/dot_quant.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"

namespace medassist::kernels {
namespace {

float Fma(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

float HalfToFloat(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

int32_t Hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// v[i] (8 int32 partial sums each) -> {hsum(v[0]), ..., hsum(v[7])}; exact, any order.
__m256i Hsum8x8(const __m256i* v) {
  const __m256i t01 = _mm256_hadd_epi32(v[0], v[1]), t23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i t45 = _mm256_hadd_epi32(v[4], v[5]), t67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i a = _mm256_hadd_epi32(t01, t23);
  const __m256i b = _mm256_hadd_epi32(t45, t67);
  const __m128i s0123 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  const __m128i s4567 = _mm_add_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  return _mm256_set_m128i(s4567, s0123);
}

// vpdpbusd multiplies unsigned by signed bytes: |w| x (x * sign w), as on AVX2 but with 32-bit
// accumulation inside the instruction (no int16 step at all).
__m256i IsumQ8_0(const BlockQ8_0& w, const BlockQ8_0& x) {
  const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qw), _mm256_sign_epi8(qx, qw));
}

// Nibbles are already unsigned: q . x - 8 * sum(x), both by vpdpbusd.
__m256i IsumQ4_0(const BlockQ4_0& w, const BlockQ8_0& x) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs));
  const __m256i q =
      _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, qx);
  return _mm256_sub_epi32(dot,
                          _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qx));
}

// As Dot32 in dot_quant_avx2.cc: 8 blocks per step into the 8 lanes, the tail block by block.
template <typename WBlock, __m256i (*kIsum)(const WBlock&, const BlockQ8_0&)>
float Dot32(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const WBlock*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  const int64_t nb = n / 32;
  __m256 acc = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + kDotLanes <= nb; b += kDotLanes) {
    __m256i isum[kDotLanes];
    alignas(16) uint16_t dw[kDotLanes], dx[kDotLanes];
    for (int i = 0; i < kDotLanes; ++i) {
      isum[i] = kIsum(w[b + i], x[b + i]);
      dw[i] = w[b + i].d;
      dx[i] = x[b + i].d;
    }
    const __m256 scale =
        _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dw))),
                      _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dx))));
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(Hsum8x8(isum)), acc);
  }
  alignas(32) float lanes[kDotLanes];
  _mm256_store_ps(lanes, acc);
  for (; b < nb; ++b) {
    const float scale = HalfToFloat(w[b].d) * HalfToFloat(x[b].d);
    float& lane = lanes[b % kDotLanes];
    lane = Fma(scale, static_cast<float>(Hsum(kIsum(w[b], x[b]))), lane);
  }
  return ReduceLanes(lanes);
}

// Row by row through the same dot: bit-identical to it by construction.
template <DotFn kDot>
void DotRows(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t n,
             float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = kDot(static_cast<const char*>(w) + r * w_row_bytes, x, n);
  }
}

constexpr DotFn kDotQ8_0 = Dot32<BlockQ8_0, IsumQ8_0>;
constexpr DotFn kDotQ4_0 = Dot32<BlockQ4_0, IsumQ4_0>;
constexpr DotKernel kAvx512Q8_0{WeightFormat::kQ8_0,   Isa::kAvx512,
                                QuantizeRowQ8_0Avx512, kDotQ8_0,
                                DotRows<kDotQ8_0>,     PreparedRowBytesQ8_0};
constexpr DotKernel kAvx512Q4_0{WeightFormat::kQ4_0,   Isa::kAvx512,
                                QuantizeRowQ8_0Avx512, kDotQ4_0,
                                DotRows<kDotQ4_0>,     PreparedRowBytesQ8_0};

}  // namespace

const DotKernel* FindQuantDotKernelAvx512(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ8_0:
      return &kAvx512Q8_0;
    case WeightFormat::kQ4_0:
      return &kAvx512Q4_0;
    default:
      return FindQuantDotKernelKAvx512(f);  // Q4_K, Q6_K: dot_quant_k_tile_avx512.cc
  }
}

}  // namespace medassist::kernels
