// The attention kernels against a double-precision reference on odd sizes, and the properties the
// forward pass relies on: a head's result does not depend on the other heads of its group or on
// the block layout, bit for bit, on every ISA the CPU has.
#include "kernels/attention.h"
#include "kernels/fp16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace medassist::kernels {
namespace {

struct Case {
  int64_t group, head_dim, n_pos;
  int32_t block_size;
};

// A paged K or V store: n_pos rows of head_dim elements (F32, or F16 when f16) spread over blocks
// in a shuffled order, with kv_stride elements between slots (the row is at the start of each
// slot).
struct PagedRows {
  std::vector<uint8_t> storage;
  std::vector<const void*> blocks;
  int64_t stride;
  bool f16;

  PagedRows(const std::vector<float>& rows, int64_t head_dim, int64_t n_pos, int32_t block_size,
            uint32_t seed, bool half = false)
      : stride(head_dim + 3), f16(half) {
    const int64_t n_blocks = (n_pos + block_size - 1) / block_size;
    const int64_t bytes = f16 ? 2 : 4;
    storage.assign(static_cast<size_t>(n_blocks * block_size * stride * bytes), 0xff);  // NaN
    std::vector<int64_t> order(static_cast<size_t>(n_blocks));
    for (int64_t b = 0; b < n_blocks; ++b) order[b] = b;
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (int64_t b = 0; b < n_blocks; ++b) {
      blocks.push_back(storage.data() + order[b] * block_size * stride * bytes);
    }
    for (int64_t t = 0; t < n_pos; ++t) {
      auto* dst = static_cast<uint8_t*>(const_cast<void*>(blocks[t / block_size])) +
                  (t % block_size) * stride * bytes;
      for (int64_t i = 0; i < head_dim; ++i) {
        const float x = rows[t * head_dim + i];
        if (f16) {
          reinterpret_cast<uint16_t*>(dst)[i] = F32ToF16(x);
        } else {
          reinterpret_cast<float*>(dst)[i] = x;
        }
      }
    }
  }
};

// rows rounded through F16, as an F16 cache holds them.
std::vector<float> RoundToF16(std::vector<float> rows) {
  for (float& x : rows) x = F16ToF32(F32ToF16(x));
  return rows;
}

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> RunAttention(AttentionGroupFn fn, const Case& c, const std::vector<float>& q,
                                const PagedRows& k, const PagedRows& v) {
  std::vector<float> scores(static_cast<size_t>(c.group * c.n_pos));
  std::vector<float> out(static_cast<size_t>(c.group * c.head_dim));
  fn({.q = q.data(),
      .group = c.group,
      .head_dim = c.head_dim,
      .k_blocks = k.blocks.data(),
      .v_blocks = v.blocks.data(),
      .kv_stride = k.stride,
      .kv_f16 = k.f16,
      .block_size = c.block_size,
      .n_pos = c.n_pos,
      .scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
      .scores = scores.data(),
      .out = out.data()});
  return out;
}

// Double-precision attention of head h.
std::vector<double> Reference(const Case& c, const std::vector<float>& q,
                              const std::vector<float>& keys, const std::vector<float>& values,
                              int64_t h) {
  std::vector<double> s(static_cast<size_t>(c.n_pos));
  double max_s = -INFINITY;
  for (int64_t t = 0; t < c.n_pos; ++t) {
    double dot = 0;
    for (int64_t i = 0; i < c.head_dim; ++i)
      dot += double{q[h * c.head_dim + i]} * keys[t * c.head_dim + i];
    s[t] = dot / std::sqrt(static_cast<double>(c.head_dim));
    max_s = std::max(max_s, s[t]);
  }
  double sum = 0;
  for (double& x : s) sum += (x = std::exp(x - max_s));
  std::vector<double> out(static_cast<size_t>(c.head_dim), 0.0);
  for (int64_t t = 0; t < c.n_pos; ++t) {
    for (int64_t i = 0; i < c.head_dim; ++i) out[i] += s[t] / sum * values[t * c.head_dim + i];
  }
  return out;
}

class AttentionTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) {
      GTEST_SKIP() << "skipped: CPU lacks " << IsaName(GetParam());
    }
  }
};

TEST_P(AttentionTest, MatchesDoubleReferenceOnOddSizes) {
  const AttentionGroupFn fn = SelectAttentionGroup(GetParam());
  for (const Case& c :
       {Case{1, 64, 1, 16}, Case{2, 64, 15, 16}, Case{7, 64, 17, 16}, Case{7, 64, 100, 16},
        Case{2, 128, 1000, 32}, Case{3, 8, 33, 16}, Case{1, 48, 16, 4}}) {
    const std::vector<float> q = Random(c.group * c.head_dim, 1);
    const std::vector<float> keys = Random(c.n_pos * c.head_dim, 2);
    const std::vector<float> values = Random(c.n_pos * c.head_dim, 3);
    const PagedRows k(keys, c.head_dim, c.n_pos, c.block_size, 4);
    const PagedRows v(values, c.head_dim, c.n_pos, c.block_size, 5);
    const std::vector<float> out = RunAttention(fn, c, q, k, v);
    for (int64_t h = 0; h < c.group; ++h) {
      const std::vector<double> want = Reference(c, q, keys, values, h);
      for (int64_t i = 0; i < c.head_dim; ++i) {
        ASSERT_NEAR(out[h * c.head_dim + i], want[i], 2e-5 * (1 + std::abs(want[i])))
            << "group " << c.group << " head_dim " << c.head_dim << " n_pos " << c.n_pos;
      }
    }
  }
}

// An F16 cache: the kernels widen each stored element exactly, so the result is the F32 attention
// of the F16-rounded keys and values; and a head's bits do not depend on the block layout.
TEST_P(AttentionTest, F16CacheMatchesReferenceOfRoundedRows) {
  const AttentionGroupFn fn = SelectAttentionGroup(GetParam());
  for (const Case& c : {Case{1, 64, 1, 16}, Case{7, 64, 100, 16}, Case{2, 128, 1000, 32},
                        Case{3, 8, 33, 16}, Case{1, 48, 16, 4}}) {
    const std::vector<float> q = Random(c.group * c.head_dim, 21);
    const std::vector<float> keys = Random(c.n_pos * c.head_dim, 22);
    const std::vector<float> values = Random(c.n_pos * c.head_dim, 23);
    const std::vector<float> out =
        RunAttention(fn, c, q, PagedRows(keys, c.head_dim, c.n_pos, c.block_size, 4, true),
                     PagedRows(values, c.head_dim, c.n_pos, c.block_size, 5, true));
    const std::vector<float> again =
        RunAttention(fn, c, q, PagedRows(keys, c.head_dim, c.n_pos, c.block_size, 6, true),
                     PagedRows(values, c.head_dim, c.n_pos, c.block_size, 7, true));
    EXPECT_EQ(std::memcmp(out.data(), again.data(), out.size() * sizeof(float)), 0);
    for (int64_t h = 0; h < c.group; ++h) {
      const std::vector<double> want = Reference(c, q, RoundToF16(keys), RoundToF16(values), h);
      for (int64_t i = 0; i < c.head_dim; ++i) {
        ASSERT_NEAR(out[h * c.head_dim + i], want[i], 2e-5 * (1 + std::abs(want[i])))
            << "group " << c.group << " head_dim " << c.head_dim << " n_pos " << c.n_pos;
      }
    }
  }
}

TEST_P(AttentionTest, HeadResultIndependentOfGroupAndBlockLayout) {
  const AttentionGroupFn fn = SelectAttentionGroup(GetParam());
  const Case group7{7, 64, 77, 16};
  const std::vector<float> q = Random(7 * 64, 6);
  const std::vector<float> keys = Random(77 * 64, 7), values = Random(77 * 64, 8);
  const std::vector<float> all = RunAttention(fn, group7, q, PagedRows(keys, 64, 77, 16, 9),
                                              PagedRows(values, 64, 77, 16, 10));
  // Head 3 alone, with another block order.
  const std::vector<float> q3(q.begin() + 3 * 64, q.begin() + 4 * 64);
  const std::vector<float> alone =
      RunAttention(fn, Case{1, 64, 77, 16}, q3, PagedRows(keys, 64, 77, 16, 11),
                   PagedRows(values, 64, 77, 16, 12));
  EXPECT_EQ(std::memcmp(alone.data(), all.data() + 3 * 64, 64 * sizeof(float)), 0);
}

// The softmax's exp through the kernel: scores {0, x} (q = e0, k_0 = 0, k_1 = x e0, scale 1) and
// values e0, e1 give out = {1, e^x} / (1 + e^x) up to three roundings. Relative error < 1e-6 down
// to ln(FLT_MIN); below it the AVX2 exp underflows to exactly 0.
TEST_P(AttentionTest, SoftmaxExpMatchesStdExp) {
  const AttentionGroupFn fn = SelectAttentionGroup(GetParam());
  constexpr float kUnderflow = -87.3365447f;  // ln(FLT_MIN)
  float q[8] = {1}, k[2][8] = {}, v[2][8] = {{1}, {0, 1}}, scores[2], out[8];
  const void* k_blocks[] = {k[0]};
  const void* v_blocks[] = {v[0]};
  for (int i = 0; i <= 100000; ++i) {
    const float x = -100.0f + 1e-3f * static_cast<float>(i);
    k[1][0] = x;
    fn({.q = q,
        .head_dim = 8,
        .k_blocks = k_blocks,
        .v_blocks = v_blocks,
        .kv_stride = 8,
        .block_size = 2,
        .n_pos = 2,
        .scores = scores,
        .out = out});
    const double e = std::exp(double{x});
    if (x >= kUnderflow) {
      ASSERT_NEAR(out[1], e / (1 + e), 1e-6 * e / (1 + e)) << "x " << x;
      ASSERT_NEAR(out[0], 1 / (1 + e), 1e-6) << "x " << x;
    } else {
      ASSERT_LT(out[1], 1.2e-38f) << "x " << x;
      if (GetParam() == Isa::kAvx2) {
        ASSERT_EQ(out[1], 0.0f) << "x " << x;
      }
      ASSERT_EQ(out[0], 1.0f) << "x " << x;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(IsaName(p.param));
                         });

}  // namespace
}  // namespace medassist::kernels
