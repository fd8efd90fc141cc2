// AVX-512 (VNNI) kernels for the K-quants, Q4_K / Q6_K weights x Q8_K activations: the prefill
// tile (QuantDotTileFn, dot_registry.h) and, as its 1-activation-row case, the decode dot and
// dot_rows. kR weight rows x kC activation rows at once: each weight super-block is unpacked
// (nibbles / 6-bit quants to bytes, sub-block scales to int16 vectors) once for all kC activation
// rows, each activation super-block loaded once for all kR weight rows.
//
// Bits: every (row, column) pair follows the lane contract of dot_quant.h exactly as the scalar
// dot (dot_quant.cc) does. Each super-block's integer sums are exact (maddubs: |.| <= 2 * 63 *
// 127 fits int16; vpdpwssd multiplies by the sub-block scales into int32; any association of
// int32 adds gives the same integer). Per group of 8 super-blocks (one per lane):
//   Q4_K: lane = fma(d_x * d_w, float(isum_sc), lane); lane = fma(-(d_x * dmin_w),
//         float(isum_m), lane)
//   Q6_K: lane = fma(d_x * d_w, float(isum), lane)
// the tail super-blocks with the other lanes masked off, then ReduceLanes. So tile == dot.
// Like the other ISA files, this file calls no inline function shared with other files.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_*)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/dot_quant.h"
#include "kernels/prefetch.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"

namespace medassist::kernels {
namespace {

constexpr int kGroup = kDotLanes;  // super-blocks per fma step, one per lane

__m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

__m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
__m512i Load64(const void* p) { return _mm512_loadu_si512(p); }

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

__m256i Fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// One Q8_K super-block: q[j] = elements 64j .. 64j + 63, bsums as 16 int16.
struct XBlock {
  __m512i q[4];
  __m256i bsums;
};

XBlock LoadX(const BlockQ8_K& x) {
  XBlock o;
  for (int j = 0; j < 4; ++j) o.q[j] = Load64(x.qs + 64 * j);
  o.bsums = Load32(x.bsums);
  return o;
}

// Q4_K: q[c] = sub-blocks 2c (low 256 bits) and 2c + 1 (high) as unsigned bytes, in the element
// order of the activations; sc[c] their scales as int16 (16 each); m the mins paired with bsums.
struct Q4KBlock {
  __m512i q[4];
  __m512i sc[4];
  __m256i m;
};

Q4KBlock UnpackQ4K(const BlockQ4_K& w) {
  // GetScaleMinK4 for all 8 sub-blocks at once, 4 bytes at a time: u[0..1] = the 8 scales,
  // u[2..3] = the 8 mins.
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t p[3];
  std::memcpy(p, w.scales, sizeof(p));
  const uint32_t u0 = p[0] & kLow6;
  const uint32_t u1 = (p[2] & kLow4) | (((p[0] >> 6) & kLow2) << 4);
  const uint32_t u2 = p[1] & kLow6;
  const uint32_t u3 = ((p[2] >> 4) & kLow4) | (((p[1] >> 6) & kLow2) << 4);
  const __m512i s = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_setr_epi32(
      static_cast<int>(u0), static_cast<int>(u1), static_cast<int>(u2), static_cast<int>(u3))));
  Q4KBlock o;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // Element e of sc[c] takes scale 2c + e / 16.
  alignas(64) static constexpr int16_t kBase[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const __m512i base = _mm512_load_si512(kBase);
  for (int c = 0; c < 4; ++c) {
    const __m256i raw = Load32(w.qs + 32 * c);
    o.q[c] = _mm512_and_si512(Join(raw, _mm256_srli_epi16(raw, 4)), low4);
    o.sc[c] = _mm512_permutexvar_epi16(_mm512_add_epi16(base, _mm512_set1_epi16(2 * c)), s);
  }
  // bsums[2s], bsums[2s + 1] belong to sub-block s (min 8 + s of the vector).
  const __m256i pair =
      _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  o.m = _mm256_permutexvar_epi16(pair, _mm512_castsi512_si256(s));
  return o;
}

// Q6_K: q[j] = elements 64j .. 64j + 63 as unsigned 6-bit values; 128-bit lane k of q[j] is
// sub-block 4j + k, sc[j] its scales as int16 (8 per lane); neg32 = -32 * scales for the bsums
// (q - 32 = q + the offset folded in through bsums).
struct Q6KBlock {
  __m512i q[4];
  __m512i sc[4];
  __m256i neg32;
};

Q6KBlock UnpackQ6K(const BlockQ6_K& w) {
  Q6KBlock o;
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = Load64(w.ql + 64 * h);
    const __m256i qh = Load32(w.qh + 32 * h);
    o.q[2 * h] = _mm512_or_si512(
        _mm512_and_si512(ql, m4),
        _mm512_and_si512(Join(_mm256_slli_epi16(qh, 4), _mm256_slli_epi16(qh, 2)), m2));
    o.q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                     _mm512_and_si512(Join(qh, _mm256_srli_epi16(qh, 2)), m2));
  }
  const __m256i s16 =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
  const __m512i s = _mm512_castsi256_si512(s16);
  // Element e of sc[j] takes scale 4j + e / 8.
  alignas(64) static constexpr int16_t kBase[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                    2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  const __m512i base = _mm512_load_si512(kBase);
  for (int j = 0; j < 4; ++j)
    o.sc[j] = _mm512_permutexvar_epi16(_mm512_add_epi16(base, _mm512_set1_epi16(4 * j)), s);
  o.neg32 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(s16, 5));
  return o;
}

// The integer sums of one (weight, activation) super-block as 8 int32 partials each.
void BlockPartials(const Q4KBlock& w, const XBlock& x, __m256i* sc, __m256i* m) {
  __m512i acc = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c)
    acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(w.q[c], x.q[c]), w.sc[c]);
  *sc = Fold(acc);
  *m = _mm256_madd_epi16(x.bsums, w.m);
}

void BlockPartials(const Q6KBlock& w, const XBlock& x, __m256i* sum, __m256i* /*unused*/) {
  __m512i acc = _mm512_setzero_si512();
  for (int j = 0; j < 4; ++j)
    acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(w.q[j], x.q[j]), w.sc[j]);
  *sum = _mm256_add_epi32(Fold(acc), _mm256_madd_epi16(x.bsums, w.neg32));
}

template <typename WBlock>
auto Unpack(const WBlock& w) {
  if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
    return UnpackQ4K(w);
  } else {
    return UnpackQ6K(w);
  }
}

constexpr bool HasMins(const BlockQ4_K*) { return true; }
constexpr bool HasMins(const BlockQ6_K*) { return false; }

// The F16 super-scales d (or dmin) of the first count (1..8) of 8 consecutive weight blocks as
// floats (zero beyond).
template <typename WBlock, bool kMin>
__m256 WeightScales(const WBlock* w, int count) {
  alignas(16) uint16_t d[kGroup] = {};
  for (int i = 0; i < count; ++i) {
    if constexpr (kMin) {
      d[i] = w[i].dmin;
    } else {
      d[i] = w[i].d;
    }
  }
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d)));
}

__m256 ActivationScales(const BlockQ8_K* x, int count) {
  alignas(32) float d[kGroup] = {};
  for (int i = 0; i < count; ++i) d[i] = x[i].d;
  return _mm256_load_ps(d);
}

// One group of super-blocks [b, b + count) for every (row, column) pair: lane i of acc[r][c]
// gets super-block b + i's fma(s), for i < count only.
template <typename WBlock, int R, int C, bool kFull>
void GroupStep(const std::byte* w, int64_t w_row_bytes, const std::byte* x, int64_t x_stride,
               int64_t b, int count, __m256 (&acc)[R][C]) {
  constexpr bool kMins = HasMins(static_cast<const WBlock*>(nullptr));
  if constexpr (kFull) count = kGroup;
  const auto wrow = [&](int r) { return reinterpret_cast<const WBlock*>(w + r * w_row_bytes) + b; };
  const auto xrow = [&](int c) { return reinterpret_cast<const BlockQ8_K*>(x + c * x_stride) + b; };
  __m256i ps[R][C][kGroup], pm[R][C][kMins ? kGroup : 1];
  for (int i = 0; i < count; ++i) {
    decltype(Unpack(*wrow(0))) wu[R];
    for (int r = 0; r < R; ++r) wu[r] = Unpack(wrow(r)[i]);
    for (int c = 0; c < C; ++c) {
      const XBlock xb = LoadX(xrow(c)[i]);
      for (int r = 0; r < R; ++r) BlockPartials(wu[r], xb, &ps[r][c][i], &pm[r][c][kMins ? i : 0]);
    }
  }
  if constexpr (!kFull) {
    for (int i = count; i < kGroup; ++i) {
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
          ps[r][c][i] = _mm256_setzero_si256();
          if constexpr (kMins) pm[r][c][i] = _mm256_setzero_si256();
        }
      }
    }
  }
  const auto mask = static_cast<__mmask8>((1u << count) - 1u);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 dw[R], dmin[R];
  for (int r = 0; r < R; ++r) {
    dw[r] = WeightScales<WBlock, false>(wrow(r), count);
    if constexpr (kMins) dmin[r] = WeightScales<WBlock, true>(wrow(r), count);
  }
  for (int c = 0; c < C; ++c) {
    const __m256 dx = ActivationScales(xrow(c), count);
    for (int r = 0; r < R; ++r) {
      const __m256 scale = _mm256_mul_ps(dx, dw[r]);  // d_x * d_w, as dot
      const __m256 isum = _mm256_cvtepi32_ps(Hsum8x8(ps[r][c]));
      __m256& a = acc[r][c];
      if constexpr (kFull) {
        a = _mm256_fmadd_ps(scale, isum, a);
      } else {
        a = _mm256_mask3_fmadd_ps(scale, isum, a, mask);
      }
      if constexpr (kMins) {
        const __m256 mscale = _mm256_xor_ps(_mm256_mul_ps(dx, dmin[r]), sign);  // -(d_x * dmin)
        const __m256 msum = _mm256_cvtepi32_ps(Hsum8x8(pm[r][c]));
        if constexpr (kFull) {
          a = _mm256_fmadd_ps(mscale, msum, a);
        } else {
          a = _mm256_mask3_fmadd_ps(mscale, msum, a, mask);
        }
      }
    }
  }
}

// y[c * y_stride + r] = dot(w row r, x row c) for r < R, c < C. Super-block b always lands in
// lane b % 8, as in dot: full groups, then the tail (< 8 super-blocks) with the other lanes
// masked off.
template <typename WBlock, int R, int C>
void TileFixed(const std::byte* w, int64_t w_row_bytes, const std::byte* x, int64_t x_stride,
               int64_t nb, float* y, int64_t y_stride) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup) {
    // One activation row is decode, which reads each weight once from memory: fetch the next R
    // rows' group with this one (prefetch.h).
    if constexpr (C == 1) {
      for (int r = 0; r < R; ++r) {
        PrefetchLines(w + (R + r) * w_row_bytes + b * sizeof(WBlock), kGroup * sizeof(WBlock));
      }
    }
    GroupStep<WBlock, R, C, true>(w, w_row_bytes, x, x_stride, b, kGroup, acc);
  }
  if (b < nb)
    GroupStep<WBlock, R, C, false>(w, w_row_bytes, x, x_stride, b, static_cast<int>(nb - b), acc);
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      alignas(32) float lanes[kDotLanes];
      _mm256_store_ps(lanes, acc[r][c]);
      y[c * y_stride + r] = ReduceLanes(lanes);
    }
  }
}

// Rows in blocks of kR (then 1), activation rows in blocks of kC (then 1).
template <typename WBlock>
void Tile(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t x_stride,
          int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  constexpr int kR = 4, kC = 4;
  const auto* wb = static_cast<const std::byte*>(w);
  const auto* xb = static_cast<const std::byte*>(x);
  const int64_t nb = n / kQK_K;
  const auto run = [&](auto r_tag, auto c_tag, int64_t r, int64_t c) {
    TileFixed<WBlock, decltype(r_tag)::value, decltype(c_tag)::value>(
        wb + r * w_row_bytes, w_row_bytes, xb + c * x_stride, x_stride, nb, y + c * y_stride + r,
        y_stride);
  };
  using R4 = std::integral_constant<int, kR>;
  using C4 = std::integral_constant<int, kC>;
  using One = std::integral_constant<int, 1>;
  int64_t r = 0;
  for (; r + kR <= rows; r += kR) {
    int64_t c = 0;
    for (; c + kC <= n_x; c += kC) run(R4{}, C4{}, r, c);
    for (; c < n_x; ++c) run(R4{}, One{}, r, c);
  }
  for (; r < rows; ++r) {
    int64_t c = 0;
    for (; c + kC <= n_x; c += kC) run(One{}, C4{}, r, c);
    for (; c < n_x; ++c) run(One{}, One{}, r, c);
  }
}

template <typename WBlock>
float Dot(const void* w_row, const void* x_prepared, int64_t n) {
  float y;
  TileFixed<WBlock, 1, 1>(static_cast<const std::byte*>(w_row), 0,
                          static_cast<const std::byte*>(x_prepared), 0, n / kQK_K, &y, 0);
  return y;
}

// Decode: one activation row through the 16-row panels (dot_quant_k_panel_avx512.cc), below 16
// rows against 4 weight rows at a time (the tile with n_x = 1); each value the same per-pair
// computation as Dot either way.
template <typename WBlock>
void DotRows(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t n,
             float* out) {
  // The Q4_K panel is 1.75x this tile (its per-row scale unpacking dominated). The Q6_K panel was
  // 10% slower than the tile until both prefetched the weights; since then it is 4% faster (3B
  // Q4_K_M decode 8.84 -> 9.2 t/s).
  if (rows >= 16) {
    constexpr WeightFormat kFormat =
        std::is_same_v<WBlock, BlockQ4_K> ? WeightFormat::kQ4_K : WeightFormat::kQ6_K;
    return QuantPanelTileKAvx512(kFormat)(w, w_row_bytes, rows, x, 0, 1, n, out, 0);
  }
  Tile<WBlock>(w, w_row_bytes, rows, x, 0, 1, n, out, 0);
}

constexpr DotKernel kAvx512Q4_K{WeightFormat::kQ4_K, Isa::kAvx512,       QuantizeRowQ8_K,
                                Dot<BlockQ4_K>,      DotRows<BlockQ4_K>, PreparedRowBytesQ8_K};
constexpr DotKernel kAvx512Q6_K{WeightFormat::kQ6_K, Isa::kAvx512,       QuantizeRowQ8_K,
                                Dot<BlockQ6_K>,      DotRows<BlockQ6_K>, PreparedRowBytesQ8_K};

}  // namespace

const DotKernel* FindQuantDotKernelKAvx512(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ4_K:
      return &kAvx512Q4_K;
    case WeightFormat::kQ6_K:
      return &kAvx512Q6_K;
    default:
      return nullptr;
  }
}

QuantDotTileFn QuantDotTileKAvx512(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ4_K:
    case WeightFormat::kQ6_K:
      return QuantPanelTileKAvx512(f);  // 16-row panels: dot_quant_k_panel_avx512.cc
    default:
      return nullptr;
  }
}

}  // namespace medassist::kernels
