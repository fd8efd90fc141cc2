// RoPE: the table and the scalar kernels give exactly the bits of the pre-kernel algorithm
// (model/row_ops.cc's RopeNaive, kept below as the reference); every ISA gives the scalar bits for
// both pair layouts on odd sizes (tails); the scalar rotation stays within float rounding of a
// double-precision one; empty heads are no-ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/rope.h"

namespace medassist::kernels {
namespace {

// The algorithm the forward passes used before this kernel, verbatim but for the style enum.
void OldRopeNaive(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, double theta,
                  RopePairs style) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double angle =
        pos * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const float c = static_cast<float>(std::cos(angle));
    const float s = static_cast<float>(std::sin(angle));
    const int64_t a = style == RopePairs::kRotateHalf ? i : 2 * i;
    const int64_t b = style == RopePairs::kRotateHalf ? i + half : 2 * i + 1;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = x + h * head_dim;
      const float x0 = head[a];
      const float x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

std::vector<float> RandomHeads(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> exponent(-15, 15);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng) * std::pow(10.0f, static_cast<float>(exponent(rng)));
  return v;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string PairsName(RopePairs pairs) {
  return pairs == RopePairs::kRotateHalf ? "rotate_half" : "interleaved";
}

// Rotates x (n_heads, head_dim) at pos with the table and the kernel of isa.
void ApplyRope(Isa isa, RopePairs pairs, std::vector<float>& x, int64_t n_heads, int64_t head_dim,
               int32_t pos, double theta) {
  std::vector<float> cos(static_cast<size_t>(head_dim / 2)), sin(cos.size());
  RopeTable(pos, head_dim, theta, cos.data(), sin.data());
  SelectRope(isa, pairs)(x.data(), n_heads, head_dim, cos.data(), sin.data());
}

constexpr RopePairs kPairs[] = {RopePairs::kRotateHalf, RopePairs::kInterleaved};
// half = 1, 3, 4, 7, 8, 15, 16, 17, 32, 33, 64: every tail length of both vector widths.
constexpr int64_t kHeadDims[] = {2, 6, 8, 14, 16, 30, 32, 34, 64, 66, 128};

TEST(RopeTable, ScalarKernelsGiveTheOldBits) {
  uint32_t seed = 1;
  for (RopePairs pairs : kPairs) {
    for (int64_t head_dim : {8, 64, 128, 6}) {
      for (double theta : {10000.0, 1000000.0}) {
        for (int32_t pos : {0, 1, 2, 17, 511, 4095, 32767, 131071}) {
          const std::vector<float> x = RandomHeads(3 * head_dim, seed++);
          std::vector<float> want = x, got = x;
          OldRopeNaive(want.data(), 3, head_dim, pos, theta, pairs);
          ApplyRope(Isa::kScalar, pairs, got, 3, head_dim, pos, theta);
          EXPECT_TRUE(BitEqual(got, want)) << PairsName(pairs) << " head_dim=" << head_dim
                                           << " theta=" << theta << " pos=" << pos;
        }
      }
    }
  }
}

TEST(RopeTable, PositionZeroIsTheIdentity) {
  std::vector<float> cos(32), sin(32);
  RopeTable(0, 64, 10000.0, cos.data(), sin.data());
  for (size_t i = 0; i < cos.size(); ++i) {
    EXPECT_EQ(cos[i], 1.0f);
    EXPECT_EQ(sin[i], 0.0f);
  }
}

class RopeTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "skipped: CPU lacks " << IsaName(GetParam());
  }
};

TEST_P(RopeTest, GivesTheOldBitsOnOddSizes) {
  uint32_t seed = 100;
  for (RopePairs pairs : kPairs) {
    for (int64_t head_dim : kHeadDims) {
      for (int64_t n_heads : {1, 3, 14}) {
        for (int32_t pos : {1, 300, 70000}) {
          const std::vector<float> x = RandomHeads(n_heads * head_dim, seed++);
          std::vector<float> want = x, got = x;
          OldRopeNaive(want.data(), n_heads, head_dim, pos, 1000000.0, pairs);
          ApplyRope(GetParam(), pairs, got, n_heads, head_dim, pos, 1000000.0);
          EXPECT_TRUE(BitEqual(got, want)) << PairsName(pairs) << " head_dim=" << head_dim
                                           << " n_heads=" << n_heads << " pos=" << pos;
        }
      }
    }
  }
}

TEST_P(RopeTest, LeavesTheNextHeadAlone) {
  // Tails are masked: rotating 1 head of 14 must not touch the 8 floats after it.
  for (RopePairs pairs : kPairs) {
    std::vector<float> x = RandomHeads(14 + 8, 5);
    const std::vector<float> before = x;
    ApplyRope(GetParam(), pairs, x, 1, 14, 9, 10000.0);
    EXPECT_EQ(std::memcmp(x.data() + 14, before.data() + 14, 8 * sizeof(float)), 0);
    EXPECT_FALSE(BitEqual(x, before));
  }
}

TEST_P(RopeTest, MatchesDoubleRotation) {
  const int64_t head_dim = 64, half = 32;
  for (RopePairs pairs : kPairs) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal;
    std::vector<float> x(2 * head_dim);
    for (float& v : x) v = normal(rng);
    std::vector<float> got = x;
    ApplyRope(GetParam(), pairs, got, 2, head_dim, 1234, 10000.0);
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t i = 0; i < half; ++i) {
        const double angle = 1234.0 * std::pow(10000.0, -2.0 * static_cast<double>(i) / 64.0);
        const int64_t a = h * head_dim + (pairs == RopePairs::kRotateHalf ? i : 2 * i);
        const int64_t b = h * head_dim + (pairs == RopePairs::kRotateHalf ? i + half : 2 * i + 1);
        const double x0 = x[a], x1 = x[b];
        const double norm = std::fabs(x0) + std::fabs(x1);
        EXPECT_NEAR(got[a], x0 * std::cos(angle) - x1 * std::sin(angle), 4e-7 * norm) << i;
        EXPECT_NEAR(got[b], x0 * std::sin(angle) + x1 * std::cos(angle), 4e-7 * norm) << i;
      }
    }
  }
}

TEST_P(RopeTest, EmptyHeadsAreANoOp) {
  for (RopePairs pairs : kPairs) {
    float x = 3.0f;
    const float cos = 0.0f, sin = 1.0f;
    SelectRope(GetParam(), pairs)(&x, 1, 0, &cos, &sin);
    SelectRope(GetParam(), pairs)(&x, 0, 8, &cos, &sin);
    SelectRope(GetParam(), pairs)(nullptr, 0, 0, nullptr, nullptr);
    EXPECT_EQ(x, 3.0f);
  }
  float table = 5.0f;
  RopeTable(7, 0, 10000.0, &table, &table);
  EXPECT_EQ(table, 5.0f);
}

INSTANTIATE_TEST_SUITE_P(Isas, RopeTest, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const auto& p) { return std::string(IsaName(p.param)); });

}  // namespace
}  // namespace medassist::kernels
