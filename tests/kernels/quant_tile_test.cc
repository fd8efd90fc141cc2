// Quantized prefill tiles and Matmul with quantized kernels: the tile of every (format, ISA) this
// CPU runs equals that kernel's dot bit for bit for ragged shapes, and Matmul equals MatmulNaive
// bit for bit for any row count, thread count and tiling (DESIGN §2b).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/dot_registry.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "kernels/weight_format.h"
#include "quant_test_util.h"

namespace medassist::kernels {
namespace {

using testing::AwkwardRow;
using testing::GaussianRow;

constexpr WeightFormat kFormats[] = {WeightFormat::kQ8_0, WeightFormat::kQ4_0, WeightFormat::kQ5_0,
                                     WeightFormat::kQ4_K, WeightFormat::kQ6_K};
constexpr Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

int64_t BlockElems(WeightFormat f) {
  return f == WeightFormat::kQ4_K || f == WeightFormat::kQ6_K ? 256 : 32;
}

std::vector<uint8_t> Weights(WeightFormat f, int64_t rows, int64_t n, uint64_t seed) {
  const int64_t row_bytes = RowBytes(f, n);
  std::vector<uint8_t> w(static_cast<size_t>(row_bytes * rows));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> wf = AwkwardRow(seed + 31 * r, n);
    QuantizeRow(f, wf.data(), n, w.data() + r * row_bytes);
  }
  return w;
}

std::vector<float> Activations(int64_t rows, int64_t n, uint64_t seed) {
  std::vector<float> x;
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> row = GaussianRow(seed + 7 * r, n);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

// Every shape the tile blocks into (full 4 x 4 blocks, ragged rows and columns, a group tail).
TEST(QuantTileTest, TileIsBitIdenticalToDot) {
  bool any = false;
  for (Isa isa : kIsas) {
    if (!IsaSupported(isa)) continue;
    for (WeightFormat f : kFormats) {
      const DotKernel& k = SelectDotKernel(f, isa);
      const QuantDotTileFn tile = FindQuantDotTile(k);
      if (tile == nullptr) continue;
      any = true;
      const int64_t be = BlockElems(f);
      for (int64_t n : {be, 7 * be, 8 * be, 9 * be, 28 * be, 35 * be, 43 * be}) {
        for (auto [rows, n_x] : {std::pair{1, 1},
                                 {4, 4},
                                 {5, 3},
                                 {3, 9},
                                 {8, 8},
                                 {7, 13},
                                 {16, 8},
                                 {33, 17},
                                 {16, 16},
                                 {17, 35}}) {
          // Unaligned weight strides too: rows w_pad bytes apart beyond their size (keeping the
          // 2-byte alignment of the blocks' F16 fields, as in a GGUF file).
          const int64_t w_pad = rows % 2 == 1 ? 2 : 0;
          const int64_t w_row_bytes = RowBytes(f, n) + w_pad;
          const std::vector<uint8_t> packed = Weights(f, rows, n, 11 + n);
          std::vector<uint8_t> w(static_cast<size_t>(w_row_bytes * rows));
          for (int r = 0; r < rows; ++r) {
            std::memcpy(&w[r * w_row_bytes], &packed[r * RowBytes(f, n)],
                        static_cast<size_t>(RowBytes(f, n)));
          }
          const std::vector<float> x = Activations(n_x, n, 99 + n);
          const int64_t x_stride =
              k.prepared_row_bytes(n) + 4;  // Q8_K keeps its 4-byte alignment, no more
          std::vector<uint8_t> xp(static_cast<size_t>(x_stride * n_x));
          for (int c = 0; c < n_x; ++c) k.prepare(&x[c * n], n, &xp[c * x_stride]);
          const int64_t y_stride = rows + 3;
          std::vector<float> y(static_cast<size_t>(y_stride * n_x), -1.0f);
          tile(w.data(), w_row_bytes, rows, xp.data(), x_stride, n_x, n, y.data(), y_stride);
          for (int c = 0; c < n_x; ++c) {
            for (int r = 0; r < rows; ++r) {
              const float want = k.dot(&w[r * w_row_bytes], &xp[c * x_stride], n);
              ASSERT_EQ(std::memcmp(&want, &y[c * y_stride + r], sizeof(float)), 0)
                  << Traits(f).name << " " << IsaName(isa) << " n=" << n << " rows=" << rows
                  << " n_x=" << n_x << " at (" << r << ", " << c << "): " << want << " vs "
                  << y[c * y_stride + r];
            }
            for (int r = rows; r < y_stride; ++r) EXPECT_EQ(y[c * y_stride + r], -1.0f);
          }
        }
      }
    }
  }
  if (!any) GTEST_SKIP() << "no quantized tile kernel for the ISAs this CPU supports";
}

// Q5_0's tile takes dot_rows per activation row for rows longer than its stack arrays hold
// (n > 16384): the same bits either way.
// Rows longer than the tiles keep on the stack (16384 elements) take the heap path, same bits.
TEST(QuantTileTest, TileOfLongRowsIsBitIdenticalToDot) {
  if (!IsaSupported(Isa::kAvx512)) GTEST_SKIP() << "CPU lacks AVX-512";
  for (WeightFormat f : kFormats) {
    const DotKernel& k = SelectDotKernel(f, Isa::kAvx512);
    const QuantDotTileFn tile = FindQuantDotTile(k);
    ASSERT_NE(tile, nullptr);
    for (int64_t n : {int64_t{16384}, 16384 + BlockElems(f)}) {
      const int64_t rows = 17, n_x = 2, row_bytes = RowBytes(f, n);
      const std::vector<uint8_t> w = Weights(f, rows, n, 3);
      const std::vector<float> x = Activations(n_x, n, 4);
      const int64_t x_stride = k.prepared_row_bytes(n);
      std::vector<uint8_t> xp(static_cast<size_t>(x_stride * n_x));
      for (int c = 0; c < n_x; ++c) k.prepare(&x[c * n], n, &xp[c * x_stride]);
      std::vector<float> y(static_cast<size_t>(rows * n_x));
      tile(w.data(), row_bytes, rows, xp.data(), x_stride, n_x, n, y.data(), rows);
      for (int c = 0; c < n_x; ++c) {
        for (int r = 0; r < rows; ++r) {
          const float want = k.dot(&w[r * row_bytes], &xp[c * x_stride], n);
          EXPECT_EQ(std::memcmp(&want, &y[c * rows + r], sizeof want), 0)
              << Traits(f).name << " n=" << n << " row " << r << " column " << c;
        }
      }
    }
  }
}

// On AVX-512 every quantized format has its own kernel and a prefill tile (none falls back).
TEST(QuantTileTest, EveryFormatHasAnAvx512KernelAndTile) {
  if (!IsaSupported(Isa::kAvx512)) GTEST_SKIP() << "CPU lacks AVX-512";
  for (WeightFormat f : kFormats) {
    const DotKernel& k = SelectDotKernel(f, Isa::kAvx512);
    EXPECT_EQ(k.isa, Isa::kAvx512) << Traits(f).name;
    EXPECT_NE(FindQuantDotTile(k), nullptr) << Traits(f).name;
  }
}

TEST(QuantTileTest, MatmulEqualsNaiveForAnyRowsThreadsAndTiling) {
  ThreadPool pool1(1), pool2(2);
  const MatmulTiling tilings[] = {{}, {1, 1, 1}, {5, 3, 7}, {64, 8, 16}, {16, 4, 512}};
  for (Isa isa : kIsas) {
    if (!IsaSupported(isa)) continue;
    for (WeightFormat f : kFormats) {
      const DotKernel& k = SelectDotKernel(f, isa);
      const int64_t d_in = 9 * BlockElems(f), d_out = 37;
      const std::vector<uint8_t> w = Weights(f, d_out, d_in, 5);
      for (int64_t n_rows : {1, 7, 64}) {
        const std::vector<float> x = Activations(n_rows, d_in, 300 + n_rows);
        std::vector<float> want(static_cast<size_t>(n_rows * d_out));
        MatmulNaive(k, w.data(), d_out, d_in, x.data(), n_rows, want.data());
        for (ThreadPool* pool : {&pool1, &pool2}) {
          for (const MatmulTiling& t : tilings) {
            MatmulWorkspace ws;
            std::vector<float> y(want.size(), -1.0f);
            Matmul(*pool, k, w.data(), d_out, d_in, x.data(), n_rows, y.data(), ws, t);
            ASSERT_EQ(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)), 0)
                << Traits(f).name << " " << IsaName(k.isa) << " rows=" << n_rows
                << " threads=" << pool->n_threads() << " tiling " << t.chunk_rows << "/"
                << t.weight_rows << "/" << t.activation_rows;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace medassist::kernels
