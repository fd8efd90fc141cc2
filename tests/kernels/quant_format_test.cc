// Block layouts, dequantization (bit-exact against ggml's own output) and quantization quality.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/dequantize.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"
#include "kernels/weight_format.h"
#include "quant_test_util.h"
#include "support/test_support.h"

namespace medassist::kernels {
namespace {

using testing::AwkwardRow;
using testing::GaussianRow;

struct QuantType {
  WeightFormat format;
  const char* file;  // golden file stem in tests/data/kernels
  int64_t block_elems, block_bytes;
  double ggml_rmse;  // ggml's quantize -> dequantize RMSE on GaussianRow(100..163, 4096)
};

// RMSE figures measured with ggml (llama.cpp v0.5.0): ggml_quantize_chunk without imatrix, then
// to_float, on exactly the data RmseOf uses.
const QuantType kTypes[] = {
    {WeightFormat::kQ8_0, "q8_0", 32, 34, 0.005350748},
    {WeightFormat::kQ4_0, "q4_0", 32, 18, 0.086000531},
    {WeightFormat::kQ5_0, "q5_0", 32, 22, 0.042706498},
    {WeightFormat::kQ4_K, "q4_k", 256, 144, 0.071395138},
    {WeightFormat::kQ6_K, "q6_k", 256, 210, 0.017715178},
};

std::vector<uint8_t> Quantize(WeightFormat f, const std::vector<float>& x, int64_t block_elems,
                              int64_t block_bytes) {
  std::vector<uint8_t> q(static_cast<size_t>(x.size() / block_elems * block_bytes));
  QuantizeRow(f, x.data(), static_cast<int64_t>(x.size()), q.data());
  return q;
}

std::vector<float> RoundTrip(const QuantType& t, const std::vector<float>& x) {
  const std::vector<uint8_t> q = Quantize(t.format, x, t.block_elems, t.block_bytes);
  std::vector<float> y(x.size());
  DequantizeRow(t.format, q.data(), static_cast<int64_t>(x.size()), y.data());
  return y;
}

std::string Golden(const std::string& name) {
  return medassist::testing::ReadFileOrFail(std::string(MEDASSIST_KERNELS_TEST_DATA_DIR) + "/" +
                                            name);
}

TEST(QuantBlocksTest, GgufSizes) {
  EXPECT_EQ(sizeof(BlockQ8_0), 34u);
  EXPECT_EQ(sizeof(BlockQ4_0), 18u);
  EXPECT_EQ(sizeof(BlockQ5_0), 22u);
  EXPECT_EQ(sizeof(BlockQ4_K), 144u);
  EXPECT_EQ(sizeof(BlockQ6_K), 210u);
  EXPECT_EQ(sizeof(BlockQ8_K), 292u);
  EXPECT_EQ(offsetof(BlockQ6_K, d), 208u);
  EXPECT_EQ(offsetof(BlockQ4_K, qs), 16u);
}

TEST(Fp16Test, RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00) continue;  // inf / NaN
    ASSERT_EQ(F32ToF16(F16ToF32(static_cast<uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F32ToF16(1e6f), 0x7C00);
}

// Our dequantization of ggml's bytes equals ggml's dequantization, bit for bit. (q5_0: 16 blocks
// that llama-quantize wrote into a Q4_K_M file, dequantized by an independent Python script that
// agrees with ggml's to_float; see tests/data/kernels/README.md.)
TEST(DequantizeTest, BitExactToGgml) {
  for (const QuantType& t : kTypes) {
    SCOPED_TRACE(t.file);
    const std::string q = Golden(std::string(t.file) + ".quant");
    const std::string want = Golden(std::string(t.file) + ".f32");
    const int64_t n = static_cast<int64_t>(want.size() / 4);
    ASSERT_EQ(static_cast<int64_t>(q.size()), n / t.block_elems * t.block_bytes);
    std::vector<float> got(static_cast<size_t>(n));
    DequantizeRow(t.format, q.data(), n, got.data());
    ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0);
  }
}

// Q8_0 and Q4_0 quantize by ggml's own absmax rule, so the bytes match ggml's exactly.
TEST(QuantizeTest, Q8_0AndQ4_0BytesEqualGgml) {
  for (const QuantType& t : {kTypes[0], kTypes[1]}) {
    SCOPED_TRACE(t.file);
    const std::string want = Golden(std::string(t.file) + ".quant");
    const int64_t n = static_cast<int64_t>(want.size()) / t.block_bytes * t.block_elems;
    const std::vector<uint8_t> got =
        Quantize(t.format, AwkwardRow(1234, n), t.block_elems, t.block_bytes);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0);
  }
}

// Q5_0 too: ggml's bytes for AwkwardRow(1234, 256) (ggml_quantize_chunk, no imatrix).
TEST(QuantizeTest, Q5_0BytesEqualGgml) {
  const std::string want = Golden("q5_0_awkward.quant");
  ASSERT_EQ(want.size(), 8u * 22);
  const std::vector<uint8_t> got = Quantize(WeightFormat::kQ5_0, AwkwardRow(1234, 256), 32, 22);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0);
}

// The 5th bits: a block whose values sit on the grid -16..15 (times 0.5) round-trips exactly,
// every q value and so every qh bit pattern appearing.
TEST(QuantizeTest, Q5_0ExactOnItsGrid) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = 0.5f * static_cast<float>((i * 7) % 32 - 16);
  x[5] = -8.0f;  // the value of largest magnitude, -16 * d with d = 0.5
  x[37] = -8.0f;
  EXPECT_EQ(RoundTrip({WeightFormat::kQ5_0, "q5_0", 32, 22, 0}, x), x);
}

TEST(QuantizeTest, RmseWithinTenPercentOfGgml) {
  for (const QuantType& t : kTypes) {
    double se = 0;
    int64_t count = 0;
    for (int r = 0; r < 64; ++r) {
      const std::vector<float> x = GaussianRow(100 + r, 4096);
      const std::vector<float> y = RoundTrip(t, x);
      for (size_t i = 0; i < x.size(); ++i) se += (double{y[i]} - x[i]) * (double{y[i]} - x[i]);
      count += static_cast<int64_t>(x.size());
    }
    const double rmse = std::sqrt(se / static_cast<double>(count));
    std::printf("%s rmse %.9f (ggml %.9f)\n", t.file, rmse, t.ggml_rmse);
    EXPECT_LE(rmse, 1.1 * t.ggml_rmse + 1e-6) << t.file;
    EXPECT_GT(rmse, 0.0) << t.file;  // a lossy format that loses nothing would be suspicious
  }
}

TEST(QuantizeTest, Q8_0ExactOnItsGrid) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = 0.25f * static_cast<float>((i * 37) % 255 - 127);
  x[3] = 0.25f * 127;  // the absmax sits on the grid: d = 0.25 exactly
  x[40] = -0.25f * 127;
  EXPECT_EQ(RoundTrip(kTypes[0], x), x);
}

TEST(QuantizeTest, ZerosStayZeros) {
  for (const QuantType& t : kTypes) {
    const std::vector<float> x(512, 0.0f);
    // (Q4_0 gives -0.0, as ggml: an all-zero block's scale is 0 / -8.)
    for (float v : RoundTrip(t, x)) ASSERT_EQ(v, 0.0f) << t.file;
  }
}

TEST(QuantizeTest, AllEqualBlocksAreNearlyExact) {
  for (const QuantType& t : kTypes) {
    for (float c : {1.0f, -3.5f, 0.01f}) {
      const std::vector<float> x(512, c);
      for (float v : RoundTrip(t, x)) {
        // 3e-5: Q4_K's super-scale of a 0.01 block is an F16 subnormal, with few digits.
        ASSERT_NEAR(v, c, std::fabs(c) * 2e-3 + 3e-5) << t.file << " " << c;
      }
    }
  }
}

// Scales beyond F16's range are clamped, not turned into inf; tiny blocks flush to zero; never NaN.
TEST(QuantizeTest, HugeAndTinyMagnitudesGiveNoNaN) {
  for (const QuantType& t : kTypes) {
    for (float mag : {1e-30f, 1e-8f, 1e3f, 1e6f, 1e9f}) {
      std::vector<float> x = AwkwardRow(7, 512);
      for (float& v : x) v *= mag;
      const std::vector<float> y = RoundTrip(t, x);
      double se = 0, ss = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << t.file << " " << mag << " at " << i;
        se += (double{y[i]} - x[i]) * (double{y[i]} - x[i]);
        ss += double{x[i]} * x[i];
      }
      // Within F16's scale range the relative error stays that of the format.
      if (mag >= 1e-3f && mag <= 1e3f) {
        EXPECT_LT(std::sqrt(se / ss), 0.2) << t.file << " " << mag;
      }
    }
  }
}

TEST(QuantizeTest, ActivationQuantizersMatchTheirDefinition) {
  const std::vector<float> x = AwkwardRow(99, 512);
  std::vector<BlockQ8_K> k(2);
  QuantizeRowQ8_K(x.data(), 512, k.data());
  for (int b = 0; b < 2; ++b) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += k[b].qs[16 * g + l];
      EXPECT_EQ(k[b].bsums[g], sum);
    }
    for (int j = 0; j < 256; ++j) {
      EXPECT_GE(k[b].qs[j], -127);
      EXPECT_NEAR(k[b].qs[j] * k[b].d, x[256 * b + j], std::fabs(k[b].d) * 0.5f + 1e-6f);
    }
  }
  std::vector<BlockQ8_0> q(16);
  QuantizeRowQ8_0(x.data(), 512, q.data());
  for (int j = 0; j < 512; ++j) EXPECT_GE(q[j / 32].qs[j % 32], -127);
}

}  // namespace
}  // namespace medassist::kernels
