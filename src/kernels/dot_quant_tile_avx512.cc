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
// lanes of one vector but 8 vectors over 16 rows (panel::RunPanel), filled lane by lane: lane j
// takes blocks j, j + 8, j + 16, ... So tile == dot bit for bit.
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
#include <vector>

#include "kernels/dot_quant.h"
#include "kernels/panel_avx512.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr int kGroupCols = 16;  // activation rows per column group

// The 16 rows' quants of one block as 8 unsigned-byte vectors: t[k] lane r = bytes 4k .. 4k + 3
// of row r's 32 unpacked quants (element order), ready for vpdpbusd against activation dword k.
// Rows >= valid_rows read as zero quants (their lanes are computed but never stored).
struct PanelQuants {
  __m512i t[8];
};

// One block of a panel, unpacked: its quants and the 16 rows' scales as floats.
struct UnpackedBlock {
  PanelQuants q;
  __m512 d;
};

// Block b of the panel's rows (w = row 0, stride w_row_bytes) as PanelQuants.
template <typename WBlock, bool kFull>
void LoadPanelQuants(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows,
                     PanelQuants* q) {
  const std::byte* base = w + b * static_cast<int64_t>(sizeof(WBlock)) + offsetof(WBlock, qs);
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    panel::LoadTransposed32<kFull>(base, w_row_bytes, valid_rows, q->t);
    const __m512i flip = _mm512_set1_epi8(-128);  // w + 128 as unsigned bytes
    for (int k = 0; k < 8; ++k) q->t[k] = _mm512_xor_si512(q->t[k], flip);
  } else if constexpr (std::is_same_v<WBlock, BlockQ4_0>) {
    // Packed dword k: low nibbles are elements 4k .. 4k + 3, high nibbles 16 + 4k .. 16 + 4k + 3.
    __m512i packed[4];
    panel::LoadTransposed16<kFull>(base, w_row_bytes, valid_rows, packed);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; ++k) {
      q->t[k] = _mm512_and_si512(packed[k], nibble);
      q->t[k + 4] = _mm512_and_si512(_mm512_srli_epi16(packed[k], 4), nibble);
    }
  } else {
    // Q5_0: the nibbles as Q4_0, plus the 5th bit of element e from bit e of qh (bytes 2..5 of
    // the block, read with d as the block's first 16 bytes).
    __m512i head[4], packed[4];
    panel::LoadTransposed16<kFull>(base - offsetof(WBlock, qs), w_row_bytes, valid_rows, head);
    panel::LoadTransposed16<kFull>(base, w_row_bytes, valid_rows, packed);
    const __m512i qh =
        _mm512_or_si512(_mm512_srli_epi32(head[0], 16), _mm512_slli_epi32(head[1], 16));
    // fifth_bits[v]: byte e = 0x10 if bit e of v (4 bits of qh -> the 5th bits of 4 elements);
    // vpermd reads the low 4 bits of each index dword.
    const __m512i fifth_bits =
        _mm512_setr_epi32(0x00000000, 0x00000010, 0x00001000, 0x00001010, 0x00100000, 0x00100010,
                          0x00101000, 0x00101010, 0x10000000, 0x10000010, 0x10001000, 0x10001010,
                          0x10100000, 0x10100010, 0x10101000, 0x10101010);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; ++k) {
      const __m512i lo = _mm512_and_si512(packed[k], nibble);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(packed[k], 4), nibble);
      q->t[k] =
          _mm512_or_si512(lo, _mm512_permutexvar_epi32(_mm512_srli_epi32(qh, 4 * k), fifth_bits));
      q->t[k + 4] = _mm512_or_si512(
          hi, _mm512_permutexvar_epi32(_mm512_srli_epi32(qh, 16 + 4 * k), fifth_bits));
    }
  }
}

// The F16 scales of block b of the panel's 16 rows as floats (rows >= valid_rows: 0).
template <typename WBlock, bool kFull>
__m512 PanelScales(const std::byte* w, int64_t w_row_bytes, int64_t b, int valid_rows) {
  return panel::HalfColumn<kFull>(w + b * static_cast<int64_t>(sizeof(WBlock)), w_row_bytes,
                                  valid_rows);
}

// A column group's activation rows, rearranged once for all panels, block-major so that block
// b of every column sits at fixed offsets from one pointer (the kernel's loads then need no
// per-column address arithmetic): per block, kGroupCols x 32 quants, then kGroupCols scales d_x
// as float and kGroupCols integer correction seeds.
struct GroupBlock {
  int8_t q[kGroupCols][32];
  float d[kGroupCols];
  int32_t corr[kGroupCols];
};

struct ActivationGroup {
  int64_t nb;
  const GroupBlock* blocks;  // [nb]
};

float HalfToFloat(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

// The group of activation rows x .. x + (cols - 1) * x_stride, in a per-thread buffer grown on
// demand (a steady prefill allocates nothing).
template <typename WBlock>
ActivationGroup PrepareGroup(const std::byte* x, int64_t x_stride, int cols, int64_t nb) {
  // The weight side's offset: w + 128 for Q8_0, q - 8 for Q4_0, q - 16 for Q5_0.
  constexpr int kOffset = std::is_same_v<WBlock, BlockQ8_0>   ? 128
                          : std::is_same_v<WBlock, BlockQ4_0> ? 8
                                                              : 16;
  static thread_local std::vector<GroupBlock> buffer;
  if (static_cast<int64_t>(buffer.size()) < nb) buffer.resize(static_cast<size_t>(nb));
  const __m256i ones = _mm256_set1_epi8(1);
  for (int c = 0; c < cols; ++c) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(x + c * x_stride);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(buffer[b].q[c]), q);
      const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
      buffer[b].corr[c] = -kOffset * _mm_cvtsi128_si32(s);
      buffer[b].d[c] = HalfToFloat(blocks[b].d);
    }
  }
  return ActivationGroup{nb, buffer.data()};
}

// Block b of one panel (16 weight rows, unpacked) against the group's C columns: one fma per
// (row, column) into acc[c], as the lane contract wants. Columns go 8 at a time with the
// activation dword k as the outer loop, so 8 independent vpdpbusd chains are in flight (one chain
// per column ran at a third of the instruction's throughput: 8 dependent vpdpbusd of latency 5).
template <int C>
void BlockStep(const UnpackedBlock& u, const GroupBlock& x, __m512* acc) {
  constexpr int kChunk = 8;
  for (int c0 = 0; c0 < C; c0 += kChunk) {
    __m512i isum[kChunk];
    for (int c = 0; c < kChunk; ++c) {
      if (c0 + c >= C) break;
      isum[c] = _mm512_set1_epi32(x.corr[c0 + c]);
    }
    for (int k = 0; k < 8; ++k) {
      for (int c = 0; c < kChunk; ++c) {
        if (c0 + c >= C) break;
        isum[c] = _mm512_dpbusd_epi32(isum[c], u.q.t[k], panel::Broadcast32(x.q[c0 + c] + 4 * k));
      }
    }
    for (int c = 0; c < kChunk; ++c) {
      if (c0 + c >= C) break;
      const __m512 scale = _mm512_mul_ps(u.d, _mm512_set1_ps(x.d[c0 + c]));  // d_w * d_x
      acc[c0 + c] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum[c]), acc[c0 + c]);
    }
  }
}

// The panel kernel of panel::RunColumnGroup for one column group, over the tile's unpacked
// panels (w0: the tile's first row).
struct PanelKernel {
  const ActivationGroup& g;
  const std::byte* w0;
  int64_t w_row_bytes, y_stride;
  const UnpackedBlock* unpacked;
  template <int C, bool kFull>
  void Panel(const std::byte* w, int valid_rows, float* y) const {
    const UnpackedBlock* panel = unpacked + (w - w0) / (panel::kRows * w_row_bytes) * g.nb;
    panel::RunPanel<C, kFull>(g.nb, valid_rows, y, y_stride, [&](int64_t b, __m512* acc) {
      BlockStep<C>(panel[b], g.blocks[b], acc);
    });
  }
};

// panel::UnpackTile's unpacker: the quants and scales of one block of a panel.
template <typename WBlock>
struct BlockUnpacker {
  int64_t w_row_bytes;
  template <bool kFull>
  void Block(const std::byte* w, int valid_rows, int64_t b, UnpackedBlock* out) const {
    LoadPanelQuants<WBlock, kFull>(w, w_row_bytes, b, valid_rows, &out->q);
    out->d = PanelScales<WBlock, kFull>(w, w_row_bytes, b, valid_rows);
  }
};

// y[c * y_stride + r] = dot(w row r, x row c) for r < rows, c < n_x.
template <typename WBlock>
void Tile(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t x_stride,
          int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  const int64_t nb = n / 32;
  const auto* wb = static_cast<const std::byte*>(w);
  const auto* xb = static_cast<const std::byte*>(x);
  const UnpackedBlock* unpacked = panel::UnpackTile<UnpackedBlock>(
      wb, w_row_bytes, rows, nb, sizeof(WBlock), BlockUnpacker<WBlock>{w_row_bytes});
  for (int64_t c = 0; c < n_x; c += kGroupCols) {
    const int cols = static_cast<int>(std::min<int64_t>(kGroupCols, n_x - c));
    const ActivationGroup group = PrepareGroup<WBlock>(xb + c * x_stride, x_stride, cols, nb);
    panel::RunColumnGroup<kGroupCols>(PanelKernel{group, wb, w_row_bytes, y_stride, unpacked}, wb,
                                      w_row_bytes, rows, cols, y + c * y_stride);
  }
}

}  // namespace

QuantDotTileFn QuantDotTileAvx512(WeightFormat format) {
  switch (format) {
    case WeightFormat::kQ8_0:
      return Tile<BlockQ8_0>;
    case WeightFormat::kQ4_0:
      return Tile<BlockQ4_0>;
    case WeightFormat::kQ5_0:
      return Tile<BlockQ5_0>;
    default:
      return QuantDotTileKAvx512(format);  // Q4_K, Q6_K
  }
}

}  // namespace medassist::kernels
