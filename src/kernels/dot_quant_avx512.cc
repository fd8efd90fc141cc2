// AVX-512 (VNNI) quantized dot kernels for blocks of 32: vpdpbusd on 256-bit lanes (AVX512VL),
// one instruction for what AVX2 does with maddubs + madd. Bit-identical to the scalar reference
// by the lane contract of dot_quant.h. Q4_K / Q6_K: dot_quant_k_tile_avx512.cc. Like
// dot_quant_avx2.cc, this file calls no inline function shared with other files.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_*)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

// Q8_0 decode (one activation row against many weight rows), on zmm. Per row, 8 blocks per
// step: two blocks per vpdpbusd with the weights made unsigned (w ^ 0x80 = w + 128), so
//   isum = sum((w + 128) * x) - 128 * sum(x)
// exactly, where the correction depends on the activation only and is computed once per call,
// with the activation quants copied contiguous (one load per two blocks). One shuffle tree then
// turns the 4 x 16 partial sums into the 8 exact block sums in the lane order kSplitOrder. The
// accumulator keeps that order (so each lane still takes its blocks in increasing order, the
// contract) and is put back in place before ReduceLanes.
constexpr int64_t kSplitMaxBlocks = 512;  // activation rows up to 16384 elements; longer: Dot32

// Where the tree leaves the sums of blocks 0..7 of a group: {0, 2, 4, 6, 1, 3, 5, 7}.
constexpr int kSplitOrder[kDotLanes] = {0, 2, 4, 6, 1, 3, 5, 7};

// z[i] holds blocks 2i (low half) and 2i + 1 (high half), 8 partial sums each.
__m256i BlockSums8(const __m512i* z) {
  const __m512i s01 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
  const __m512i s23 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
  const __m512i t =
      _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
  // 128-bit lanes of t: blocks {0,2,4,6} words 0-3, the same words 4-7, then blocks {1,3,5,7}.
  const __m512i even = _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(2, 0, 2, 0));
  const __m512i odd = _mm512_shuffle_i32x4(t, t, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm512_castsi512_si256(_mm512_add_epi32(even, odd));
}

// sum((w + 128) * x) over blocks w0, w1 and 64 contiguous activation quants, 16 partial sums.
// A block whose mask bits are clear reads as zero quants (and is not read).
__m512i BiasedIsumPairQ8_0(const BlockQ8_0* w0, const BlockQ8_0* w1, const int8_t* xq,
                           __mmask32 load0, __mmask32 load1) {
  const __m512i qw =
      _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(load0, w0->qs)),
                         _mm256_maskz_loadu_epi8(load1, w1->qs), 1);
  const __m512i biased_w = _mm512_xor_si512(qw, _mm512_set1_epi8(static_cast<char>(0x80)));
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), biased_w, _mm512_load_si512(xq));
}

// The activation row split once per call, per group of 8 blocks (the last one padded with zero
// quants): contiguous quants, and per block in kSplitOrder its float scale and the correction
// 128 * sum(x).
struct SplitQ8_0 {
  alignas(64) int8_t q[kSplitMaxBlocks * 32];
  alignas(64) float d[kSplitMaxBlocks];
  alignas(64) int32_t correction[kSplitMaxBlocks];
};

void SplitActivationQ8_0(const BlockQ8_0* x, int64_t nb, SplitQ8_0& split) {
  const int64_t padded = (nb + kDotLanes - 1) / kDotLanes * kDotLanes;
  for (int64_t b = 0; b < padded; ++b) {
    const __m256i q = b < nb ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))
                             : _mm256_setzero_si256();
    _mm256_store_si256(reinterpret_cast<__m256i*>(split.q + b * 32), q);
  }
  for (int64_t g = 0; g < padded; g += kDotLanes) {
    for (int i = 0; i < kDotLanes; ++i) {
      const int64_t b = g + kSplitOrder[i];
      int32_t sum = 0;
      if (b < nb) {
        for (int8_t q : x[b].qs) sum += q;
      }
      split.d[g + i] = b < nb ? HalfToFloat(x[b].d) : 0.0f;
      split.correction[g + i] = 128 * sum;
    }
  }
}

// One group of `count` (1..8) blocks from w[b] into acc; blocks past count touch no memory and
// leave their lanes unchanged (masked fma), so a partial group is exact too.
template <bool kPartial>
__m256 AccumulateGroupQ8_0(const BlockQ8_0* w, const SplitQ8_0& x, int64_t b, int count,
                           __m256 acc) {
  // Each block's d is the low half of the 32-bit word at its start (blocks are 34 bytes);
  // gathered in kSplitOrder.
  const __m256i gather_offsets = _mm256_setr_epi32(0, 68, 136, 204, 34, 102, 170, 238);
  __m512i pair[4];
  for (int i = 0; i < 4; ++i) {
    const int j = 2 * i;
    const __mmask32 load0 = !kPartial || j < count ? ~__mmask32{0} : 0;
    const __mmask32 load1 = !kPartial || j + 1 < count ? ~__mmask32{0} : 0;
    pair[i] = BiasedIsumPairQ8_0(&w[b + j], &w[b + j + 1], x.q + (b + j) * 32, load0, load1);
  }
  const __m256i isum = _mm256_sub_epi32(
      BlockSums8(pair), _mm256_load_si256(reinterpret_cast<const __m256i*>(x.correction + b)));
  const int* d_base = reinterpret_cast<const int*>(&w[b].d);
  if (!kPartial) {
    const __m256i d_words = _mm256_i32gather_epi32(d_base, gather_offsets, 1);
    const __m256 dw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(d_words));
    return _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_load_ps(x.d + b)), _mm256_cvtepi32_ps(isum),
                           acc);
  }
  __mmask8 valid = 0;
  for (int i = 0; i < kDotLanes; ++i) {
    if (kSplitOrder[i] < count) valid = static_cast<__mmask8>(valid | (1u << i));
  }
  const __m256i d_words =
      _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), valid, gather_offsets, d_base, 1);
  const __m256 dw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(d_words));
  return _mm256_mask3_fmadd_ps(_mm256_mul_ps(dw, _mm256_load_ps(x.d + b)), _mm256_cvtepi32_ps(isum),
                               acc, valid);
}

float DotSplitQ8_0(const BlockQ8_0* w, const SplitQ8_0& x, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + kDotLanes <= nb; b += kDotLanes) {
    PrefetchLines(reinterpret_cast<const char*>(w + b) + kPrefetchAheadBytes,
                  sizeof(BlockQ8_0) * kDotLanes);
    acc = AccumulateGroupQ8_0<false>(w, x, b, kDotLanes, acc);
  }
  if (b < nb) acc = AccumulateGroupQ8_0<true>(w, x, b, static_cast<int>(nb - b), acc);
  alignas(32) float split_lanes[kDotLanes];
  float lanes[kDotLanes];
  _mm256_store_ps(split_lanes, acc);
  for (int i = 0; i < kDotLanes; ++i) lanes[kSplitOrder[i]] = split_lanes[i];
  return ReduceLanes(lanes);
}

void DotRowsQ8_0(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t n,
                 float* out) {
  const int64_t nb = n / 32;
  const auto* x_blocks = static_cast<const BlockQ8_0*>(x);
  if (nb > kSplitMaxBlocks) {
    for (int64_t r = 0; r < rows; ++r) {
      out[r] = Dot32<BlockQ8_0, IsumQ8_0>(static_cast<const char*>(w) + r * w_row_bytes, x, n);
    }
    return;
  }
  SplitQ8_0 split;
  SplitActivationQ8_0(x_blocks, nb, split);
  for (int64_t r = 0; r < rows; ++r) {
    const auto* w_row =
        reinterpret_cast<const BlockQ8_0*>(static_cast<const char*>(w) + r * w_row_bytes);
    out[r] = DotSplitQ8_0(w_row, split, nb);
  }
}

// The one-row dot is dot_rows of one row, so the two agree by construction.
float DotQ8_0(const void* w_row, const void* x_prepared, int64_t n) {
  float y = 0.0f;
  DotRowsQ8_0(w_row, 0, 1, x_prepared, n, &y);
  return y;
}

constexpr DotFn kDotQ4_0 = Dot32<BlockQ4_0, IsumQ4_0>;
constexpr DotKernel kAvx512Q8_0{WeightFormat::kQ8_0,   Isa::kAvx512,
                                QuantizeRowQ8_0Avx512, DotQ8_0,
                                DotRowsQ8_0,           PreparedRowBytesQ8_0};
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
