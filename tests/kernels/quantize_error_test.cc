// Per-block error bounds of the weight quantizers (kernels::QuantizeRow), on deterministic rows of
// normal and of heavy-tailed (Student t, 3 degrees of freedom) values. For every block the RMSE of
// dequantize(quantize(x)) - x, divided by the block's max |x| (amax), must stay under the bound of
// its type, derived from how the quantizer builds the block:
//
//   Q8_0  d = amax / 127 and q = round(x / d): each element is off by at most d / 2, plus the F16
//         rounding of d (relative 2^-11) times |q| <= 127: |e| <= amax (1/254 + 1/2048).
//   Q4_0  d = max / -8 and q = floor(x / d + 8.5) clamped to 15: at most |d| / 2 = amax / 16,
//         except elements past 7.5 |d| on the side opposite the max, clamped to 7 |d|: at most
//         |d| = amax / 8. Both plus 8 |d| 2^-11 for the F16 d. The bound counts the clamped
//         elements k of each block: RMSE <= sqrt(((32 - k) e_round^2 + k e_clamp^2) / 32).
//   Q4_K  16 levels per 32-element sub-block, spanning that sub-block's range [lo, hi] with lo <= 0
//         <= hi, so a step of at most (hi - lo) / 15 <= 2 amax / 15; round-to-nearest leaves half a
//         step, amax / 15, and the fit only lowers the (weighted) error. The 6-bit scales and mins
//         and F16 super-scales can clip a sub-block's ends; the quants are re-rounded against them,
//         so the loss is a fraction of a step. Bound: RMSE <= amax / 15, and no element off by
//         more than 2 amax / 15 (one full step).
//   Q6_K  64 levels, symmetric, per 16-element sub-block, the largest |x| of the sub-block on the
//         grid's end: a step of about amax_s / 32, half a step amax / 64. The 8-bit sub-block
//         scales are re-rounded against as above. Bound: RMSE <= amax / 64, |e| <= amax / 32.
//
// Measured on these rows the worst blocks sit inside (RMSE / amax 1/353 for Q8_0, 1/20 for Q4_0,
// 1/33 for Q4_K, 1/139 for Q6_K); a quantizer that truncated instead of rounding, or that kept
// quants rounded against scales other than the stored ones, would not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dequantize.h"
#include "kernels/quantize.h"
#include "kernels/weight_format.h"
#include "quant_test_util.h"

namespace medassist::kernels {
namespace {

using testing::SplitMix64;

constexpr int64_t kRowElems = 256 * 64;  // 64 super-blocks, 512 blocks of 32

// Student t with 3 degrees of freedom: a normal over sqrt(chi2_3 / 3). Weight outliers look so.
std::vector<float> HeavyTailedRow(uint64_t seed, int64_t n) {
  SplitMix64 rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    const double g = rng.Gaussian();
    double chi2 = 0;
    for (int k = 0; k < 3; ++k) {
      const double z = rng.Gaussian();
      chi2 += z * z;
    }
    v = static_cast<float>(g / std::sqrt(chi2 / 3.0));
  }
  return x;
}

struct BlockError {
  double amax = 0, rmse = 0, max_abs = 0;
};

// Round trip of one row, and the error of each block of block_elems.
std::vector<BlockError> BlockErrors(WeightFormat f, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(static_cast<size_t>(RowBytes(f, n)));
  QuantizeRow(f, x.data(), n, q.data());
  std::vector<float> y(x.size());
  DequantizeRow(f, q.data(), n, y.data());
  const int64_t block = Traits(f).block_elems;
  std::vector<BlockError> out;
  for (int64_t b = 0; b < n; b += block) {
    BlockError e;
    double sum2 = 0;
    for (int64_t i = b; i < b + block; ++i) {
      const double diff = static_cast<double>(y[i]) - x[i];
      e.amax = std::max(e.amax, std::fabs(static_cast<double>(x[i])));
      e.max_abs = std::max(e.max_abs, std::fabs(diff));
      sum2 += diff * diff;
    }
    e.rmse = std::sqrt(sum2 / static_cast<double>(block));
    out.push_back(e);
  }
  return out;
}

std::vector<std::vector<float>> Rows() {
  std::vector<std::vector<float>> rows;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    rows.push_back(testing::GaussianRow(seed, kRowElems));
    rows.push_back(HeavyTailedRow(100 + seed, kRowElems));
    std::vector<float> scaled = testing::GaussianRow(200 + seed, kRowElems);
    for (float& v : scaled) v *= 0.02f;  // the size of real weights
    rows.push_back(scaled);
  }
  return rows;
}

// Every block of every row within rmse_bound * amax and max_bound * amax (with a relative slack
// of 1e-5 for float rounding in the quantizer). Returns the worst RMSE / amax seen.
double ExpectWithin(WeightFormat f, double rmse_bound, double max_bound) {
  double worst = 0;
  int row_index = 0;
  for (const std::vector<float>& x : Rows()) {
    const std::vector<BlockError> errors = BlockErrors(f, x);
    for (size_t b = 0; b < errors.size(); ++b) {
      const BlockError& e = errors[b];
      EXPECT_LE(e.rmse, rmse_bound * e.amax * (1 + 1e-5))
          << Traits(f).name << " row " << row_index << " block " << b;
      EXPECT_LE(e.max_abs, max_bound * e.amax * (1 + 1e-5))
          << Traits(f).name << " row " << row_index << " block " << b;
      if (e.amax > 0) worst = std::max(worst, e.rmse / e.amax);
    }
    ++row_index;
  }
  return worst;
}

TEST(QuantizeErrorTest, Q8_0WithinHalfAStep) {
  const double bound = 1.0 / 254 + 1.0 / 2048;
  const double worst = ExpectWithin(WeightFormat::kQ8_0, bound, bound);
  // The bound is not loose: rounding error is uniform, so the RMSE is about d / sqrt(12).
  EXPECT_GT(worst, 1.0 / 600) << "suspiciously exact: is the row quantized at all?";
}

TEST(QuantizeErrorTest, Q4_0WithinHalfAStepOrOneStepWhereClamped) {
  const double f16 = 8.0 / 8.0 / 2048;  // 8 |d| 2^-11 over amax, |d| = amax / 8
  int n_clamped_blocks = 0, row_index = 0;
  for (const std::vector<float>& x : Rows()) {
    const std::vector<BlockError> errors = BlockErrors(WeightFormat::kQ4_0, x);
    for (size_t b = 0; b < errors.size(); ++b) {
      const float* xs = x.data() + 32 * b;
      // The max: the element of largest magnitude (the first of equals), as the quantizer picks.
      float max = 0;
      for (int j = 0; j < 32; ++j) {
        if (std::fabs(xs[j]) > std::fabs(max)) max = xs[j];
      }
      int k = 0;  // clamped: x / d > 7.5 with d = max / -8
      for (int j = 0; j < 32; ++j) k += max != 0 && xs[j] * (-8.0f / max) > 7.5f;
      n_clamped_blocks += k > 0;
      const double amax = errors[b].amax;
      const double e_round = amax / 16 + amax * f16, e_clamp = amax / 8 + amax * f16;
      const double bound = std::sqrt(((32 - k) * e_round * e_round + k * e_clamp * e_clamp) / 32);
      EXPECT_LE(errors[b].rmse, bound * (1 + 1e-5)) << "row " << row_index << " block " << b;
      EXPECT_LE(errors[b].max_abs, (k > 0 ? e_clamp : e_round) * (1 + 1e-5))
          << "row " << row_index << " block " << b;
    }
    ++row_index;
  }
  EXPECT_GT(n_clamped_blocks, 0) << "the rows should exercise the clamped end of the grid";
}

TEST(QuantizeErrorTest, Q4_KWithinHalfAStepOfTheSubBlockRange) {
  const double worst = ExpectWithin(WeightFormat::kQ4_K, 1.0 / 15, 2.0 / 15);
  EXPECT_GT(worst, 1.0 / 200);
}

TEST(QuantizeErrorTest, Q6_KWithinHalfAStep) {
  const double worst = ExpectWithin(WeightFormat::kQ6_K, 1.0 / 64, 1.0 / 32);
  EXPECT_GT(worst, 1.0 / 1000);
}

// The per-type bounds order the types as their bits do, on the same rows.
TEST(QuantizeErrorTest, MoreBitsLessError) {
  auto mean_rmse = [](WeightFormat f) {
    double sum = 0;
    int n = 0;
    for (const std::vector<float>& x : Rows()) {
      for (const BlockError& e : BlockErrors(f, x)) {
        sum += e.rmse;
        ++n;
      }
    }
    return sum / n;
  };
  const double q8 = mean_rmse(WeightFormat::kQ8_0), q6 = mean_rmse(WeightFormat::kQ6_K);
  const double q4k = mean_rmse(WeightFormat::kQ4_K), q4 = mean_rmse(WeightFormat::kQ4_0);
  EXPECT_LT(q8, q6);
  EXPECT_LT(q6, q4k);
  EXPECT_LT(q4k, q4);
}

}  // namespace
}  // namespace medassist::kernels
