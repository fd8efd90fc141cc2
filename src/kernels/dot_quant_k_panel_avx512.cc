// AVX-512 VNNI prefill tiles for Q4_K and Q6_K weights x Q8_K activations (QuantDotTileFn,
// dot_registry.h) in the panel form of dot_quant_tile_avx512.cc: 16 weight rows transposed in
// registers (panel_avx512.h), so that int32 lane r holds row r's sums and vpdpbusd broadcasts
// each activation dword itself; no horizontal reduction per super-block.
//
// Bits: every (row, column) pair follows the lane contract of dot_quant.h exactly as the scalar
// dot does. Per super-block the two integer sums are exact in int32:
//   isum_sc = sum over sub-blocks s of sc[s] * (q . x over s)   (|.| <= 8 * 63 * 32 * 15 * 127)
//   isum_m  = sum over s of m[s] * (bsums[2s] + bsums[2s + 1])
// and super-block b goes into lane b % 8 by fma(d_x * d_w, float(isum_sc), lane) then
// fma(-(d_x * dmin_w), float(isum_m), lane). Here lane j of 16 rows is one vector, filled from
// super-blocks j, j + 8, ... in order, and the 8 lanes are summed by ReduceLanes' tree. So tile ==
// dot bit for bit. Q6_K likewise: isum = sum over its 16 sub-blocks s of sc[s] * (q . x over s)
// - 32 * sum of sc[s] * bsums[s], added by fma(d_x * d_w, float(isum), lane).
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
#include <vector>

#include "kernels/dot_quant.h"
#include "kernels/panel_avx512.h"
#include "kernels/prefetch.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr int kGroupCols = 16;   // activation rows per column group
constexpr int kStackSuper = 64;  // super-blocks per row held on the stack (n <= 16384); longer
                                 // rows put the column group's array on the heap
constexpr int kSubBlocks = 8;    // sub-blocks of 32 per super-block

// What a column group's activation rows contribute per super-block, computed once for all panels:
// bsum_pairs[c][b][i] = an int16 pair of activation sums, vpdpwssd's operand: for Q4_K the sums
// over sub-blocks 2i and 2i + 1 (of 32), for Q6_K bsums[2i] and bsums[2i + 1] (of 16).
struct ActivationGroup {
  const BlockQ8_K* rows[kGroupCols];
  int cols;
  int64_t nb;
  int32_t* bsum_pairs;  // [cols][nb][8]
  int32_t* Pairs(int c, int64_t b) const { return bsum_pairs + (c * nb + b) * 8; }
};

int32_t Pair16(int lo, int hi) {
  return static_cast<int32_t>(static_cast<uint16_t>(lo) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}

template <typename WBlock>
void PrepareGroup(const std::byte* x, int64_t x_stride, int cols, int64_t nb, ActivationGroup* g) {
  g->cols = cols;
  for (int c = 0; c < cols; ++c) {
    g->rows[c] = reinterpret_cast<const BlockQ8_K*>(x + c * x_stride);
    for (int64_t b = 0; b < nb; ++b) {
      const int16_t* bs = g->rows[c][b].bsums;
      int32_t* out = g->Pairs(c, b);
      if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
        for (int i = 0; i < 4; ++i) {  // |sum of 32| <= 32 * 127 fits int16
          out[i] = Pair16(bs[4 * i] + bs[4 * i + 1], bs[4 * i + 2] + bs[4 * i + 3]);
        }
      } else {
        for (int i = 0; i < 8; ++i) out[i] = Pair16(bs[2 * i], bs[2 * i + 1]);
      }
    }
  }
}

// Super-block b's scales of the panel's 16 rows: sc[s] (int32 lanes), the mins as int16 pairs
// (m[2i], m[2i + 1]) per lane for vpdpwssd, d and -dmin as floats.
struct PanelScales {
  __m512i sc[kSubBlocks];
  __m512i m_pairs[kSubBlocks / 2];
  __m512 d, neg_dmin;
};

// vpshufb controls (per 128-bit lane; 0x80 selects zero). pick[k]: byte k of each dword,
// zero-extended. pair[h]: bytes 2h and 2h + 1 of each dword as two int16.
struct ShuffleTables {
  alignas(64) uint8_t pick[4][64];
  alignas(64) uint8_t pair[2][64];
  alignas(64) uint8_t sext_pair[2][64];  // bytes 2h, 2h + 1 of each dword into int16 high bytes
};

constexpr ShuffleTables MakeShuffleTables() {
  ShuffleTables t{};
  for (int i = 0; i < 64; ++i) {
    const int dword = (i % 16) / 4, byte = i % 4;
    for (int k = 0; k < 4; ++k)
      t.pick[k][i] = byte == 0 ? static_cast<uint8_t>(4 * dword + k) : 0x80;
    for (int h = 0; h < 2; ++h) {
      t.pair[h][i] = byte % 2 == 0 ? static_cast<uint8_t>(4 * dword + 2 * h + byte / 2) : 0x80;
      t.sext_pair[h][i] = byte % 2 == 1 ? static_cast<uint8_t>(4 * dword + 2 * h + byte / 2) : 0x80;
    }
  }
  return t;
}

constexpr ShuffleTables kShuffles = MakeShuffleTables();

// GetScaleMinK4 for 16 rows at once. p[i] lane r = bytes 4i .. 4i + 3 of row r's 12 scale bytes:
// u0 = scales 0-3, u1 = scales 4-7, u2 = mins 0-3, u3 = mins 4-7 (one byte each).
template <bool kFull>
void LoadScales(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows,
                PanelScales* s) {
  const std::byte* base = w + b * static_cast<int64_t>(sizeof(BlockQ4_K));
  alignas(64) uint32_t p[3][panel::kRows];
  for (int r = 0; r < panel::kRows; ++r) {
    const bool valid = kFull || r < valid_rows;
    for (int i = 0; i < 3; ++i) p[i][r] = 0;
    if (valid) {
      for (int i = 0; i < 3; ++i) {
        std::memcpy(&p[i][r], base + r * w_row_bytes + offsetof(BlockQ4_K, scales) + 4 * i, 4);
      }
    }
  }
  const __m512i p0 = _mm512_load_si512(p[0]), p1 = _mm512_load_si512(p[1]);
  const __m512i p2 = _mm512_load_si512(p[2]);
  const __m512i low6 = _mm512_set1_epi32(0x3f3f3f3f), low4 = _mm512_set1_epi32(0x0f0f0f0f);
  const __m512i low2 = _mm512_set1_epi32(0x03030303);
  const __m512i u0 = _mm512_and_si512(p0, low6);
  const __m512i u1 =
      _mm512_or_si512(_mm512_and_si512(p2, low4),
                      _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(p0, 6), low2), 4));
  const __m512i u2 = _mm512_and_si512(p1, low6);
  const __m512i u3 =
      _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(p2, 4), low4),
                      _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(p1, 6), low2), 4));
  for (int k = 0; k < 4; ++k) {
    const __m512i sel = _mm512_load_si512(kShuffles.pick[k]);
    s->sc[k] = _mm512_shuffle_epi8(u0, sel);
    s->sc[k + 4] = _mm512_shuffle_epi8(u1, sel);
  }
  const __m512i pair_lo = _mm512_load_si512(kShuffles.pair[0]),
                pair_hi = _mm512_load_si512(kShuffles.pair[1]);
  s->m_pairs[0] = _mm512_shuffle_epi8(u2, pair_lo);
  s->m_pairs[1] = _mm512_shuffle_epi8(u2, pair_hi);
  s->m_pairs[2] = _mm512_shuffle_epi8(u3, pair_lo);
  s->m_pairs[3] = _mm512_shuffle_epi8(u3, pair_hi);
  s->d = panel::HalfColumn<kFull>(base + offsetof(BlockQ4_K, d), w_row_bytes, valid_rows);
  const __m512 dmin =
      panel::HalfColumn<kFull>(base + offsetof(BlockQ4_K, dmin), w_row_bytes, valid_rows);
  s->neg_dmin = _mm512_xor_ps(dmin, _mm512_set1_ps(-0.0f));
}

// Super-block b of the panel against the group's C columns: adds both fmas into acc[c].
template <int C, bool kFull>
void SuperBlock(const std::byte* w, int64_t w_row_bytes, int valid_rows, const ActivationGroup& g,
                int64_t b, __m512* acc) {
  PanelScales s;
  LoadScales<kFull>(w, w_row_bytes, b, valid_rows, &s);
  const std::byte* qs = w + b * static_cast<int64_t>(sizeof(BlockQ4_K)) + offsetof(BlockQ4_K, qs);
  __m512i isum[C];
  for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  // Chunk ch: 32 bytes whose low nibbles are sub-block 2ch, high nibbles sub-block 2ch + 1.
  for (int ch = 0; ch < 4; ++ch) {
    __m512i t[8], lo[8], hi[8];
    panel::LoadTransposed32<kFull>(qs + 32 * ch, w_row_bytes, valid_rows, t);
    for (int k = 0; k < 8; ++k) {
      lo[k] = _mm512_and_si512(t[k], nibble);
      hi[k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), nibble);
    }
    for (int c = 0; c < C; ++c) {
      const int8_t* xq = g.rows[c][b].qs + 64 * ch;
      __m512i sum_lo = _mm512_setzero_si512(), sum_hi = _mm512_setzero_si512();
      for (int k = 0; k < 8; ++k) {
        sum_lo = _mm512_dpbusd_epi32(sum_lo, lo[k], panel::Broadcast32(xq + 4 * k));
        sum_hi = _mm512_dpbusd_epi32(sum_hi, hi[k], panel::Broadcast32(xq + 32 + 4 * k));
      }
      isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_lo, s.sc[2 * ch]));
      isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_hi, s.sc[2 * ch + 1]));
    }
  }
  for (int c = 0; c < C; ++c) {
    __m512i isum_m = _mm512_setzero_si512();
    for (int i = 0; i < kSubBlocks / 2; ++i) {
      isum_m = _mm512_dpwssd_epi32(isum_m, s.m_pairs[i], _mm512_set1_epi32(g.Pairs(c, b)[i]));
    }
    const __m512 dx = _mm512_set1_ps(g.rows[c][b].d);
    acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(dx, s.d), _mm512_cvtepi32_ps(isum[c]), acc[c]);
    acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(dx, s.neg_dmin), _mm512_cvtepi32_ps(isum_m), acc[c]);
  }
}

// Q6_K super-block b's scales of the panel's 16 rows: sc[s] (int32 lanes, signed), the pairs
// (-32 sc[2i], -32 sc[2i + 1]) as int16 for the bsums correction, and d.
struct PanelScalesQ6K {
  __m512i sc[16];
  __m512i neg32_pairs[8];
  __m512 d;
};

template <bool kFull>
void LoadScalesQ6K(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows,
                   PanelScalesQ6K* s) {
  const std::byte* base = w + b * static_cast<int64_t>(sizeof(BlockQ6_K));
  alignas(64) uint32_t p[4][panel::kRows];
  for (int r = 0; r < panel::kRows; ++r) {
    const bool valid = kFull || r < valid_rows;
    for (int i = 0; i < 4; ++i) {
      p[i][r] = 0;
      if (valid)
        std::memcpy(&p[i][r], base + r * w_row_bytes + offsetof(BlockQ6_K, scales) + 4 * i, 4);
    }
  }
  const __m512i pair_lo = _mm512_load_si512(kShuffles.sext_pair[0]);
  const __m512i pair_hi = _mm512_load_si512(kShuffles.sext_pair[1]);
  for (int i = 0; i < 4; ++i) {
    const __m512i v = _mm512_load_si512(p[i]);
    for (int k = 0; k < 4; ++k) {  // sign-extend byte k of each dword
      s->sc[4 * i + k] = _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * k), 24);
    }
    // Bytes (0, 1) and (2, 1 + 2) into the high halves of two int16, arithmetic shift: sign
    // extension; then times -32.
    const __m512i m32 = _mm512_set1_epi16(-32);
    s->neg32_pairs[2 * i] =
        _mm512_mullo_epi16(_mm512_srai_epi16(_mm512_shuffle_epi8(v, pair_lo), 8), m32);
    s->neg32_pairs[2 * i + 1] =
        _mm512_mullo_epi16(_mm512_srai_epi16(_mm512_shuffle_epi8(v, pair_hi), 8), m32);
  }
  s->d = panel::HalfColumn<kFull>(base + offsetof(BlockQ6_K, d), w_row_bytes, valid_rows);
}

// Super-block b of a Q6_K panel against the group's C columns: adds its fma into acc[c].
template <int C, bool kFull>
void SuperBlockQ6K(const std::byte* w, int64_t w_row_bytes, int valid_rows,
                   const ActivationGroup& g, int64_t b, __m512* acc) {
  PanelScalesQ6K s;
  LoadScalesQ6K<kFull>(w, w_row_bytes, b, valid_rows, &s);
  const std::byte* blk = w + b * static_cast<int64_t>(sizeof(BlockQ6_K));
  __m512i isum[C];
  for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    // ql0 / ql1: ql bytes 64h + l and 64h + 32 + l, qh: qh byte 32h + l, for l = 4k .. 4k + 3.
    __m512i ql0[8], ql1[8], qh[8];
    const std::byte* ql = blk + offsetof(BlockQ6_K, ql) + 64 * h;
    panel::LoadTransposed32<kFull>(ql, w_row_bytes, valid_rows, ql0);
    panel::LoadTransposed32<kFull>(ql + 32, w_row_bytes, valid_rows, ql1);
    panel::LoadTransposed32<kFull>(blk + offsetof(BlockQ6_K, qh) + 32 * h, w_row_bytes, valid_rows,
                                   qh);
    // Group q (elements 32q .. 32q + 31 of the half) = sub-blocks 2q (dwords 0-3), 2q + 1.
    for (int q = 0; q < 4; ++q) {
      __m512i wq[8];
      for (int k = 0; k < 8; ++k) {
        const __m512i low = q % 2 == 0 ? ql0[k] : ql1[k];
        const __m512i nib =
            q < 2 ? _mm512_and_si512(low, low4) : _mm512_and_si512(_mm512_srli_epi16(low, 4), low4);
        const __m512i high = q == 0   ? _mm512_slli_epi16(qh[k], 4)
                             : q == 1 ? _mm512_slli_epi16(qh[k], 2)
                             : q == 2 ? qh[k]
                                      : _mm512_srli_epi16(qh[k], 2);
        wq[k] = _mm512_or_si512(nib, _mm512_and_si512(high, bits45));
      }
      const __m512i sc_a = s.sc[8 * h + 2 * q], sc_b = s.sc[8 * h + 2 * q + 1];
      for (int c = 0; c < C; ++c) {
        const int8_t* xq = g.rows[c][b].qs + 128 * h + 32 * q;
        __m512i sum_a = _mm512_setzero_si512(), sum_b = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k) {
          sum_a = _mm512_dpbusd_epi32(sum_a, wq[k], panel::Broadcast32(xq + 4 * k));
          sum_b = _mm512_dpbusd_epi32(sum_b, wq[k + 4], panel::Broadcast32(xq + 16 + 4 * k));
        }
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_a, sc_a));
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_b, sc_b));
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int i = 0; i < 8; ++i) {  // the -32 offset of every quant, through the bsums
      isum[c] = _mm512_dpwssd_epi32(isum[c], s.neg32_pairs[i], _mm512_set1_epi32(g.Pairs(c, b)[i]));
    }
    const __m512 dx = _mm512_set1_ps(g.rows[c][b].d);
    acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(dx, s.d), _mm512_cvtepi32_ps(isum[c]), acc[c]);
  }
}

// ---- Prefill (several activation rows): each super-block of the tile's panels is unpacked once
// per call into registers' worth of memory (quants, scales), then read by every column group;
// the column groups' activations are rearranged block-major. Same integer sums and fmas as the
// functions above, so the same bits.

// One super-block of a panel, unpacked. Sub-block s (32 elements for Q4_K, 16 for Q6_K) has
// quants q[s * kDwords + k] (k < kDwords: 8 for Q4_K, 4 for Q6_K) and int32 scales sc[s].
// pairs: Q4_K's m_pairs[0..3] or Q6_K's neg32_pairs[0..7]; neg_dmin is Q4_K's only.
struct UnpackedSuper {
  __m512i q[64];
  __m512i sc[16];
  __m512i pairs[8];
  __m512 d, neg_dmin;
};

template <typename WBlock, bool kFull>
void UnpackSuper(const std::byte* w, int64_t w_row_bytes, int valid_rows, int64_t b,
                 UnpackedSuper* u) {
  if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
    PanelScales s;
    LoadScales<kFull>(w, w_row_bytes, b, valid_rows, &s);
    for (int i = 0; i < kSubBlocks; ++i) u->sc[i] = s.sc[i];
    for (int i = 0; i < kSubBlocks / 2; ++i) u->pairs[i] = s.m_pairs[i];
    u->d = s.d;
    u->neg_dmin = s.neg_dmin;
    const std::byte* qs = w + b * static_cast<int64_t>(sizeof(BlockQ4_K)) + offsetof(BlockQ4_K, qs);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int ch = 0; ch < 4; ++ch) {  // low nibbles: sub-block 2ch, high: 2ch + 1
      __m512i t[8];
      panel::LoadTransposed32<kFull>(qs + 32 * ch, w_row_bytes, valid_rows, t);
      for (int k = 0; k < 8; ++k) {
        u->q[(2 * ch) * 8 + k] = _mm512_and_si512(t[k], nibble);
        u->q[(2 * ch + 1) * 8 + k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), nibble);
      }
    }
  } else {
    PanelScalesQ6K s;
    LoadScalesQ6K<kFull>(w, w_row_bytes, b, valid_rows, &s);
    for (int i = 0; i < 16; ++i) u->sc[i] = s.sc[i];
    for (int i = 0; i < 8; ++i) u->pairs[i] = s.neg32_pairs[i];
    u->d = s.d;
    const std::byte* blk = w + b * static_cast<int64_t>(sizeof(BlockQ6_K));
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
      __m512i ql0[8], ql1[8], qh[8];
      const std::byte* ql = blk + offsetof(BlockQ6_K, ql) + 64 * h;
      panel::LoadTransposed32<kFull>(ql, w_row_bytes, valid_rows, ql0);
      panel::LoadTransposed32<kFull>(ql + 32, w_row_bytes, valid_rows, ql1);
      panel::LoadTransposed32<kFull>(blk + offsetof(BlockQ6_K, qh) + 32 * h, w_row_bytes,
                                     valid_rows, qh);
      for (int q = 0; q < 4; ++q) {  // sub-blocks 8h + 2q (dwords 0-3) and 8h + 2q + 1 (4-7)
        for (int k = 0; k < 8; ++k) {
          const __m512i low = q % 2 == 0 ? ql0[k] : ql1[k];
          const __m512i nib = q < 2 ? _mm512_and_si512(low, low4)
                                    : _mm512_and_si512(_mm512_srli_epi16(low, 4), low4);
          const __m512i high = q == 0   ? _mm512_slli_epi16(qh[k], 4)
                               : q == 1 ? _mm512_slli_epi16(qh[k], 2)
                               : q == 2 ? qh[k]
                                        : _mm512_srli_epi16(qh[k], 2);
          u->q[(8 * h + 2 * q) * 4 + k] = _mm512_or_si512(nib, _mm512_and_si512(high, bits45));
        }
      }
    }
  }
}

// panel::UnpackTile's unpacker: one super-block of a panel.
template <typename WBlock>
struct SuperUnpacker {
  int64_t w_row_bytes;
  template <bool kFull>
  void Block(const std::byte* w, int valid_rows, int64_t b, UnpackedSuper* out) const {
    UnpackSuper<WBlock, kFull>(w, w_row_bytes, valid_rows, b, out);
  }
};

// A column group's super-block b, block-major: every column's quants at fixed offsets.
struct GroupSuper {
  int8_t q[kGroupCols][kQK_K];
  int32_t pairs[kGroupCols][8];  // as ActivationGroup::Pairs
  float d[kGroupCols];
};

template <typename WBlock>
const GroupSuper* PrepareGroupSuper(const std::byte* x, int64_t x_stride, int cols, int64_t nb) {
  static thread_local std::vector<GroupSuper> buffer;
  if (static_cast<int64_t>(buffer.size()) < nb) buffer.resize(static_cast<size_t>(nb));
  for (int c = 0; c < cols; ++c) {
    const auto* rows = reinterpret_cast<const BlockQ8_K*>(x + c * x_stride);
    for (int64_t b = 0; b < nb; ++b) {
      GroupSuper& g = buffer[static_cast<size_t>(b)];
      std::memcpy(g.q[c], rows[b].qs, kQK_K);
      g.d[c] = rows[b].d;
      const int16_t* bs = rows[b].bsums;
      if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
        for (int i = 0; i < 4; ++i) {
          g.pairs[c][i] = Pair16(bs[4 * i] + bs[4 * i + 1], bs[4 * i + 2] + bs[4 * i + 3]);
        }
      } else {
        for (int i = 0; i < 8; ++i) g.pairs[c][i] = Pair16(bs[2 * i], bs[2 * i + 1]);
      }
    }
  }
  return buffer.data();
}

// An unpacked super-block against the group's C columns, 4 columns at a time with the dword k
// as the inner loop's outer index, so 8 vpdpbusd chains are in flight.
template <typename WBlock, int C>
void SuperBlockUnpacked(const UnpackedSuper& u, const GroupSuper& x, __m512* acc) {
  constexpr bool kQ4K = std::is_same_v<WBlock, BlockQ4_K>;
  constexpr int kSub = kQ4K ? 8 : 16, kDwords = kQ4K ? 8 : 4, kSubElems = 4 * kDwords;
  constexpr int kChunk = 4;
  for (int c0 = 0; c0 < C; c0 += kChunk) {
    __m512i isum[kChunk];
    for (int c = 0; c < kChunk; ++c) isum[c] = _mm512_setzero_si512();
    for (int s = 0; s < kSub; s += 2) {  // two sub-blocks at once: 2 x kChunk chains
      __m512i sum_a[kChunk], sum_b[kChunk];
      for (int c = 0; c < kChunk; ++c) sum_a[c] = sum_b[c] = _mm512_setzero_si512();
      for (int k = 0; k < kDwords; ++k) {
        for (int c = 0; c < kChunk; ++c) {
          if (c0 + c >= C) break;
          const int8_t* xq = x.q[c0 + c] + kSubElems * s + 4 * k;
          sum_a[c] = _mm512_dpbusd_epi32(sum_a[c], u.q[s * kDwords + k], panel::Broadcast32(xq));
          sum_b[c] = _mm512_dpbusd_epi32(sum_b[c], u.q[(s + 1) * kDwords + k],
                                         panel::Broadcast32(xq + kSubElems));
        }
      }
      for (int c = 0; c < kChunk; ++c) {
        if (c0 + c >= C) break;
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_a[c], u.sc[s]));
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(sum_b[c], u.sc[s + 1]));
      }
    }
    for (int c = 0; c < kChunk; ++c) {
      if (c0 + c >= C) break;
      const __m512 dx = _mm512_set1_ps(x.d[c0 + c]);
      if constexpr (kQ4K) {
        __m512i isum_m = _mm512_setzero_si512();
        for (int i = 0; i < kSubBlocks / 2; ++i) {
          isum_m = _mm512_dpwssd_epi32(isum_m, u.pairs[i], _mm512_set1_epi32(x.pairs[c0 + c][i]));
        }
        acc[c0 + c] =
            _mm512_fmadd_ps(_mm512_mul_ps(dx, u.d), _mm512_cvtepi32_ps(isum[c]), acc[c0 + c]);
        acc[c0 + c] =
            _mm512_fmadd_ps(_mm512_mul_ps(dx, u.neg_dmin), _mm512_cvtepi32_ps(isum_m), acc[c0 + c]);
      } else {
        for (int i = 0; i < 8; ++i) {  // the -32 offset of every quant, through the bsums
          isum[c] = _mm512_dpwssd_epi32(isum[c], u.pairs[i], _mm512_set1_epi32(x.pairs[c0 + c][i]));
        }
        acc[c0 + c] =
            _mm512_fmadd_ps(_mm512_mul_ps(dx, u.d), _mm512_cvtepi32_ps(isum[c]), acc[c0 + c]);
      }
    }
  }
}

// The prefill panel kernel of panel::RunColumnGroup (w0: the tile's first row).
template <typename WBlock>
struct UnpackedPanelKernel {
  const GroupSuper* x;
  int64_t nb;
  const std::byte* w0;
  int64_t w_row_bytes, y_stride;
  const UnpackedSuper* unpacked;
  template <int C, bool kFull>
  void Panel(const std::byte* w, int valid_rows, float* y) const {
    const UnpackedSuper* panel = unpacked + (w - w0) / (panel::kRows * w_row_bytes) * nb;
    panel::RunPanel<C, kFull>(nb, valid_rows, y, y_stride, [&](int64_t b, __m512* acc) {
      SuperBlockUnpacked<WBlock, C>(panel[b], x[b], acc);
    });
  }
};

// The panel kernel of panel::RunColumnGroup for one column group.
template <typename WBlock>
struct PanelKernel {
  const ActivationGroup& g;
  int64_t w_row_bytes, y_stride;
  // Decode reads each weight once, from memory: fetch the next panel's block b with this one's
  // (prefetch.h), into L2 only: 16 rows ahead is 18 KB and more, and into L1 it pushed out the
  // lines in use (3B Q4_K_M decode 9.0 -> 10.0 t/s with the L2 hint). Prefill reuses a panel
  // across columns from cache and does not need it.
  bool prefetch_next_panel;
  template <int C, bool kFull>
  void Panel(const std::byte* w, int valid_rows, float* y) const {
    panel::RunPanel<C, kFull>(g.nb, valid_rows, y, y_stride, [&](int64_t b, __m512* acc) {
      if (prefetch_next_panel) {
        const std::byte* next = w + panel::kRows * w_row_bytes + b * sizeof(WBlock);
        for (int r = 0; r < panel::kRows; ++r) {
          PrefetchLinesL2(next + r * w_row_bytes, sizeof(WBlock));
        }
      }
      if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
        SuperBlock<C, kFull>(w, w_row_bytes, valid_rows, g, b, acc);
      } else {
        SuperBlockQ6K<C, kFull>(w, w_row_bytes, valid_rows, g, b, acc);
      }
    });
  }
};

// y[c * y_stride + r] = dot(w row r, x row c) for r < rows, c < n_x.
template <typename WBlock>
void TileK(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t x_stride,
           int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  const int64_t nb = n / kQK_K;
  const auto* wb = static_cast<const std::byte*>(w);
  const auto* xb = static_cast<const std::byte*>(x);
  if (n_x > 1) {
    const UnpackedSuper* unpacked = panel::UnpackTile<UnpackedSuper>(
        wb, w_row_bytes, rows, nb, sizeof(WBlock), SuperUnpacker<WBlock>{w_row_bytes});
    for (int64_t c = 0; c < n_x; c += kGroupCols) {
      const int cols = static_cast<int>(std::min<int64_t>(kGroupCols, n_x - c));
      const GroupSuper* group = PrepareGroupSuper<WBlock>(xb + c * x_stride, x_stride, cols, nb);
      panel::RunColumnGroup<kGroupCols>(
          UnpackedPanelKernel<WBlock>{group, nb, wb, w_row_bytes, y_stride, unpacked}, wb,
          w_row_bytes, rows, cols, y + c * y_stride);
    }
    return;
  }
  // Decode: the panel straight from the weights (unpacking to memory first would only add
  // traffic for a single use).
  alignas(64) int32_t pairs_stack[kGroupCols * kStackSuper * 8];
  std::vector<int32_t> pairs_heap;
  ActivationGroup group{};
  group.nb = nb;
  group.bsum_pairs = pairs_stack;
  if (nb > kStackSuper) {
    pairs_heap.resize(static_cast<size_t>(kGroupCols * nb * 8));
    group.bsum_pairs = pairs_heap.data();
  }
  for (int64_t c = 0; c < n_x; c += kGroupCols) {
    const int cols = static_cast<int>(std::min<int64_t>(kGroupCols, n_x - c));
    PrepareGroup<WBlock>(xb + c * x_stride, x_stride, cols, nb, &group);
    panel::RunColumnGroup<kGroupCols>(PanelKernel<WBlock>{group, w_row_bytes, y_stride, n_x == 1},
                                      wb, w_row_bytes, rows, cols, y + c * y_stride);
  }
}

}  // namespace

QuantDotTileFn QuantPanelTileKAvx512(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ4_K:
      return TileK<BlockQ4_K>;
    case WeightFormat::kQ6_K:
      return TileK<BlockQ6_K>;
    default:
      return nullptr;
  }
}

}  // namespace medassist::kernels
