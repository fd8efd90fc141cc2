// SiLU-gate variants against a double-precision reference, on values across the whole range
// (large |g| where e^-g overflows in the naive formula, zeros, tiny values), odd lengths (tails),
// and NaN propagation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/activation.h"
#include "kernels/cpu_features.h"

namespace medassist::kernels {
namespace {

class SiluGateTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "skipped: CPU lacks " << IsaName(GetParam());
  }
};

double Reference(double g, double u) { return g / (1.0 + std::exp(-g)) * u; }

TEST_P(SiluGateTest, MatchesDoubleReference) {
  std::vector<float> g, u;
  for (int i = -20000; i <= 20000; ++i) g.push_back(static_cast<float>(i) * 0.005f);  // [-100, 100]
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, 89.0f, -89.0f, 1000.0f, -1000.0f,
                  1e30f, -1e30f, 1e38f, -1e38f}) {
    g.push_back(v);
  }
  for (size_t i = 0; i < g.size(); ++i) u.push_back(i % 3 == 0 ? -1.5f : 0.75f);
  for (size_t n : {g.size(), size_t{1}, size_t{7}, size_t{15}, size_t{17}}) {
    std::vector<float> out(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(n));
    SelectSiluGate(GetParam())(out.data(), u.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const double want = Reference(g[i], u[i]);
      if (std::isinf(want)) {
        EXPECT_EQ(out[i], static_cast<float>(want)) << "g=" << g[i];
        continue;
      }
      // Relative 1e-6 (the exp polynomial's few ulps), plus an absolute floor for results that
      // underflow (silu of a large negative g is about g e^g).
      EXPECT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-30) << "g=" << g[i] << " n=" << n;
    }
  }
}

TEST_P(SiluGateTest, NanPropagates) {
  std::vector<float> g(19, 1.0f), u(19, 1.0f);
  g[3] = std::numeric_limits<float>::quiet_NaN();
  g[18] = std::numeric_limits<float>::quiet_NaN();
  SelectSiluGate(GetParam())(g.data(), u.data(), 19);
  EXPECT_TRUE(std::isnan(g[3]));
  EXPECT_TRUE(std::isnan(g[18]));
  EXPECT_FLOAT_EQ(g[0], static_cast<float>(Reference(1.0, 1.0)));
}

INSTANTIATE_TEST_SUITE_P(Isas, SiluGateTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const auto& p) { return std::string(IsaName(p.param)); });

}  // namespace
}  // namespace medassist::kernels
