// AVX-512 VNNI prefill tile kernels for Q8_0 / Q4_0 weights x Q8_0 activations (QuantDotTileFn,
// dot_registry.h), in "row panel" form: 16 weight rows are transposed in registers so that one
// zmm holds the same 4 quants of 16 rows, and each activation dword is broadcast from memory by
// vpdpbusd itself. An int32 lane then accumulates one (row, column, block) sum with no horizontal
// reduction at all, which is what made the earlier pairwise tile spend most of its time shuffling.
//
// Bits: every (row, column) pair follows the lane contract of dot_quant.h exactly as the AVX-512
// dot (dot_quant_avx512.cc) does: each block's integer sum is exact, block b is added into lane
// b % 8 by one fma of (d_w * d_x) x float(isum), the blocks of one lane in increasing order, and
// the 8 lanes are summed by ReduceLanes' tree. Here the 8 lanes of one (row, column) are not the
// lanes of one vector but 8 vectors over 16 rows (Lanes below), filled lane by lane: lane j takes
// blocks j, j + 8, j + 16, ... So tile == dot bit for bit.
//
// Integer form: vpdpbusd multiplies unsigned (weights, in registers) by signed bytes (the
// activation dword it broadcasts):
//   Q8_0: (w + 128) . x - 128 * sum(x)     (w + 128 is w ^ 0x80 as an unsigned byte)
//   Q4_0: q . x - 8 * sum(x)               (nibbles q are unsigned already, value q - 8)
// The correction depends on the activation block only; it is computed once per column group
// (ActivationGroup) and seeds the accumulator.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_*)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "kernels/dot_quant.h"
#include "kernels/panel_avx512.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr int kPanelRows = 16;   // weight rows per panel: one int32 lane each
constexpr int kGroupCols = 8;    // activation rows per column group
constexpr int kMaxBlocks = 512;  // blocks per row a column group's stack arrays hold (n <= 16384)

// The 16 rows' quants of one block as 8 unsigned-byte vectors: t[k] lane r = bytes 4k .. 4k + 3
// of row r's 32 unpacked quants (element order), ready for vpdpbusd against activation dword k.
// Rows >= valid_rows read as zero quants (their lanes are computed but never stored).
struct PanelQuants {
  __m512i t[8];
};

template <bool kFull>
__m128i LoadRow16(const std::byte* p, int r, int valid_rows) {
  if (!kFull && r >= valid_rows) return _mm_setzero_si128();
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Block b of the panel's rows (w = row 0, stride w_row_bytes) as PanelQuants.
template <typename WBlock, bool kFull>
void LoadPanelQuants(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows,
                     PanelQuants* q) {
  const std::byte* base = w + b * static_cast<int64_t>(sizeof(WBlock)) + offsetof(WBlock, qs);
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    panel::LoadTransposed32<kFull>(base, w_row_bytes, valid_rows, q->t);
    const __m512i flip = _mm512_set1_epi8(-128);  // w + 128 as unsigned bytes
    for (int k = 0; k < 8; ++k) q->t[k] = _mm512_xor_si512(q->t[k], flip);
  } else {
    // z[i] 128-bit lane L = row i + 4L's 16 packed bytes; a 4 x 4 dword transpose per lane puts
    // packed dword k of rows 0..15 in lane order; its low nibbles are elements 4k .. 4k + 3,
    // its high nibbles elements 16 + 4k .. 16 + 4k + 3.
    __m512i z[4];
    for (int i = 0; i < 4; ++i) {
      const auto row = [&](int r) {
        return LoadRow16<kFull>(base + r * w_row_bytes, r, valid_rows);
      };
      __m512i v = _mm512_castsi128_si512(row(i));
      v = _mm512_inserti32x4(v, row(i + 4), 1);  // the lane index must be a constant
      v = _mm512_inserti32x4(v, row(i + 8), 2);
      v = _mm512_inserti32x4(v, row(i + 12), 3);
      z[i] = v;
    }
    const __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]), a1 = _mm512_unpackhi_epi32(z[0], z[1]);
    const __m512i a2 = _mm512_unpacklo_epi32(z[2], z[3]), a3 = _mm512_unpackhi_epi32(z[2], z[3]);
    const __m512i packed[4] = {_mm512_unpacklo_epi64(a0, a2), _mm512_unpackhi_epi64(a0, a2),
                               _mm512_unpacklo_epi64(a1, a3), _mm512_unpackhi_epi64(a1, a3)};
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; ++k) {
      q->t[k] = _mm512_and_si512(packed[k], nibble);
      q->t[k + 4] = _mm512_and_si512(_mm512_srli_epi16(packed[k], 4), nibble);
    }
  }
}

// The F16 scales of block b of the panel's 16 rows as floats (rows >= valid_rows: 0).
template <typename WBlock, bool kFull>
__m512 PanelScales(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows) {
  return panel::HalfColumn<kFull>(w + b * static_cast<int64_t>(sizeof(WBlock)), w_row_bytes,
                                  valid_rows);
}

// What a column group's activation rows contribute per block, computed once for all panels:
// the scale d_x as float and the integer correction seed.
struct ActivationGroup {
  const std::byte* rows[kGroupCols];  // the prepared Q8_0 rows
  int cols;
  alignas(64) float d[kGroupCols][kMaxBlocks];
  alignas(64) int32_t corr[kGroupCols][kMaxBlocks];
};

float HalfToFloat(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

template <typename WBlock>
void PrepareGroup(const std::byte* x, int64_t x_stride, int cols, int64_t nb, ActivationGroup* g) {
  constexpr int kOffset = std::is_same_v<WBlock, BlockQ8_0> ? 128 : 8;
  g->cols = cols;
  const __m256i ones = _mm256_set1_epi8(1);
  for (int c = 0; c < cols; ++c) {
    g->rows[c] = x + c * x_stride;
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(g->rows[c]);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
      const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
      g->corr[c][b] = -kOffset * _mm_cvtsi128_si32(s);
      g->d[c][b] = HalfToFloat(blocks[b].d);
    }
  }
}

// The 8 lanes of the lane contract for 16 rows x C columns: lanes[c][j] = lane j of 16 rows.
template <int C>
struct Lanes {
  __m512 v[C][kDotLanes];
};

// One panel (16 weight rows) x C columns: fills the lanes, lane j from blocks j, j + 8, ...
template <typename WBlock, int C, bool kFull>
void PanelLanes(const std::byte* w, int64_t w_row_bytes, int valid_rows, const ActivationGroup& g,
                int64_t nb, Lanes<C>* out) {
  constexpr int64_t kQsOffset = offsetof(BlockQ8_0, qs);
  for (int j = 0; j < kDotLanes; ++j) {
    __m512 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
    for (int64_t b = j; b < nb; b += kDotLanes) {
      PanelQuants q;
      LoadPanelQuants<WBlock, kFull>(w, w_row_bytes, b, valid_rows, &q);
      const __m512 dw = PanelScales<WBlock, kFull>(w, w_row_bytes, b, valid_rows);
      for (int c = 0; c < C; ++c) {
        const std::byte* xq = g.rows[c] + b * static_cast<int64_t>(sizeof(BlockQ8_0)) + kQsOffset;
        __m512i isum = _mm512_set1_epi32(g.corr[c][b]);
        for (int k = 0; k < 8; ++k) {
          isum = _mm512_dpbusd_epi32(isum, q.t[k], panel::Broadcast32(xq + 4 * k));
        }
        const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(g.d[c][b]));  // d_w * d_x
        acc[c] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) out->v[c][j] = acc[c];
  }
}

template <typename WBlock, int C, bool kFull>
void Panel(const std::byte* w, int64_t w_row_bytes, int valid_rows, const ActivationGroup& g,
           int64_t nb, float* y, int64_t y_stride) {
  Lanes<C> lanes;
  PanelLanes<WBlock, C, kFull>(w, w_row_bytes, valid_rows, g, nb, &lanes);
  for (int c = 0; c < C; ++c) {
    panel::StoreColumn<kFull>(y + c * y_stride, panel::ReduceLanes16(lanes.v[c]), valid_rows);
  }
}

// Every panel of the tile's rows against one column group of C columns.
template <typename WBlock, int C>
void PanelsOfGroup(const std::byte* w, int64_t w_row_bytes, int64_t rows, const ActivationGroup& g,
                   int64_t nb, float* y, int64_t y_stride) {
  int64_t r = 0;
  for (; r + kPanelRows <= rows; r += kPanelRows) {
    Panel<WBlock, C, true>(w + r * w_row_bytes, w_row_bytes, kPanelRows, g, nb, y + r, y_stride);
  }
  if (r < rows) {
    Panel<WBlock, C, false>(w + r * w_row_bytes, w_row_bytes, static_cast<int>(rows - r), g, nb,
                            y + r, y_stride);
  }
}

// Column count as a template argument, so the accumulators stay in registers.
template <typename WBlock, int C = kGroupCols>
void DispatchCols(const std::byte* w, int64_t w_row_bytes, int64_t rows, const ActivationGroup& g,
                  int64_t nb, float* y, int64_t y_stride) {
  if constexpr (C > 1) {
    if (g.cols < C) return DispatchCols<WBlock, C - 1>(w, w_row_bytes, rows, g, nb, y, y_stride);
  }
  PanelsOfGroup<WBlock, C>(w, w_row_bytes, rows, g, nb, y, y_stride);
}

// y[c * y_stride + r] = dot(w row r, x row c) for r < rows, c < n_x.
template <typename WBlock>
void Tile(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t x_stride,
          int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  const int64_t nb = n / 32;
  CHECK(nb <= kMaxBlocks) << "Q8_0 / Q4_0 tile: rows of " << n << " elements exceed "
                          << kMaxBlocks * 32;
  const auto* wb = static_cast<const std::byte*>(w);
  const auto* xb = static_cast<const std::byte*>(x);
  ActivationGroup group;
  for (int64_t c = 0; c < n_x; c += kGroupCols) {
    const int cols = static_cast<int>(std::min<int64_t>(kGroupCols, n_x - c));
    PrepareGroup<WBlock>(xb + c * x_stride, x_stride, cols, nb, &group);
    DispatchCols<WBlock>(wb, w_row_bytes, rows, group, nb, y + c * y_stride, y_stride);
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
