// RMSNorm variants: every ISA gives the bits of the accumulation contract (rms_norm.h), computed
// here independently, on odd sizes (tails) and data of large and small magnitudes; the contract
// stays within float rounding of a double-precision RMSNorm; d == 0 writes nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/rms_norm.h"

namespace medassist::kernels {
namespace {

constexpr int64_t kSizes[] = {1, 7, 15, 16, 17, 31, 33, 896, 2048, 4097};

class RmsNormTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "skipped: CPU lacks " << IsaName(GetParam());
  }
};

// Normal values times 10^e, e uniform in [lo, hi]: mixed magnitudes in one row.
std::vector<float> RandomRow(int64_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> exponent(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng) * std::pow(10.0f, static_cast<float>(exponent(rng)));
  return v;
}

// The contract written out directly: lane j sums x[j]^2, x[j + 16]^2, ... with fma, then the tree.
std::vector<float> Contract(const std::vector<float>& x, const std::vector<float>& w, float eps) {
  const int64_t d = static_cast<int64_t>(x.size());
  float l[16];
  for (int64_t j = 0; j < 16; ++j) {
    l[j] = 0.0f;
    for (int64_t i = j; i < d; i += 16) l[j] = std::fma(x[i], x[i], l[j]);
  }
  const float t0 = (l[0] + l[8]) + (l[4] + l[12]), t1 = (l[1] + l[9]) + (l[5] + l[13]);
  const float t2 = (l[2] + l[10]) + (l[6] + l[14]), t3 = (l[3] + l[11]) + (l[7] + l[15]);
  const float sum = (t0 + t2) + (t1 + t3);
  const float scale = 1.0f / std::sqrt(sum / static_cast<float>(d) + eps);
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = (x[i] * scale) * w[i];
  return out;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_P(RmsNormTest, GivesTheContractBitsOnOddSizes) {
  const RmsNormFn norm = SelectRmsNorm(GetParam());
  uint32_t seed = 1;
  for (int64_t d : kSizes) {
    // Small, ordinary and large magnitudes (squares down to subnormal, up to 1e30).
    for (auto [lo, hi] : {std::pair{-20, -18}, std::pair{-3, 3}, std::pair{-20, 15}}) {
      const std::vector<float> x = RandomRow(d, seed++, lo, hi);
      const std::vector<float> w = RandomRow(d, seed++, -1, 1);
      std::vector<float> got(x.size()), scalar(x.size());
      norm(x.data(), w.data(), 1e-6f, d, got.data());
      RmsNormScalar(x.data(), w.data(), 1e-6f, d, scalar.data());
      EXPECT_TRUE(BitEqual(got, Contract(x, w, 1e-6f))) << "d=" << d << " 10^" << lo << ".." << hi;
      EXPECT_TRUE(BitEqual(got, scalar)) << "d=" << d << " 10^" << lo << ".." << hi;
    }
  }
}

TEST_P(RmsNormTest, InPlace) {
  const std::vector<float> x = RandomRow(33, 7, -2, 2), w = RandomRow(33, 8, 0, 0);
  std::vector<float> out(x.size()), in_place = x;
  SelectRmsNorm(GetParam())(x.data(), w.data(), 1e-5f, 33, out.data());
  SelectRmsNorm(GetParam())(in_place.data(), w.data(), 1e-5f, 33, in_place.data());
  EXPECT_TRUE(BitEqual(in_place, out));
}

TEST_P(RmsNormTest, MatchesDoubleReference) {
  for (int64_t d : kSizes) {
    const std::vector<float> x = RandomRow(d, 100 + static_cast<uint32_t>(d), -3, 3);
    const std::vector<float> w = RandomRow(d, 200 + static_cast<uint32_t>(d), 0, 0);
    std::vector<float> out(x.size());
    SelectRmsNorm(GetParam())(x.data(), w.data(), 1e-6f, d, out.data());
    double sum = 0.0;
    for (float v : x) sum += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(sum / static_cast<double>(d) + 1e-6f);
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = x[i] * scale * w[i];
      EXPECT_NEAR(out[i], want, 1e-5 * std::fabs(want) + 1e-30) << "d=" << d << " i=" << i;
    }
  }
}

TEST_P(RmsNormTest, ConstantRowGivesTheWeight) {
  // mean(x^2) = 4, eps = 0: scale = 1/2 exactly, out = x / 2 * w = w.
  const std::vector<float> x(17, -2.0f), w = RandomRow(17, 3, -1, 1);
  std::vector<float> out(17);
  SelectRmsNorm(GetParam())(x.data(), w.data(), 0.0f, 17, out.data());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(out[i], -w[i]);
}

TEST_P(RmsNormTest, EmptyRowWritesNothing) {
  const float x = 1.0f, w = 1.0f;
  float out = 42.0f;
  SelectRmsNorm(GetParam())(&x, &w, 1e-6f, 0, &out);
  EXPECT_EQ(out, 42.0f);
  SelectRmsNorm(GetParam())(nullptr, nullptr, 1e-6f, 0, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Isas, RmsNormTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const auto& p) { return std::string(IsaName(p.param)); });

}  // namespace
}  // namespace medassist::kernels
