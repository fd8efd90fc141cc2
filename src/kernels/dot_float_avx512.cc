// AVX-512 float-weight dot kernels (compiled with the AVX-512 flags; selected only when the CPU
// has F, BW, VL, DQ and VNNI). Scalar twin: dot_float.cc; AVX2 version: dot_float_avx2.cc.
//
// Accumulation order of one row (the contract dot_rows keeps, see dot_float.h): two 16-lane
// accumulators; elements [32k, 32k+16) go to acc0 and [32k+16, 32k+32) to acc1 by FMA; then one
// more block of 16 into acc0 when at least 16 remain; the last < 16 elements (masked, zero lanes)
// into acc1; finally Reduce(acc0 + acc1) in a fixed lane order.
//
// BF16 is widened by a shift (exact, so each product is exact before the FMA's one rounding);
// F16 by vcvtph2ps (exact).
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics read an intentionally undefined register (_mm512_undefined_ps)
// as the pass-through of their masked builtins, which -Wuninitialized flags at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstddef>

#include "kernels/dot_float.h"

namespace medassist::kernels {
namespace {

// The first count (0..16) lanes.
__mmask16 FirstLanes(int64_t count) {
  return static_cast<__mmask16>((1u << static_cast<unsigned>(count)) - 1u);
}

// Sixteen weights from w + i widened to float; only the lanes in mask are read (others zero).
struct F32 {
  static constexpr int kBytes = 4;
  static __m512 Load(const void* w, int64_t i, __mmask16 mask) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(w) + i);
  }
  static __m512 Load16(const void* w, int64_t i) {
    return _mm512_loadu_ps(static_cast<const float*>(w) + i);
  }
};
struct F16 {
  static constexpr int kBytes = 2;
  static __m512 Load(const void* w, int64_t i, __mmask16 mask) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + i));
  }
  static __m512 Load16(const void* w, int64_t i) {
    const auto* p = static_cast<const uint16_t*>(w) + i;
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};
struct BF16 {
  static constexpr int kBytes = 2;
  static __m512 Widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 Load(const void* w, int64_t i, __mmask16 mask) {
    return Widen(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + i));
  }
  static __m512 Load16(const void* w, int64_t i) {
    const auto* p = static_cast<const uint16_t*>(w) + i;
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};

// Fixed-order horizontal sum: 512 -> 256 (lo + hi) -> 128 (lo + hi), pairs (0+2, 1+3), (0 + 1).
float Reduce(__m512 v) {
  // Swapping the 256-bit halves (not an extract: GCC 12 warns on its undefined source operand).
  const __m512 swapped = _mm512_shuffle_f32x4(v, v, 0x4E);
  const __m256 s8 = _mm512_castps512_ps256(_mm512_add_ps(v, swapped));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[c][r] = dot(w[r], x[c]) for R weight rows and C activation rows at once (register
// blocking: each weight vector is loaded and widened once for C rows, each activation vector once
// for R rows). Each (r, c) pair runs the sequence described at the top whatever R and C are.
template <typename Format, int R, int C>
void DotTileFixed(const void* const* w, const float* const* x, int64_t n, float* const* out,
                  int64_t prefetch_offset = 0) {
  __m512 acc0[R][C], acc1[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc0[r][c] = acc1[r][c] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // Decode streams each weight once from memory; rows are short (1.8 KB for BF16 d_in 896),
    // too short for the hardware prefetcher to ramp up, so fetch the next group of rows ahead:
    // BF16 896 -> 4864 decode went from ~4.9 to ~8 GB/s (one core); two groups ahead was no better.
    if (prefetch_offset != 0) {
      for (int r = 0; r < R; ++r) {
        const char* next = static_cast<const char*>(w[r]) + i * Format::kBytes + prefetch_offset;
        for (int b = 0; b < 32 * Format::kBytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      }
    }
    __m512 x0[C], x1[C];
    for (int c = 0; c < C; ++c) x0[c] = _mm512_loadu_ps(x[c] + i);
    for (int c = 0; c < C; ++c) x1[c] = _mm512_loadu_ps(x[c] + i + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 w0 = Format::Load16(w[r], i), w1 = Format::Load16(w[r], i + 16);
      for (int c = 0; c < C; ++c) {
        acc0[r][c] = _mm512_fmadd_ps(w0, x0[c], acc0[r][c]);
        acc1[r][c] = _mm512_fmadd_ps(w1, x1[c], acc1[r][c]);
      }
    }
  }
  if (i + 16 <= n) {
    for (int r = 0; r < R; ++r) {
      const __m512 w0 = Format::Load16(w[r], i);
      for (int c = 0; c < C; ++c) {
        acc0[r][c] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[c] + i), acc0[r][c]);
      }
    }
    i += 16;
  }
  if (i < n) {
    const __mmask16 mask = FirstLanes(n - i);
    for (int r = 0; r < R; ++r) {
      const __m512 wt = Format::Load(w[r], i, mask);
      for (int c = 0; c < C; ++c) {
        acc1[r][c] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(mask, x[c] + i), acc1[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[c][r] = Reduce(_mm512_add_ps(acc0[r][c], acc1[r][c]));
  }
}

template <typename Format, int R>
void DotRowsFixed(const void* const* w, const float* x, int64_t n, float* out,
                  int64_t prefetch_offset = 0) {
  DotTileFixed<Format, R, 1>(w, &x, n, &out, prefetch_offset);
}

template <typename Format>
float Dot(const void* w_row, const void* x_prepared, int64_t n) {
  float out;
  DotRowsFixed<Format, 1>(&w_row, static_cast<const float*>(x_prepared), n, &out);
  return out;
}

constexpr int kRowsPerPass = 4;

template <typename Format>
void DotRows(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared, int64_t n,
             float* out) {
  const auto* base = static_cast<const std::byte*>(w);
  const auto* x = static_cast<const float*>(x_prepared);
  int64_t r = 0;
  for (; r + kRowsPerPass <= rows; r += kRowsPerPass) {
    const void* wr[kRowsPerPass];
    for (int j = 0; j < kRowsPerPass; ++j) wr[j] = base + (r + j) * w_row_bytes;
    DotRowsFixed<Format, kRowsPerPass>(wr, x, n, out + r, kRowsPerPass * w_row_bytes);
  }
  for (; r < rows; ++r) {
    const void* w1 = base + r * w_row_bytes;
    DotRowsFixed<Format, 1>(&w1, x, n, out + r);
  }
}

// Weight rows [r, r + R) against activation rows [c, c + C) of a tile (see DotTile).
template <typename Format, int R, int C>
void TileBlock(const std::byte* w, int64_t w_row_bytes, const float* x, int64_t x_stride, int64_t n,
               float* y, int64_t y_stride) {
  const void* wr[R];
  const float* xc[C];
  float* yc[C];
  for (int j = 0; j < R; ++j) wr[j] = w + j * w_row_bytes;
  for (int c = 0; c < C; ++c) xc[c] = x + c * x_stride, yc[c] = y + c * y_stride;
  DotTileFixed<Format, R, C>(wr, xc, n, yc);
}

// y[c * y_stride + r] = dot(w row r, x row c): blocks of kR weight rows x kC activation rows
// (2 * kR * kC accumulators of the 32 zmm registers), the weight rows staying in L1 while the
// activation rows pass. 4 x 3 measured best for BF16 prefill (widening each weight vector once
// for three rows); 2 x 4 and 2 x 6 were slower.
template <typename Format>
void DotTile(const void* w, int64_t w_row_bytes, int64_t rows, const float* x, int64_t x_stride,
             int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  constexpr int kR = 4, kC = 3;
  const auto* base = static_cast<const std::byte*>(w);
  int64_t r = 0;
  for (; r + kR <= rows; r += kR) {
    int64_t c = 0;
    for (; c + kC <= n_x; c += kC) {
      TileBlock<Format, kR, kC>(base + r * w_row_bytes, w_row_bytes, x + c * x_stride, x_stride, n,
                                y + c * y_stride + r, y_stride);
    }
    for (; c < n_x; ++c) {
      TileBlock<Format, kR, 1>(base + r * w_row_bytes, w_row_bytes, x + c * x_stride, x_stride, n,
                               y + c * y_stride + r, y_stride);
    }
  }
  for (; r < rows; ++r) {
    int64_t c = 0;
    for (; c + kC <= n_x; c += kC) {
      TileBlock<Format, 1, kC>(base + r * w_row_bytes, w_row_bytes, x + c * x_stride, x_stride, n,
                               y + c * y_stride + r, y_stride);
    }
    for (; c < n_x; ++c) {
      TileBlock<Format, 1, 1>(base + r * w_row_bytes, w_row_bytes, x + c * x_stride, x_stride, n,
                              y + c * y_stride + r, y_stride);
    }
  }
}

template <typename Format>
constexpr DotKernel MakeKernel(WeightFormat format) {
  return {format,      Isa::kAvx512,    PrepareFloatCopy,
          Dot<Format>, DotRows<Format>, FloatPreparedRowBytes};
}

constexpr DotKernel kF32Avx512 = MakeKernel<F32>(WeightFormat::kF32);
constexpr DotKernel kF16Avx512 = MakeKernel<F16>(WeightFormat::kF16);
constexpr DotKernel kBF16Avx512 = MakeKernel<BF16>(WeightFormat::kBF16);

// ---- Opt-in: BF16 x BF16 with vdpbf16ps (see Bf16DotProductKernel in dot_float.h). ----
// Prepared row: n bfloat16 activations, rounded to nearest even. Order of one row: two
// accumulators over blocks of 32 elements (pairs summed inside vdpbf16ps), alternating; the
// masked tail (< 64 elements, by blocks of 32) continues the alternation; then Reduce.

__mmask32 FirstPairs(int64_t count) {  // first count (0..32) 16-bit lanes
  return count >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << count) - 1u);
}

void PrepareBf16(const float* x, int64_t n, void* out) {
  auto* o = static_cast<uint16_t*>(out);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? __mmask16{0xFFFF} : FirstLanes(n - i);
    const __m256i h =
        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i)));
    _mm256_mask_storeu_epi16(o + i, mask, h);
  }
}

int64_t Bf16PreparedRowBytes(int64_t n) { return 2 * n; }

template <int R>
void DotBf16Fixed(const void* const* w, const uint16_t* x, int64_t n, float* out) {
  __m512 acc[2][R];
  for (int r = 0; r < R; ++r) acc[0][r] = acc[1][r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (int block = 0; i < n; i += 32, block ^= 1) {
    const __mmask32 mask = FirstPairs(n - i);
    const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, x + i));
    for (int r = 0; r < R; ++r) {
      const auto* wr = static_cast<const uint16_t*>(w[r]) + i;
      const __m512bh wv = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, wr));
      acc[block][r] = _mm512_dpbf16_ps(acc[block][r], wv, xv);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = Reduce(_mm512_add_ps(acc[0][r], acc[1][r]));
}

float DotBf16(const void* w_row, const void* x_prepared, int64_t n) {
  float out;
  DotBf16Fixed<1>(&w_row, static_cast<const uint16_t*>(x_prepared), n, &out);
  return out;
}

void DotRowsBf16(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared,
                 int64_t n, float* out) {
  const auto* base = static_cast<const std::byte*>(w);
  const auto* x = static_cast<const uint16_t*>(x_prepared);
  int64_t r = 0;
  for (; r + kRowsPerPass <= rows; r += kRowsPerPass) {
    const void* wr[kRowsPerPass];
    for (int j = 0; j < kRowsPerPass; ++j) wr[j] = base + (r + j) * w_row_bytes;
    DotBf16Fixed<kRowsPerPass>(wr, x, n, out + r);
  }
  for (; r < rows; ++r) {
    const void* w1 = base + r * w_row_bytes;
    DotBf16Fixed<1>(&w1, x, n, out + r);
  }
}

constexpr DotKernel kBF16DotProduct = {
    WeightFormat::kBF16, Isa::kAvx512, PrepareBf16, DotBf16, DotRowsBf16, Bf16PreparedRowBytes};

}  // namespace

const DotKernel* FindFloatDotKernelAvx512(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return &kF32Avx512;
    case WeightFormat::kF16:
      return &kF16Avx512;
    case WeightFormat::kBF16:
      return &kBF16Avx512;
    default:
      return nullptr;
  }
}

DotTileFn FloatDotTileAvx512(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return DotTile<F32>;
    case WeightFormat::kF16:
      return DotTile<F16>;
    case WeightFormat::kBF16:
      return DotTile<BF16>;
    default:
      return nullptr;
  }
}

const DotKernel* Bf16DotProductKernel() {
  const bool ok = IsaSupported(Isa::kAvx512) && DetectCpuFeatures().avx512_bf16;
  return ok ? &kBF16DotProduct : nullptr;
}

}  // namespace medassist::kernels
