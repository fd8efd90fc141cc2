// AVX2 + FMA + F16C float-weight dot kernels (compiled with -mavx2 -mfma -mf16c; selected only
// when the CPU has them). Scalar twin: dot_float.cc.
//
// Accumulation order of one row (the contract dot_rows keeps, see dot_float.h): two 8-lane
// accumulators; elements [16k, 16k+8) go to acc0 and [16k+8, 16k+16) to acc1 by FMA; then one
// more block of 8 into acc0 when at least 8 remain; the last < 8 elements (zero-padded) into acc1;
// finally Reduce(acc0 + acc1) in a fixed lane order.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/dot_float.h"

namespace medassist::kernels {
namespace {

// Eight weights from w + i widened to float. Tail variants read only `count` < 8 elements and
// zero the other lanes.
struct F32 {
  static constexpr int kBytes = 4;
  static __m256 Load8(const void* w, int64_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  }
  static __m256 LoadTail(const void* w, int64_t i, int64_t count);
};
struct F16 {
  static constexpr int kBytes = 2;
  static __m256 Load8(const void* w, int64_t i) {
    const auto* p = static_cast<const uint16_t*>(w) + i;
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static __m256 LoadTail(const void* w, int64_t i, int64_t count);
};
struct BF16 {
  static constexpr int kBytes = 2;
  // bfloat16 is the high half of a float: widen to 32 bits and shift left by 16 (exact).
  static __m256 Widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m256 Load8(const void* w, int64_t i) {
    const auto* p = static_cast<const uint16_t*>(w) + i;
    return Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static __m256 LoadTail(const void* w, int64_t i, int64_t count);
};

// Lane mask with the first count (0..8) lanes set, for _mm256_maskload_ps.
__m256i FirstLanes(int64_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes);
}

__m128i LoadHalfTail(const void* w, int64_t i, int64_t count) {
  alignas(16) uint16_t buffer[8] = {};
  std::memcpy(buffer, static_cast<const uint16_t*>(w) + i, static_cast<size_t>(count) * 2);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(buffer));
}

__m256 F32::LoadTail(const void* w, int64_t i, int64_t count) {
  return _mm256_maskload_ps(static_cast<const float*>(w) + i, FirstLanes(count));
}
__m256 F16::LoadTail(const void* w, int64_t i, int64_t count) {
  return _mm256_cvtph_ps(LoadHalfTail(w, i, count));
}
__m256 BF16::LoadTail(const void* w, int64_t i, int64_t count) {
  return Widen(LoadHalfTail(w, i, count));
}

// Fixed-order horizontal sum: 256 -> 128 (lo + hi), then pairs (0+2, 1+3), then (0 + 1).
float Reduce(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[c][r] = dot(w[r], x[c]) for R weight rows and C activation rows at once (each weight
// vector loaded and widened once for C rows); each (r, c) pair runs the sequence described at
// the top of the file whatever R and C are.
template <typename Format, int R, int C>
void DotTileFixed(const void* const* w, const float* const* x, int64_t n, float* const* out,
                  int64_t prefetch_offset = 0) {
  __m256 acc0[R][C], acc1[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc0[r][c] = acc1[r][c] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Decode streams each weight once from memory; rows are short (1.8 KB for BF16 d_in 896),
    // too short for the hardware prefetcher to ramp up, so fetch the next group of rows ahead:
    // BF16 896 -> 4864 decode went from ~4.9 to ~8 GB/s (one core); two groups ahead was no better.
    if (prefetch_offset != 0) {
      for (int r = 0; r < R; ++r) {
        const char* next = static_cast<const char*>(w[r]) + i * Format::kBytes + prefetch_offset;
        for (int b = 0; b < 16 * Format::kBytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256 w0 = Format::Load8(w[r], i), w1 = Format::Load8(w[r], i + 8);
      for (int c = 0; c < C; ++c) {
        acc0[r][c] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[c] + i), acc0[r][c]);
        acc1[r][c] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[c] + i + 8), acc1[r][c]);
      }
    }
  }
  if (i + 8 <= n) {
    for (int r = 0; r < R; ++r) {
      const __m256 w0 = Format::Load8(w[r], i);
      for (int c = 0; c < C; ++c) {
        acc0[r][c] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[c] + i), acc0[r][c]);
      }
    }
    i += 8;
  }
  if (i < n) {
    const __m256i mask = FirstLanes(n - i);
    for (int r = 0; r < R; ++r) {
      const __m256 wt = Format::LoadTail(w[r], i, n - i);
      for (int c = 0; c < C; ++c) {
        acc1[r][c] = _mm256_fmadd_ps(wt, _mm256_maskload_ps(x[c] + i, mask), acc1[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[c][r] = Reduce(_mm256_add_ps(acc0[r][c], acc1[r][c]));
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

// Four rows per pass: 8 accumulators plus the shared activations fit the 16 ymm registers.
template <typename Format>
void DotRows(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared, int64_t n,
             float* out) {
  const auto* base = static_cast<const std::byte*>(w);
  const auto* x = static_cast<const float*>(x_prepared);
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const void* w4[4] = {base + r * w_row_bytes, base + (r + 1) * w_row_bytes,
                         base + (r + 2) * w_row_bytes, base + (r + 3) * w_row_bytes};
    DotRowsFixed<Format, 4>(w4, x, n, out + r, 4 * w_row_bytes);
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
// (2 * kR * kC accumulators of the 16 ymm registers), the weight rows staying in L1 while the
// activation rows pass. 3 x 2 measured best (F32 and BF16 prefill; 2 x 2 and 2 x 3 slower).
template <typename Format>
void DotTile(const void* w, int64_t w_row_bytes, int64_t rows, const float* x, int64_t x_stride,
             int64_t n_x, int64_t n, float* y, int64_t y_stride) {
  constexpr int kR = 3, kC = 2;
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
  return {format,      Isa::kAvx2,      PrepareFloatCopy,
          Dot<Format>, DotRows<Format>, FloatPreparedRowBytes};
}

constexpr DotKernel kF32Avx2 = MakeKernel<F32>(WeightFormat::kF32);
constexpr DotKernel kF16Avx2 = MakeKernel<F16>(WeightFormat::kF16);
constexpr DotKernel kBF16Avx2 = MakeKernel<BF16>(WeightFormat::kBF16);

}  // namespace

const DotKernel* FindFloatDotKernelAvx2(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return &kF32Avx2;
    case WeightFormat::kF16:
      return &kF16Avx2;
    case WeightFormat::kBF16:
      return &kBF16Avx2;
    default:
      return nullptr;
  }
}

DotTileFn FloatDotTileAvx2(WeightFormat format) {
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

}  // namespace medassist::kernels
