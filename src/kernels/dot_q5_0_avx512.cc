// AVX-512 (VNNI) kernel for Q5_0 weights x Q8_0 activations: dot, dot_rows and the prefill tile,
// all bit-identical to the scalar reference DotQ5_0 (dot_quant.cc) by the lane contract of
// dot_quant.h. (Q5_0 is what llama.cpp's Q4_K_M files hold for rows that are not whole 256-element
// K blocks, e.g. every 896-column matrix of Qwen2.5-0.5B.)
//
// Per block the integer sum is (q - 16) . x = q . x - 16 * sum(x) with q in [0, 31] unsigned,
// which suits vpdpbusd (unsigned x signed bytes). The 5th bits come straight from qh as a byte
// mask (bit i of qh belongs to element i, and the unpacked quants are in element order), so they
// cost one masked add. The -16 * sum(x) correction depends on the activations only: it is
// computed once per group of 8 blocks and seeds the vpdpbusd accumulator of every weight row.
//
// dot_rows runs kRowsPerPass weight rows per pass over the activation row, sharing each
// activation group's loads and correction across them; every row still sees exactly the
// operations dot does (the same integer sums, one fma per block into lane b % 8, blocks of a lane
// in increasing order, the tail group's fma masked to its blocks), so dot_rows == dot bit for bit.
// A zmm holds blocks j and j + 4 of a group, so the 8 block sums come out in lane order. The
// prefill tile is the 16-row panel of dot_quant_tile_avx512.cc.
// Like dot_quant_avx512.cc, this file calls no inline function shared with other files.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_*)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/dot_quant.h"
#include "kernels/prefetch.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"

namespace medassist::kernels {
namespace {

constexpr int kGroup = kDotLanes;  // blocks per fma step, one per lane
constexpr int kRowsPerPass = 4;

__m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

__m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

uint64_t HighBits(const BlockQ5_0& w) {
  return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_loadu_si32(w.qh)));
}

// The quants q in [0, 31] of blocks a (low half) and b (high half), unsigned bytes in element
// order: 128-bit lanes {a.qs low nibbles, a.qs high nibbles, b.qs low, b.qs high}, and the 5th
// bits from qh as a byte mask. Either block may be absent (nullptr): zero quants.
__m512i Quants(const BlockQ5_0* a, const BlockQ5_0* b) {
  const __m256i ra =
      a != nullptr
          ? _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->qs)))
          : _mm256_setzero_si256();
  const __m256i rb =
      b != nullptr
          ? _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs)))
          : _mm256_setzero_si256();
  const __m512i raw = Join(ra, rb);
  // Lanes 1 and 3 (64-bit elements 2, 3, 6, 7) take the high nibbles.
  const __m512i q = _mm512_and_si512(_mm512_mask_blend_epi64(0xCC, raw, _mm512_srli_epi16(raw, 4)),
                                     _mm512_set1_epi8(0x0F));
  const uint64_t high = (a != nullptr ? HighBits(*a) : 0) | (b != nullptr ? HighBits(*b) : 0) << 32;
  return _mm512_mask_add_epi8(q, static_cast<__mmask64>(high), q, _mm512_set1_epi8(0x10));
}

// The F16 scales of blocks [0, count) of b as floats, zero beyond.
template <typename Block>
__m256 Scales(const Block* b, int count) {
  alignas(16) uint16_t d[kGroup] = {};
  for (int i = 0; i < count; ++i) d[i] = b[i].d;
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d)));
}

// z[j]: 8 int32 partial sums of block j (low half) and of block j + 4 (high half), j < 4.
// Returns the 8 exact block sums in block order.
__m256i BlockSums(const __m512i* z) {
  // Within each 128-bit lane: {z0, z1, z2, z3} each summed over that lane's 4 int32.
  const __m512i a =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
  const __m512i b =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
  const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
  // 128-bit lanes 0, 1 belong to blocks 0..3, lanes 2, 3 to blocks 4..7.
  const __m256i lo = _mm512_castsi512_si256(t), hi = _mm512_extracti64x4_epi64(t, 1);
  return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20),
                          _mm256_permute2x128_si256(lo, hi, 0x31));
}

// One group of count blocks (1..8) starting at block b, for kRows weight rows x kCols activation
// rows: acc[r][c] gets one fma per block into the block's lane. Each weight row's quants are
// unpacked once for all kCols activation rows, each activation row's loads and correction made
// once for all kRows weight rows. count is a constant 8 for all groups but the tail.
template <int kRows, int kCols>
__attribute__((always_inline)) inline void Group(const BlockQ5_0* const* w,
                                                 const BlockQ8_0* const* x, int64_t b, int count,
                                                 __m256 (*acc)[kCols]) {
  __m512i wq[kRows][4];
  __m256 dw[kRows];
  for (int r = 0; r < kRows; ++r) {
    const BlockQ5_0* wb = w[r] + b;
    for (int j = 0; j < 4; ++j) {
      wq[r][j] = Quants(count > j ? &wb[j] : nullptr, count > j + 4 ? &wb[j + 4] : nullptr);
    }
    dw[r] = Scales(wb, count);
  }
  const __m512i zero = _mm512_setzero_si512();
  const auto lanes = static_cast<__mmask8>((1u << count) - 1);
  for (int c = 0; c < kCols; ++c) {
    const BlockQ8_0* xb = x[c] + b;
    __m512i xq[4], seed[4];
    for (int j = 0; j < 4; ++j) {
      const __m256i lo = count > j ? Load32(xb[j].qs) : _mm256_setzero_si256();
      const __m256i hi = count > j + 4 ? Load32(xb[j + 4].qs) : _mm256_setzero_si256();
      xq[j] = Join(lo, hi);
      seed[j] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(16), xq[j]));
    }
    const __m256 dx = Scales(xb, count);
    for (int r = 0; r < kRows; ++r) {
      __m512i z[4];
      for (int j = 0; j < 4; ++j) z[j] = _mm512_dpbusd_epi32(seed[j], wq[r][j], xq[j]);
      const __m256 scale = _mm256_mul_ps(dw[r], dx);
      acc[r][c] = _mm256_mask3_fmadd_ps(scale, _mm256_cvtepi32_ps(BlockSums(z)), acc[r][c], lanes);
    }
  }
}

// y[c * y_stride + r] = dot of weight row w[r] with activation row x[c], n = 32 * nb elements.
// prefetch_bytes > 0 (decode): also fetch each row's group that many bytes further on, the
// next pass's rows (prefetch.h).
template <int kRows, int kCols>
void Pass(const BlockQ5_0* const* w, const BlockQ8_0* const* x, int64_t nb, float* y,
          int64_t y_stride, int64_t prefetch_bytes = 0) {
  __m256 acc[kRows][kCols];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup) {
    if (prefetch_bytes > 0) {
      for (int r = 0; r < kRows; ++r) {
        PrefetchLines(reinterpret_cast<const char*>(w[r] + b) + prefetch_bytes,
                      kGroup * sizeof(BlockQ5_0));
      }
    }
    Group<kRows, kCols>(w, x, b, kGroup, acc);
  }
  if (b < nb) Group<kRows, kCols>(w, x, b, static_cast<int>(nb - b), acc);
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      alignas(32) float lanes[kDotLanes];
      _mm256_store_ps(lanes, acc[r][c]);
      y[c * y_stride + r] = ReduceLanes(lanes);
    }
  }
}

const BlockQ5_0* WeightRow(const void* w, int64_t w_row_bytes, int64_t r) {
  return reinterpret_cast<const BlockQ5_0*>(static_cast<const char*>(w) + r * w_row_bytes);
}

float DotQ5_0(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  float out;
  Pass<1, 1>(&w, &x, n / kQK5_0, &out, 0);
  return out;
}

void DotRowsQ5_0(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared,
                 int64_t n, float* out) {
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  int64_t r = 0;
  for (; r + kRowsPerPass <= rows; r += kRowsPerPass) {
    const BlockQ5_0* wr[kRowsPerPass];
    for (int i = 0; i < kRowsPerPass; ++i) wr[i] = WeightRow(w, w_row_bytes, r + i);
    Pass<kRowsPerPass, 1>(wr, &x, n / kQK5_0, out + r, 0, kRowsPerPass * w_row_bytes);
  }
  for (; r < rows; ++r) {
    const BlockQ5_0* wr = WeightRow(w, w_row_bytes, r);
    Pass<1, 1>(&wr, &x, n / kQK5_0, out + r, 0);
  }
}

constexpr DotKernel kAvx512Q5_0{WeightFormat::kQ5_0,   Isa::kAvx512,
                                QuantizeRowQ8_0Avx512, DotQ5_0,
                                DotRowsQ5_0,           PreparedRowBytesQ8_0};

}  // namespace

const DotKernel* QuantDotKernelQ5_0Avx512() { return &kAvx512Q5_0; }

}  // namespace medassist::kernels
