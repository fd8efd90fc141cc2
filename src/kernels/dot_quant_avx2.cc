// AVX2 quantized dot kernels (maddubs / madd), bit-identical to the scalar reference in
// dot_quant.cc by the lane contract of dot_quant.h. Integer block dots are exact; the per-block
// float work is the same fma into lane b % 8. This file calls no inline function shared with
// other files (see ReduceLanes), only intrinsics and its own anonymous-namespace helpers.
#include <immintrin.h>

#include "kernels/dot_quant.h"
#include "kernels/prefetch.h"
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
  const __m256i a = _mm256_hadd_epi32(t01, t23);  // [0..3 low halves | 0..3 high halves]
  const __m256i b = _mm256_hadd_epi32(t45, t67);
  const __m128i s0123 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  const __m128i s4567 = _mm_add_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  return _mm256_set_m128i(s4567, s0123);
}

// 32 signed bytes . 32 signed bytes as 8 int32 partial sums: |w| (unsigned) x (x * sign w).
// No int16 saturation: |w| <= 128 and |x| <= 127 (activation quants), 2 * 128 * 127 < 32768.
__m256i SignedDot(__m256i w, __m256i x) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

__m256i IsumQ8_0(const BlockQ8_0& w, const BlockQ8_0& x) {
  return SignedDot(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs)),
                   _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)));
}

// Nibbles to bytes in element order (low nibbles are elements 0..15), minus 8.
__m256i IsumQ4_0(const BlockQ4_0& w, const BlockQ8_0& x) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs));
  __m256i q = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  q = _mm256_sub_epi8(_mm256_and_si256(q, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
  return SignedDot(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)));
}

// Q5_0: nibbles as for Q4_0, plus bit i of qh as 0x10 in byte i (element i), minus 16. Byte i
// takes qh byte i / 8 (shuffle) and tests bit i % 8 of it.
__m256i IsumQ5_0(const BlockQ5_0& w, const BlockQ8_0& x) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs));
  __m256i q =
      _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  const __m256i bytes =
      _mm256_shuffle_epi8(_mm256_broadcastd_epi32(_mm_loadu_si32(w.qh)),
                          _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                            0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  const __m256i high = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);  // 0xFF where set
  q = _mm256_or_si256(q, _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
  q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
  return SignedDot(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)));
}

// Blocks of 32 (Q8_0 / Q4_0 / Q5_0 weights, Q8_0 activations): 8 blocks per step, their 8 integer
// sums and 8 scales side by side, one fma into the 8 lanes; the tail block by block.
template <typename WBlock, __m256i (*kIsum)(const WBlock&, const BlockQ8_0&)>
float Dot32(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const WBlock*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  const int64_t nb = n / 32;
  __m256 acc = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + kDotLanes <= nb; b += kDotLanes) {
    // The weight stream 4 KiB ahead, across row ends (a matrix's rows are contiguous).
    PrefetchLines(reinterpret_cast<const char*>(w + b) + kPrefetchAheadBytes,
                  kDotLanes * sizeof(WBlock));
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

// One Q4_K super-block: sum_s sc[s] * (nibbles . x) and sum_s m[s] * (sum of x in s).
void IsumQ4_K(const BlockQ4_K& w, const BlockQ8_K& x, int32_t* isum_sc, int32_t* isum_m) {
  const uint8_t* p = w.scales;
  uint8_t sc[8], m[8];  // GetScaleMinK4, written out here (see the file comment)
  for (int j = 0; j < 4; ++j) {
    sc[j] = p[j] & 63;
    m[j] = p[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((p[j + 8] & 0xF) | ((p[j] >> 6) << 4));
    m[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4));
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i acc = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {  // chunk c: sub-block 2c in low nibbles, 2c + 1 in high
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
    const __m256i lo = _mm256_and_si256(q, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    const auto* xq = reinterpret_cast<const __m256i*>(x.qs + 64 * c);
    const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(xq));      // <= 3810
    const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256(xq + 1));  // per int16
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * c])));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * c + 1])));
  }
  *isum_sc = Hsum(acc);
  // bsums[2s], bsums[2s + 1] belong to sub-block s.
  const __m256i mins = _mm256_set_epi16(m[7], m[7], m[6], m[6], m[5], m[5], m[4], m[4], m[3], m[3],
                                        m[2], m[2], m[1], m[1], m[0], m[0]);
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  *isum_m = Hsum(_mm256_madd_epi16(bsums, mins));
}

float DotQ4_K(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(w_row);
  const auto* x = static_cast<const BlockQ8_K*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    PrefetchLines(reinterpret_cast<const char*>(w + b) + kPrefetchAheadBytes, sizeof(BlockQ4_K));
    int32_t isum_sc, isum_m;
    IsumQ4_K(w[b], x[b], &isum_sc, &isum_m);
    float& lane = lanes[b % kDotLanes];
    lane = Fma(x[b].d * HalfToFloat(w[b].d), static_cast<float>(isum_sc), lane);
    lane = Fma(-(x[b].d * HalfToFloat(w[b].dmin)), static_cast<float>(isum_m), lane);
  }
  return ReduceLanes(lanes);
}

// One Q6_K super-block: sum_s scales[s] * ((q - 32) . x), as sum_s scales[s] * (q . x) minus
// 32 * sum_s scales[s] * bsums[s] (q unsigned 0..63 suits maddubs; bsums give the offset).
int32_t IsumQ6_K(const BlockQ6_K& w, const BlockQ8_K& x) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  __m256i acc = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh + 32 * h));
    const __m256i q[4] = {
        _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
        _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                        _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)),
    };
    const int8_t* sc = w.scales + 8 * h;
    for (int k = 0; k < 4; ++k) {  // elements 32k .. 32k + 31 of the half: sub-blocks 2k, 2k + 1
      const __m256i xv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 128 * h + 32 * k));
      const __m256i p = _mm256_maddubs_epi16(q[k], xv);  // |.| <= 2 * 63 * 127
      const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
    }
  }
  const __m256i scales =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  return Hsum(acc) - 32 * Hsum(_mm256_madd_epi16(scales, bsums));
}

float DotQ6_K(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  const auto* x = static_cast<const BlockQ8_K*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    PrefetchLines(reinterpret_cast<const char*>(w + b) + kPrefetchAheadBytes, sizeof(BlockQ6_K));
    float& lane = lanes[b % kDotLanes];
    lane = Fma(x[b].d * HalfToFloat(w[b].d), static_cast<float>(IsumQ6_K(w[b], x[b])), lane);
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
constexpr DotFn kDotQ5_0 = Dot32<BlockQ5_0, IsumQ5_0>;
constexpr DotKernel kAvx2Q8_0{WeightFormat::kQ8_0, Isa::kAvx2,          QuantizeRowQ8_0, kDotQ8_0,
                              DotRows<kDotQ8_0>,   PreparedRowBytesQ8_0};
constexpr DotKernel kAvx2Q4_0{WeightFormat::kQ4_0, Isa::kAvx2,          QuantizeRowQ8_0, kDotQ4_0,
                              DotRows<kDotQ4_0>,   PreparedRowBytesQ8_0};
constexpr DotKernel kAvx2Q5_0{WeightFormat::kQ5_0, Isa::kAvx2,          QuantizeRowQ8_0, kDotQ5_0,
                              DotRows<kDotQ5_0>,   PreparedRowBytesQ8_0};
constexpr DotKernel kAvx2Q4_K{WeightFormat::kQ4_K, Isa::kAvx2,          QuantizeRowQ8_K, DotQ4_K,
                              DotRows<DotQ4_K>,    PreparedRowBytesQ8_K};
constexpr DotKernel kAvx2Q6_K{WeightFormat::kQ6_K, Isa::kAvx2,          QuantizeRowQ8_K, DotQ6_K,
                              DotRows<DotQ6_K>,    PreparedRowBytesQ8_K};

}  // namespace

const DotKernel* FindQuantDotKernelAvx2(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ8_0:
      return &kAvx2Q8_0;
    case WeightFormat::kQ4_0:
      return &kAvx2Q4_0;
    case WeightFormat::kQ5_0:
      return &kAvx2Q5_0;
    case WeightFormat::kQ4_K:
      return &kAvx2Q4_K;
    case WeightFormat::kQ6_K:
      return &kAvx2Q6_K;
    default:
      return nullptr;
  }
}

}  // namespace medassist::kernels
