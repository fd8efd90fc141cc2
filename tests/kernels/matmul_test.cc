// Matmul: every value equals one dot of a weight row and an activation row, bit for bit, whatever
// the number of activation rows, the thread count or the tiling (DESIGN §2b).
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dot_registry.h"

namespace medassist::kernels {
namespace {

// Random weights of a float format: random floats, narrowed by truncation for 16-bit formats
// (F16 from a bounded bit pattern: sign, exponent 1..16, mantissa).
std::vector<uint8_t> RandomMatrix(WeightFormat format, int64_t d_out, int64_t d_in,
                                  std::mt19937& rng) {
  std::vector<uint8_t> w(static_cast<size_t>(RowBytes(format, d_in) * d_out));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t n = static_cast<size_t>(d_out * d_in);
  for (size_t i = 0; i < n; ++i) {
    const float f = uniform(rng);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if (format == WeightFormat::kF32) {
      std::memcpy(w.data() + 4 * i, &f, 4);
    } else {
      const auto h =
          format == WeightFormat::kBF16
              ? static_cast<uint16_t>(u >> 16)
              : static_cast<uint16_t>((u & 0x8000u) | ((1 + rng() % 16) << 10) | (u & 0x3FFu));
      std::memcpy(w.data() + 2 * i, &h, 2);
    }
  }
  return w;
}

std::vector<float> RandomRows(int64_t n_rows, int64_t d, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_rows * d));
  for (float& v : x) v = uniform(rng);
  return x;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class MatmulTest : public testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) {
      GTEST_SKIP() << "skipped: CPU lacks " << (GetParam() == Isa::kAvx512 ? "AVX-512" : "AVX2");
    }
  }
};

// One row at a time, 7 rows at once, 1 and 2 (and 3) threads, several tilings: all equal to the
// naive reference bit for bit.
TEST_P(MatmulTest, BitIdenticalAcrossRowsThreadsAndTiling) {
  std::mt19937 rng(42);
  ThreadPool pool1(1), pool2(2), pool3(3);
  MatmulWorkspace ws;
  const MatmulTiling tilings[] = {{}, {4, 4, 1}, {16, 8, 3}, {1, 1, 64}, {64, 16, 2}};
  const int64_t n_rows = 7;
  for (WeightFormat format : {WeightFormat::kF32, WeightFormat::kF16, WeightFormat::kBF16}) {
    const DotKernel& k = SelectDotKernel(format, GetParam());
    for (auto [d_out, d_in] :
         {std::pair<int64_t, int64_t>{1, 17}, {5, 33}, {37, 100}, {64, 64}, {130, 257}}) {
      const std::vector<uint8_t> w = RandomMatrix(format, d_out, d_in, rng);
      const std::vector<float> x = RandomRows(n_rows, d_in, rng);
      const size_t y_size = static_cast<size_t>(n_rows * d_out);
      std::vector<float> reference(y_size);
      MatmulNaive(k, w.data(), d_out, d_in, x.data(), n_rows, reference.data());

      std::vector<float> one_row_at_a_time(y_size);
      for (int64_t r = 0; r < n_rows; ++r) {
        Matmul(pool1, k, w.data(), d_out, d_in, x.data() + r * d_in, 1,
               one_row_at_a_time.data() + r * d_out, ws);
      }
      EXPECT_TRUE(SameBits(one_row_at_a_time, reference)) << d_out << "x" << d_in;
      for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
        for (const MatmulTiling& tiling : tilings) {
          std::vector<float> batched(y_size, -1.0f);
          Matmul(*pool, k, w.data(), d_out, d_in, x.data(), n_rows, batched.data(), ws, tiling);
          EXPECT_TRUE(SameBits(batched, reference))
              << Traits(format).name << " " << d_out << "x" << d_in << " threads "
              << pool->n_threads() << " tiling " << tiling.chunk_rows << "/" << tiling.weight_rows
              << "/" << tiling.activation_rows;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatmulTest,
                         testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const testing::TestParamInfo<Isa>& param) {
                           return std::string(IsaName(param.param));
                         });

// A kernel whose prepare is not a copy (activations doubled) goes through the workspace, in
// parallel for many rows, and still equals the reference.
void PrepareDoubled(const float* x, int64_t n, void* out) {
  auto* o = static_cast<float*>(out);
  for (int64_t i = 0; i < n; ++i) o[i] = 2.0f * x[i];
}

TEST(Matmul, PreparedActivationsGoThroughTheWorkspace) {
  DotKernel k = SelectDotKernel(WeightFormat::kF32, BestIsa());
  k.prepare = PrepareDoubled;
  std::mt19937 rng(3);
  const int64_t d_out = 29, d_in = 45;
  const std::vector<uint8_t> w = RandomMatrix(WeightFormat::kF32, d_out, d_in, rng);
  ThreadPool pool(2);
  MatmulWorkspace ws;
  for (int64_t n_rows : {1, 3, 9}) {
    const std::vector<float> x = RandomRows(n_rows, d_in, rng);
    std::vector<float> reference(static_cast<size_t>(n_rows * d_out)), got(reference.size());
    MatmulNaive(k, w.data(), d_out, d_in, x.data(), n_rows, reference.data());
    Matmul(pool, k, w.data(), d_out, d_in, x.data(), n_rows, got.data(), ws);
    EXPECT_TRUE(SameBits(got, reference)) << n_rows;
    // Doubling is exact, so it is also twice the plain kernel's product.
    const DotKernel& plain = SelectDotKernel(WeightFormat::kF32, BestIsa());
    std::vector<float> plain_y(reference.size());
    MatmulNaive(plain, w.data(), d_out, d_in, x.data(), n_rows, plain_y.data());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], 2.0f * plain_y[i]);
  }
  EXPECT_GE(ws.capacity(), static_cast<size_t>(9 * 4 * d_in));
}

TEST(MatmulWorkspace, GrowsOnlyWhenNeeded) {
  MatmulWorkspace ws;
  std::byte* first = ws.Reserve(1000);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  EXPECT_EQ(ws.Reserve(10), first);
  EXPECT_EQ(ws.Reserve(1000), first);
  EXPECT_EQ(ws.capacity(), 1000u);
  std::byte* grown = ws.Reserve(5000);
  EXPECT_EQ(ws.capacity(), 5000u);
  EXPECT_EQ(ws.Reserve(4000), grown);
}

TEST(Matmul, EmptyShapesDoNothing) {
  ThreadPool pool(2);
  MatmulWorkspace ws;
  const DotKernel& k = SelectDotKernel(WeightFormat::kF32, BestIsa());
  float y = 7.0f;
  Matmul(pool, k, nullptr, 0, 4, nullptr, 3, &y, ws);
  Matmul(pool, k, nullptr, 4, 4, nullptr, 0, &y, ws);
  EXPECT_EQ(y, 7.0f);
}

}  // namespace
}  // namespace medassist::kernels
