// Internal to the AVX-512 panel kernels (dot_quant_tile_avx512.cc, dot_quant_k_panel_avx512.cc):
// the register transposes that turn 16 weight rows into "panel" vectors, in which int32 lane r
// belongs to row r, so vpdpbusd accumulates one (row, column) sum per lane with no horizontal
// reduction. Include only from files compiled with the AVX-512 flags. Every function is static
// (a private copy per file), so no inline function compiled with AVX-512 is shared with
// baseline code (see dot_quant.h).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/dot_quant.h"
#include "kernels/prefetch.h"

#define MEDASSIST_PANEL_INLINE static inline __attribute__((always_inline))

namespace medassist::kernels::panel {

inline constexpr int kRows = 16;  // weight rows per panel: one int32 lane each

// Transposes 8 vectors z[i] = {row i dwords 0..7 | row i + 8 dwords 0..7} into t[k] = dword k of
// rows 0..15: an 8 x 8 dword transpose in each 256-bit half (unpack 32, unpack 64, then 128-bit
// lane moves), rows landing in lane order.
MEDASSIST_PANEL_INLINE void Transpose16x8(const __m512i* z, __m512i* t) {
  __m512i a[8], b[8];
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  // b[0..3]: dwords {0|4, 1|5, 2|6, 3|7} of rows 0-3 (and 8-11); b[4..7] the same of rows 4-7.
  for (int h = 0; h < 2; ++h) {
    const __m512i* s = a + 4 * h;
    b[4 * h + 0] = _mm512_unpacklo_epi64(s[0], s[2]);
    b[4 * h + 1] = _mm512_unpackhi_epi64(s[0], s[2]);
    b[4 * h + 2] = _mm512_unpacklo_epi64(s[1], s[3]);
    b[4 * h + 3] = _mm512_unpackhi_epi64(s[1], s[3]);
  }
  // 128-bit lanes of b[k]: {rows 0-3 dword k, rows 0-3 dword k + 4, rows 8-11 dword k, rows
  // 8-11 dword k + 4}; of b[k + 4] the same for rows 4-7 / 12-15.
  const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
  const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_permutex2var_epi64(b[k], lo, b[k + 4]);
    t[k + 4] = _mm512_permutex2var_epi64(b[k], hi, b[k + 4]);
  }
}

// 32 bytes at p + r * stride for rows r < 16 (rows >= valid_rows read as zeros unless kFull),
// as t[k] = bytes 4k .. 4k + 3 of every row.
template <bool kFull>
MEDASSIST_PANEL_INLINE void LoadTransposed32(const std::byte* p, int64_t stride, int valid_rows,
                                             __m512i* t) {
  const auto row = [&](int r) {
    if (!kFull && r >= valid_rows) return _mm256_setzero_si256();
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + r * stride));
  };
  __m512i z[8];
  for (int i = 0; i < 8; ++i)
    z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(row(i)), row(i + 8), 1);
  Transpose16x8(z, t);
}

// 16 bytes at p + r * stride for rows r < 16 (rows >= valid_rows read as zeros unless kFull),
// as t[k] = bytes 4k .. 4k + 3 of every row: rows i, i + 4, i + 8, i + 12 in the 128-bit lanes
// of z[i], then a 4 x 4 dword transpose per lane, which puts the rows in lane order.
template <bool kFull>
MEDASSIST_PANEL_INLINE void LoadTransposed16(const std::byte* p, int64_t stride, int valid_rows,
                                             __m512i* t) {
  const auto row = [&](int r) {
    if (!kFull && r >= valid_rows) return _mm_setzero_si128();
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + r * stride));
  };
  __m512i z[4];
  for (int i = 0; i < 4; ++i) {
    __m512i v = _mm512_castsi128_si512(row(i));
    v = _mm512_inserti32x4(v, row(i + 4), 1);  // the lane index must be a constant
    v = _mm512_inserti32x4(v, row(i + 8), 2);
    v = _mm512_inserti32x4(v, row(i + 12), 3);
    z[i] = v;
  }
  const __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]), a1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i a2 = _mm512_unpacklo_epi32(z[2], z[3]), a3 = _mm512_unpackhi_epi32(z[2], z[3]);
  t[0] = _mm512_unpacklo_epi64(a0, a2);
  t[1] = _mm512_unpackhi_epi64(a0, a2);
  t[2] = _mm512_unpacklo_epi64(a1, a3);
  t[3] = _mm512_unpackhi_epi64(a1, a3);
}

// The F16 values at p + r * stride (rows >= valid_rows: 0) as 16 floats. Word loads, not
// vpgatherdd: gathers are microcoded slowly on CPUs with the GDS mitigation.
template <bool kFull>
MEDASSIST_PANEL_INLINE __m512 HalfColumn(const std::byte* p, int64_t stride, int valid_rows) {
  alignas(32) uint16_t d[kRows];
  for (int r = 0; r < kRows; ++r) {
    d[r] = 0;
    if (kFull || r < valid_rows) std::memcpy(&d[r], p + r * stride, sizeof d[r]);
  }
  return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d)));
}

// The int32 at p (any alignment) in every lane: vpdpbusd's broadcast operand.
MEDASSIST_PANEL_INLINE __m512i Broadcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// ReduceLanes' tree, ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), for 16 rows at once.
MEDASSIST_PANEL_INLINE __m512 ReduceLanes16(const __m512* l) {
  return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[1]), _mm512_add_ps(l[2], l[3])),
                       _mm512_add_ps(_mm512_add_ps(l[4], l[5]), _mm512_add_ps(l[6], l[7])));
}

// The 16 rows' results of one column: all, or rows < valid_rows.
template <bool kFull>
MEDASSIST_PANEL_INLINE void StoreColumn(float* y, __m512 v, int valid_rows) {
  if constexpr (kFull) {
    _mm512_storeu_ps(y, v);
  } else {
    _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << valid_rows) - 1u), v);
  }
}

// The lane contract of dot_quant.h over one panel (16 rows) x C columns: lane j accumulates
// blocks j, j + 8, j + 16, ... in order (step(b, acc) adds block b's fma(s) into acc[0..C)), then
// ReduceLanes' tree per column, stored for the valid rows.
template <int C, bool kFull, typename Step>
static inline void RunPanel(int64_t n_blocks, int valid_rows, float* y, int64_t y_stride,
                            const Step& step) {
  __m512 lanes[C][kDotLanes];
  for (int j = 0; j < kDotLanes; ++j) {
    __m512 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
    for (int64_t b = j; b < n_blocks; b += kDotLanes) step(b, acc);
    for (int c = 0; c < C; ++c) lanes[c][j] = acc[c];
  }
  for (int c = 0; c < C; ++c)
    StoreColumn<kFull>(y + c * y_stride, ReduceLanes16(lanes[c]), valid_rows);
}

// Every 16-row panel of a tile's rows against one column group of `cols` columns (1 <= cols <=
// kMaxCols): kernel.Panel<C, kFull>(w_panel, valid_rows, y_panel) with the column count as a
// template argument, so a kernel's accumulators stay in registers.
template <int kMaxCols, typename Kernel>
static void RunColumnGroup(const Kernel& kernel, const std::byte* w, int64_t w_row_bytes,
                           int64_t rows, int cols, float* y) {
  if constexpr (kMaxCols > 1) {
    if (cols < kMaxCols) return RunColumnGroup<kMaxCols - 1>(kernel, w, w_row_bytes, rows, cols, y);
  }
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) {
    kernel.template Panel<kMaxCols, true>(w + r * w_row_bytes, kRows, y + r);
  }
  if (r < rows) {
    kernel.template Panel<kMaxCols, false>(w + r * w_row_bytes, static_cast<int>(rows - r), y + r);
  }
}

// Every block of a tile's panels unpacked once per call, for every column group to read (a column
// group redoing the 16-row transpose spent as long on it as on the arithmetic):
// unpack.template Block<kFull>(panel_w, valid_rows, b, &out) fills out for block b (of
// block_bytes per row) of the panel at panel_w. Returns [panel][block], in a per-thread buffer
// grown on demand (a steady prefill allocates nothing). With few activation rows (batched decode)
// this streams the weights from memory like decode, so the next panel's block is prefetched with
// each one (prefetch.h).
template <typename Unpacked, typename Unpack>
static const Unpacked* UnpackTile(const std::byte* w, int64_t w_row_bytes, int64_t rows,
                                  int64_t n_blocks, int64_t block_bytes, const Unpack& unpack) {
  static thread_local std::vector<Unpacked> scratch;
  const int64_t panels = (rows + kRows - 1) / kRows;
  if (static_cast<int64_t>(scratch.size()) < panels * n_blocks) {
    scratch.resize(static_cast<size_t>(panels * n_blocks));
  }
  for (int64_t p = 0; p < panels; ++p) {
    const std::byte* wp = w + p * kRows * w_row_bytes;
    const int valid = static_cast<int>(std::min<int64_t>(kRows, rows - p * kRows));
    Unpacked* out = scratch.data() + p * n_blocks;
    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int r = 0; r < kRows; ++r) {
        PrefetchLines(wp + (kRows + r) * w_row_bytes + b * block_bytes, block_bytes);
      }
      if (valid == kRows) {
        unpack.template Block<true>(wp, valid, b, &out[b]);
      } else {
        unpack.template Block<false>(wp, valid, b, &out[b]);
      }
    }
  }
  return scratch.data();
}

}  // namespace medassist::kernels::panel
