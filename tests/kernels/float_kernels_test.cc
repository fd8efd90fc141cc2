// Float-weight dot kernels (F32, F16, BF16 weights, F32 activations) on every ISA this CPU runs:
// against a double-precision reference on odd sizes, dot_rows against dot bit for bit, and the
// scalar F32 kernel against a plain loop exactly (it is the reference). Also CPU dispatch and the
// weight-format table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/dot_float.h"
#include "kernels/dot_registry.h"
#include "kernels/weight_format.h"

namespace medassist::kernels {
namespace {

constexpr WeightFormat kFloatFormats[] = {WeightFormat::kF32, WeightFormat::kF16,
                                          WeightFormat::kBF16};
constexpr int64_t kSizes[] = {1, 7, 15, 16, 17, 31, 33, 64, 100, 257, 896, 4864 + 3};

// Exact decoding of the weight formats, independent of the kernels' own.
double DecodeHalf(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 0x1F) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}
double DecodeBf16(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// n random weights in format (values in about [-2, 2], including F16 subnormals), stored in
// row (RowBytes bytes), and their exact values as doubles.
void RandomWeights(WeightFormat format, int64_t n, std::mt19937& rng, std::vector<uint8_t>* row,
                   std::vector<double>* values) {
  row->assign(static_cast<size_t>(RowBytes(format, n)), 0);
  values->resize(static_cast<size_t>(n));
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  for (int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<size_t>(i);
    if (format == WeightFormat::kF32) {
      const float f = uniform(rng);
      std::memcpy(row->data() + 4 * s, &f, 4);
      (*values)[s] = f;
      continue;
    }
    uint16_t bits = 0;
    if (format == WeightFormat::kF16) {  // sign, exponent 0..16 (0 = subnormal), any mantissa
      bits = static_cast<uint16_t>((rng() & 0x8000u) | ((rng() % 17) << 10) | (rng() & 0x3FFu));
      (*values)[s] = DecodeHalf(bits);
    } else {  // bfloat16: truncate a random float
      const float f = uniform(rng);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      bits = static_cast<uint16_t>(u >> 16);
      (*values)[s] = DecodeBf16(bits);
    }
    std::memcpy(row->data() + 2 * s, &bits, 2);
  }
}

std::vector<float> RandomActivations(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = uniform(rng);
  return x;
}

class FloatKernelTest : public testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) {
      GTEST_SKIP() << "skipped: CPU lacks " << (GetParam() == Isa::kAvx512 ? "AVX-512" : "AVX2");
    }
  }
  const DotKernel& Kernel(WeightFormat format) {
    const DotKernel* k = FindFloatDotKernel(format, GetParam());
    EXPECT_NE(k, nullptr);
    return *k;
  }
};

TEST_P(FloatKernelTest, FindReturnsTheRequestedKernel) {
  for (WeightFormat format : kFloatFormats) {
    const DotKernel& k = Kernel(format);
    EXPECT_EQ(k.format, format);
    EXPECT_EQ(k.isa, GetParam());
    EXPECT_EQ(k.prepared_row_bytes(33), 33 * 4);
    EXPECT_TRUE(PreparesByCopy(k));
    EXPECT_EQ(&SelectDotKernel(format, GetParam()), &k);
  }
}

// |dot - exact| within a few float roundings of the terms' magnitude.
TEST_P(FloatKernelTest, DotMatchesDoubleReference) {
  std::mt19937 rng(1234);
  for (WeightFormat format : kFloatFormats) {
    const DotKernel& k = Kernel(format);
    for (int64_t n : kSizes) {
      std::vector<uint8_t> w;
      std::vector<double> w_exact;
      RandomWeights(format, n, rng, &w, &w_exact);
      const std::vector<float> x = RandomActivations(n, rng);
      std::vector<uint8_t> prepared(static_cast<size_t>(k.prepared_row_bytes(n)));
      k.prepare(x.data(), n, prepared.data());
      double exact = 0.0, magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        exact += w_exact[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
        magnitude += std::fabs(w_exact[static_cast<size_t>(i)] * x[static_cast<size_t>(i)]);
      }
      const double got = k.dot(w.data(), prepared.data(), n);
      EXPECT_NEAR(got, exact, 2e-6 * std::sqrt(static_cast<double>(n)) * magnitude)
          << Traits(format).name << " n=" << n;
    }
  }
}

// dot_rows gives dot's bits for every row, for row counts around the kernels' row blocking and
// a stride larger than a row.
TEST_P(FloatKernelTest, DotRowsEqualsDotBitwise) {
  std::mt19937 rng(99);
  for (WeightFormat format : kFloatFormats) {
    const DotKernel& k = Kernel(format);
    for (int64_t n : {1, 17, 33, 100, 896}) {
      const int64_t stride = RowBytes(format, n) + 64;
      for (int64_t rows : {1, 3, 4, 5, 8, 9, 13}) {
        std::vector<uint8_t> w(static_cast<size_t>(stride * rows));
        std::vector<uint8_t> row;
        std::vector<double> unused;
        for (int64_t r = 0; r < rows; ++r) {
          RandomWeights(format, n, rng, &row, &unused);
          std::memcpy(w.data() + r * stride, row.data(), row.size());
        }
        const std::vector<float> x = RandomActivations(n, rng);
        std::vector<float> batched(static_cast<size_t>(rows)), single(static_cast<size_t>(rows));
        k.dot_rows(w.data(), stride, rows, x.data(), n, batched.data());
        for (int64_t r = 0; r < rows; ++r) {
          single[static_cast<size_t>(r)] = k.dot(w.data() + r * stride, x.data(), n);
        }
        EXPECT_EQ(std::memcmp(batched.data(), single.data(), batched.size() * sizeof(float)), 0)
            << Traits(format).name << " n=" << n << " rows=" << rows;
      }
    }
  }
}

// The register-blocked tile (prefill) gives dot's bits for every (weight row, activation row)
// pair, for counts around its block shape.
TEST_P(FloatKernelTest, DotTileEqualsDotBitwise) {
  std::mt19937 rng(21);
  for (WeightFormat format : kFloatFormats) {
    const DotKernel& k = Kernel(format);
    const DotTileFn tile = FindFloatDotTile(k);
    if (GetParam() == Isa::kScalar) {
      EXPECT_EQ(tile, nullptr);
      continue;
    }
    ASSERT_NE(tile, nullptr);
    for (int64_t n : {7, 33, 257}) {
      const int64_t stride = RowBytes(format, n);
      for (auto [rows, n_x] : {std::pair<int64_t, int64_t>{1, 1}, {3, 2}, {4, 3}, {5, 7}, {9, 4}}) {
        std::vector<uint8_t> w, row;
        std::vector<double> unused;
        for (int64_t r = 0; r < rows; ++r) {
          RandomWeights(format, n, rng, &row, &unused);
          w.insert(w.end(), row.begin(), row.end());
        }
        const std::vector<float> x = RandomActivations(n * n_x, rng);
        const int64_t y_stride = rows + 3;
        std::vector<float> y(static_cast<size_t>(y_stride * n_x), -1.0f);
        tile(w.data(), stride, rows, x.data(), n, n_x, n, y.data(), y_stride);
        for (int64_t c = 0; c < n_x; ++c) {
          for (int64_t r = 0; r < rows; ++r) {
            const float expected = k.dot(w.data() + r * stride, x.data() + c * n, n);
            const float got = y[static_cast<size_t>(c * y_stride + r)];
            ASSERT_EQ(std::memcmp(&got, &expected, sizeof(float)), 0)
                << Traits(format).name << " n=" << n << " row " << r << " x row " << c;
          }
        }
      }
    }
  }
}

// Every F16 and BF16 bit pattern (NaN aside) widens exactly: dot of one weight with x = 1.
TEST_P(FloatKernelTest, WidensEveryHalfAndBfloat16Exactly) {
  const float one = 1.0f;
  for (WeightFormat format : {WeightFormat::kF16, WeightFormat::kBF16}) {
    const DotKernel& k = Kernel(format);
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
      const auto h = static_cast<uint16_t>(bits);
      const double expected = format == WeightFormat::kF16 ? DecodeHalf(h) : DecodeBf16(h);
      if (std::isnan(expected)) continue;
      const float got = k.dot(&h, &one, 1);
      ASSERT_EQ(got, static_cast<float>(expected + 0.0)) << Traits(format).name << " " << bits;
    }
  }
}

// Tails never read past n: NaN guards right after the row and the activations change nothing.
TEST_P(FloatKernelTest, TailsReadOnlyNElements) {
  std::mt19937 rng(7);
  for (WeightFormat format : kFloatFormats) {
    const DotKernel& k = Kernel(format);
    for (int64_t n : {1, 7, 15, 17, 31, 33, 47}) {
      std::vector<uint8_t> w;
      std::vector<double> unused;
      RandomWeights(format, n, rng, &w, &unused);
      std::vector<float> x = RandomActivations(n, rng);
      const float clean = k.dot(w.data(), x.data(), n);
      w.resize(w.size() + 128, 0xFF);  // 0xFFFF.. is NaN in every float format
      x.resize(x.size() + 32, std::numeric_limits<float>::quiet_NaN());
      const float guarded = k.dot(w.data(), x.data(), n);
      EXPECT_EQ(std::memcmp(&clean, &guarded, sizeof(float)), 0) << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, FloatKernelTest,
                         testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const testing::TestParamInfo<Isa>& param) {
                           return std::string(IsaName(param.param));
                         });

// The scalar F32 kernel is the reference: exactly a sequential float loop.
TEST(ScalarFloatKernel, F32IsASequentialFloatLoop) {
  std::mt19937 rng(5);
  const DotKernel& k = *FindFloatDotKernel(WeightFormat::kF32, Isa::kScalar);
  for (int64_t n : kSizes) {
    const std::vector<float> w = RandomActivations(n, rng), x = RandomActivations(n, rng);
    float expected = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float product = w[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
      expected += product;
    }
    const float got = k.dot(w.data(), x.data(), n);
    EXPECT_EQ(std::memcmp(&got, &expected, sizeof(float)), 0) << n;
  }
}

// Opt-in AVX512_BF16 kernel: close to the exact product with BF16-rounded activations, and its
// dot_rows agrees with its dot bit for bit.
TEST(Bf16DotProductKernel, MatchesReferenceWithRoundedActivations) {
  const DotKernel* k = Bf16DotProductKernel();
  if (k == nullptr) GTEST_SKIP() << "skipped: CPU lacks AVX512_BF16";
  EXPECT_FALSE(PreparesByCopy(*k));
  EXPECT_NE(k, &SelectDotKernel(WeightFormat::kBF16, BestIsa()));
  std::mt19937 rng(11);
  for (int64_t n : kSizes) {
    std::vector<uint8_t> w;
    std::vector<double> w_exact;
    RandomWeights(WeightFormat::kBF16, n, rng, &w, &w_exact);
    const std::vector<float> x = RandomActivations(n, rng);
    std::vector<uint16_t> prepared(static_cast<size_t>(n));
    k->prepare(x.data(), n, prepared.data());
    double exact = 0.0, magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const auto s = static_cast<size_t>(i);
      const double xr = DecodeBf16(prepared[s]);
      EXPECT_LE(std::fabs(xr - x[s]), std::fabs(x[s]) * (1.0 / 256)) << "rounding of x";
      exact += w_exact[s] * xr;
      magnitude += std::fabs(w_exact[s] * xr);
    }
    const float got = k->dot(w.data(), prepared.data(), n);
    EXPECT_NEAR(got, exact, 4e-6 * std::sqrt(static_cast<double>(n)) * magnitude) << n;
    float rows[5];
    std::vector<uint8_t> w5(w.size() * 5);
    for (int r = 0; r < 5; ++r) std::memcpy(w5.data() + r * w.size(), w.data(), w.size());
    k->dot_rows(w5.data(), static_cast<int64_t>(w.size()), 5, prepared.data(), n, rows);
    for (float v : rows) EXPECT_EQ(std::memcmp(&v, &got, sizeof(float)), 0) << n;
  }
}

TEST(CpuFeatures, LevelsAreConsistent) {
  const CpuFeatures& f = DetectCpuFeatures();
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  EXPECT_EQ(IsaSupported(Isa::kAvx2), f.avx2 && f.fma && f.f16c);
  if (IsaSupported(Isa::kAvx512)) {
    EXPECT_TRUE(IsaSupported(Isa::kAvx2));
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512_vnni);
  }
  EXPECT_TRUE(IsaSupported(BestIsa()));
  EXPECT_STREQ(IsaName(Isa::kScalar), "scalar");
  EXPECT_STREQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_STREQ(IsaName(Isa::kAvx512), "avx512");
}

TEST(WeightFormat, TraitsAndRowBytes) {
  EXPECT_EQ(RowBytes(WeightFormat::kF32, 7), 28);
  EXPECT_EQ(RowBytes(WeightFormat::kF16, 7), 14);
  EXPECT_EQ(RowBytes(WeightFormat::kBF16, 896), 1792);
  EXPECT_EQ(RowBytes(WeightFormat::kQ8_0, 64), 68);
  EXPECT_EQ(RowBytes(WeightFormat::kQ4_0, 896), 28 * 18);
  EXPECT_EQ(RowBytes(WeightFormat::kQ4_K, 512), 288);
  EXPECT_EQ(RowBytes(WeightFormat::kQ6_K, 256), 210);
  EXPECT_EQ(Traits(WeightFormat::kQ4_K).name, "Q4_K");
  EXPECT_EQ(Traits(WeightFormat::kQ6_K).block_elems, 256);
}

TEST(WeightFormat, ParseIsCaseInsensitive) {
  EXPECT_EQ(ParseWeightFormat("q4_k"), WeightFormat::kQ4_K);
  EXPECT_EQ(ParseWeightFormat("Q4_K"), WeightFormat::kQ4_K);
  EXPECT_EQ(ParseWeightFormat("bf16"), WeightFormat::kBF16);
  EXPECT_EQ(ParseWeightFormat("f32"), WeightFormat::kF32);
  EXPECT_EQ(ParseWeightFormat("Q8_0"), WeightFormat::kQ8_0);
  EXPECT_EQ(ParseWeightFormat("q6_K"), WeightFormat::kQ6_K);
  EXPECT_EQ(ParseWeightFormat("q4_1"), std::nullopt);
  EXPECT_EQ(ParseWeightFormat(""), std::nullopt);
  EXPECT_EQ(ParseWeightFormat("F32 "), std::nullopt);
}

}  // namespace
}  // namespace medassist::kernels
