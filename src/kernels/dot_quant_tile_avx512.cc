// AVX-512 VNNI prefill tile kernels for Q8_0 / Q4_0 weights x Q8_0 activations (QuantDotTileFn,
// dot_quant.h): kR weight rows x kC activation rows at once. Each weight group (8 blocks of one
// row) is loaded and unpacked once for all kC activation rows, each activation group once for all
// kR weight rows.
//
// Bits: every (row, column) pair follows the lane contract of dot_quant.h exactly as the AVX-512
// dot (dot_quant_avx512.cc) does: each block's integer sum is exact (any association of int32
// adds gives the same integer), then per 8-block group one fma of (d_w * d_x) x float(isum) into
// lane b % 8, the tail blocks one (masked) fma each into the same lanes, then ReduceLanes. So tile
// == dot bit for bit.
//
// Integer form: vpdpbusd multiplies unsigned by signed bytes.
//   Q8_0: x + 128 (x ^ 0x80, unsigned) times w (signed), minus 128 * sum(w): the correction
//         depends on the weight block only, so it is computed once per weight group.
//   Q4_0: nibbles q (unsigned) times x (signed), minus 8 * sum(x): computed once per
//         activation group.
// The correction seeds vpdpbusd's accumulator, so each (row, column, block) costs one vpdpbusd on
// half a zmm. A zmm holds blocks j and j + 4 of a group, which makes the 8 horizontal block sums
// come out in lane order (BlockSums).
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_*)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstddef>
#include <type_traits>

#include "kernels/dot_quant.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr int kGroup = kDotLanes;  // blocks per fma step, one per lane

// The F16 scales of the first count (1..8) of 8 consecutive blocks as floats (zero beyond).
template <typename Block>
__m256 Scales8(const Block* b, int count) {
  alignas(16) uint16_t d[kGroup] = {};
  for (int i = 0; i < count; ++i) d[i] = b[i].d;
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d)));
}

__m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

__m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q4_0 nibbles as 32 unsigned bytes in element order (low nibbles are elements 0..15).
__m256i Nibbles(const BlockQ4_0& w) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}

// z[j]: 8 int32 partial sums of block j (low half) and of block j + 4 (high half), j < 4.
// Returns the 8 exact block sums in block order.
__m256i BlockSums(const __m512i* z) {
  const __m512i a =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
  const __m512i b =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
  // 128-bit lane k of t: {z0, z1, z2, z3 summed over their lane k}.
  const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
  const __m512i even = _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(2, 0, 2, 0));  // lanes 0, 2
  const __m512i odd = _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(3, 1, 3, 1));   // lanes 1, 3
  return _mm256_add_epi32(_mm512_castsi512_si256(even), _mm512_castsi512_si256(odd));
}

// One group's operand of one row: q[j] = blocks j, j + 4; corr[j] the correction seed (zero on
// the side that needs none).
struct Operand {
  __m512i q[4];
  __m512i corr[4];
  __m256 d;
};

// Blocks [count, 8) of a group (the row's tail) are zero on both sides: their integer sums are
// 0 and their lanes are left alone by the masked fma, so no byte past the row is read.
template <typename WBlock>
__m256i WeightQuants(const WBlock* w, int i, int count) {
  if (i >= count) return _mm256_setzero_si256();
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    return Load32(w[i].qs);
  } else {
    return Nibbles(w[i]);
  }
}

__m256i ActivationQuants(const BlockQ8_0* x, int i, int count) {
  return i < count ? Load32(x[i].qs) : _mm256_setzero_si256();
}

template <typename WBlock>
void LoadWeights(const WBlock* w, int count, Operand* o) {
  o->d = Scales8(w, count);
  for (int j = 0; j < 4; ++j) {
    o->q[j] = Join(WeightQuants(w, j, count), WeightQuants(w, j + 4, count));
    if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
      const __m512i s =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), o->q[j]);
      o->corr[j] = _mm512_sub_epi32(_mm512_setzero_si512(), s);  // -128 * sum(w)
    }
  }
}

template <typename WBlock>
void LoadActivations(const BlockQ8_0* x, int count, Operand* o) {
  o->d = Scales8(x, count);
  for (int j = 0; j < 4; ++j) {
    const __m512i q = Join(ActivationQuants(x, j, count), ActivationQuants(x, j + 4, count));
    if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
      o->q[j] = _mm512_xor_si512(q, _mm512_set1_epi8(-128));  // x + 128 as unsigned bytes
    } else {
      o->q[j] = q;
      const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), q);
      o->corr[j] = _mm512_sub_epi32(_mm512_setzero_si512(), s);  // -8 * sum(x)
    }
  }
}

// The 8 exact block sums of one (weight row, activation row) group.
template <typename WBlock>
__m256i GroupIsums(const Operand& w, const Operand& x) {
  __m512i z[4];
  for (int j = 0; j < 4; ++j) {
    if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
      z[j] = _mm512_dpbusd_epi32(w.corr[j], x.q[j], w.q[j]);
    } else {
      z[j] = _mm512_dpbusd_epi32(x.corr[j], w.q[j], x.q[j]);
    }
  }
  return BlockSums(z);
}

// One group of blocks [b, b + count) (count 8 for kFull: no checks in the hot loop) for every
// (row, column) pair: acc[r][c] lane i += scale x isum of block b + i, for i < count only.
template <typename WBlock, int R, int C, bool kFull>
void GroupStep(const std::byte* w, int64_t w_row_bytes, const std::byte* x, int64_t x_stride,
               int64_t b, int count, __m256 (&acc)[R][C]) {
  if constexpr (kFull) count = kGroup;
  const auto mask = static_cast<__mmask8>((1u << count) - 1u);
  Operand wo[R];
  for (int r = 0; r < R; ++r)
    LoadWeights(reinterpret_cast<const WBlock*>(w + r * w_row_bytes) + b, count, &wo[r]);
  for (int c = 0; c < C; ++c) {
    Operand xo;
    LoadActivations<WBlock>(reinterpret_cast<const BlockQ8_0*>(x + c * x_stride) + b, count, &xo);
    for (int r = 0; r < R; ++r) {
      const __m256 scale = _mm256_mul_ps(wo[r].d, xo.d);  // d_w * d_x, as dot
      const __m256 isums = _mm256_cvtepi32_ps(GroupIsums<WBlock>(wo[r], xo));
      if constexpr (kFull) {
        acc[r][c] = _mm256_fmadd_ps(scale, isums, acc[r][c]);
      } else {
        acc[r][c] = _mm256_mask3_fmadd_ps(scale, isums, acc[r][c], mask);
      }
    }
  }
}

// y[c * y_stride + r] = dot(w row r, x row c) for r < R, c < C. Block b always lands in lane
// b % 8 by one fma, as in dot: full groups, then the tail (< 8 blocks) with the other lanes
// masked off.
template <typename WBlock, int R, int C>
void TileFixed(const std::byte* w, int64_t w_row_bytes, const std::byte* x, int64_t x_stride,
               int64_t nb, float* y, int64_t y_stride) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup)
    GroupStep<WBlock, R, C, true>(w, w_row_bytes, x, x_stride, b, kGroup, acc);
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

// Rows in blocks of kR (then 1), activation rows in blocks of kC (then 1). 4 x 4 keeps 4 weight
// groups (in registers or L1) while each activation group serves all 4 rows; measured against
// 4 x 2 and 2 x 4 (10-20% slower) and 4 x 6 (within noise).
template <typename WBlock>
void Tile(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t x_stride,
          int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  constexpr int kR = 4, kC = 4;
  const auto* wb = static_cast<const std::byte*>(w);
  const auto* xb = static_cast<const std::byte*>(x);
  const int64_t nb = n / 32;
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

}  // namespace

QuantDotTileFn QuantDotTileAvx512(WeightFormat format) {
  switch (format) {
    case WeightFormat::kQ8_0:
      return Tile<BlockQ8_0>;
    case WeightFormat::kQ4_0:
      return Tile<BlockQ4_0>;
    default:
      return QuantDotTileKAvx512(format);  // Q4_K, Q6_K
  }
}

}  // namespace medassist::kernels
