// Quantized dot kernels: every ISA variant this CPU runs against the scalar reference and against
// a double-precision dot of the dequantized operands; dot_rows bit-identical to dot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dequantize.h"
#include "kernels/dot.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"
#include "kernels/weight_format.h"
#include "quant_test_util.h"

namespace medassist::kernels {
namespace {

using testing::AwkwardRow;
using testing::GaussianRow;

struct Case {
  WeightFormat format;
  int64_t block_elems, block_bytes;
  std::vector<int64_t> sizes;
};

// Row lengths are multiples of the block. 896 (Qwen2.5-0.5B's hidden size) is not a multiple of
// 256, so a K-quant cannot store such rows: llama.cpp falls back to other types for them.
const Case kCases[] = {
    // Groups of 8 blocks with tails of 1..7 (224 = 7 blocks, 480 = 8 + 7, 4896 = 19 x 8 + 1);
    // 16416 = 513 blocks is past the AVX-512 decode kernel's 512-block activation copy.
    {WeightFormat::kQ8_0, 32, 34, {32, 64, 96, 160, 192, 224, 256, 480, 512, 4896, 16416, 896}},
    {WeightFormat::kQ4_0, 32, 18, {32, 64, 96, 256, 512, 896}},
    // 4896 = 153 blocks: 19 groups of 8 and a tail of 1; 192 = 6 blocks, all tail.
    {WeightFormat::kQ5_0, 32, 22, {32, 64, 192, 288, 896, 4864, 4896}},
    {WeightFormat::kQ4_K, 256, 144, {256, 768, 2048, 2304, 4864, 11008}},
    {WeightFormat::kQ6_K, 256, 210, {256, 768, 2048, 2304, 4864, 11008}},
};

constexpr Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

struct Operands {
  std::vector<uint8_t> w;  // rows weight rows
  std::vector<float> x;
  int64_t row_bytes;
};

Operands MakeOperands(const Case& c, int64_t n, int rows, uint64_t seed) {
  Operands o;
  o.row_bytes = n / c.block_elems * c.block_bytes;
  o.w.resize(static_cast<size_t>(o.row_bytes * rows));
  for (int r = 0; r < rows; ++r) {
    const std::vector<float> wf = AwkwardRow(seed + 17 * r, n);
    QuantizeRow(c.format, wf.data(), n, o.w.data() + r * o.row_bytes);
  }
  o.x = GaussianRow(seed + 1000, n);
  return o;
}

// The exact value both quantized operands represent, in double.
double ReferenceDot(const Case& c, const DotKernel& k, const uint8_t* w, const void* xp,
                    int64_t n) {
  std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
  DequantizeRow(c.format, w, n, wd.data());
  if (c.block_elems == 32) {
    DequantizeRow(WeightFormat::kQ8_0, xp, n, xd.data());
  } else {
    const auto* b = static_cast<const BlockQ8_K*>(xp);
    for (int64_t i = 0; i < n; ++i) xd[i] = b[i / 256].qs[i % 256] * b[i / 256].d;
  }
  (void)k;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double{wd[i]} * xd[i];
  return sum;
}

TEST(QuantDotTest, EveryIsaMatchesScalarAndDoubleReference) {
  for (const Case& c : kCases) {
    const DotKernel& scalar = SelectDotKernel(c.format, Isa::kScalar);
    ASSERT_EQ(scalar.isa, Isa::kScalar);
    for (int64_t n : c.sizes) {
      const Operands o = MakeOperands(c, n, 1, static_cast<uint64_t>(n));
      std::vector<uint8_t> xp(static_cast<size_t>(scalar.prepared_row_bytes(n)));
      scalar.prepare(o.x.data(), n, xp.data());
      const float want = scalar.dot(o.w.data(), xp.data(), n);
      const double exact = ReferenceDot(c, scalar, o.w.data(), xp.data(), n);
      double magnitude = 0;  // sum |w x|: the scale of float rounding in the dot
      {
        std::vector<float> wd(static_cast<size_t>(n));
        DequantizeRow(c.format, o.w.data(), n, wd.data());
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double{wd[i]} * o.x[i]);
      }
      EXPECT_NEAR(want, exact, 1e-5 * magnitude) << Traits(c.format).name << " n=" << n;
      for (Isa isa : kIsas) {
        if (!IsaSupported(isa)) continue;
        const DotKernel& k = SelectDotKernel(c.format, isa);
        SCOPED_TRACE(::testing::Message()
                     << Traits(c.format).name << " " << IsaName(k.isa) << " n=" << n);
        ASSERT_EQ(k.prepared_row_bytes(n), scalar.prepared_row_bytes(n));
        std::vector<uint8_t> xk(xp.size());
        k.prepare(o.x.data(), n, xk.data());
        ASSERT_EQ(xk, xp);  // one activation quantizer for all ISAs
        const float got = k.dot(o.w.data(), xk.data(), n);
        // The lane contract (dot_quant.h) makes every ISA give the scalar bits.
        EXPECT_EQ(got, want);
        EXPECT_NEAR(got, exact, 1e-5 * magnitude);
      }
    }
  }
}

TEST(QuantDotTest, DotRowsIsBitIdenticalToDot) {
  for (const Case& c : kCases) {
    const int64_t n = c.sizes.back();
    constexpr int kRows = 37;  // kernels may work in panels of 16 rows: two and a ragged third
    const Operands o = MakeOperands(c, n, kRows, 5);
    for (Isa isa : kIsas) {
      if (!IsaSupported(isa)) continue;
      const DotKernel& k = SelectDotKernel(c.format, isa);
      std::vector<uint8_t> xp(static_cast<size_t>(k.prepared_row_bytes(n)));
      k.prepare(o.x.data(), n, xp.data());
      std::vector<float> rows(kRows), singles(kRows);
      k.dot_rows(o.w.data(), o.row_bytes, kRows, xp.data(), n, rows.data());
      for (int r = 0; r < kRows; ++r)
        singles[r] = k.dot(o.w.data() + r * o.row_bytes, xp.data(), n);
      EXPECT_EQ(std::memcmp(rows.data(), singles.data(), sizeof(float) * kRows), 0)
          << Traits(c.format).name << " " << IsaName(k.isa);
    }
  }
}

// Files may hold Q8_0 quants of -128 (ggml's quantizer never writes them, but the format allows
// them); the SIMD kernels must not treat that byte specially.
TEST(QuantDotTest, Q8_0WeightQuantOfMinus128MatchesScalar) {
  constexpr int64_t kN = 32 * 11;  // a full group of 8 and a tail of 3
  std::vector<BlockQ8_0> w(kN / 32);
  for (size_t b = 0; b < w.size(); ++b) {
    w[b].d = static_cast<uint16_t>(0x3C00 + b);  // about 1.0
    for (int i = 0; i < 32; ++i) w[b].qs[i] = static_cast<int8_t>(i % 3 == 0 ? -128 : 5 - i);
  }
  const std::vector<float> x = GaussianRow(77, kN);
  const DotKernel& scalar = SelectDotKernel(WeightFormat::kQ8_0, Isa::kScalar);
  std::vector<uint8_t> xp(static_cast<size_t>(scalar.prepared_row_bytes(kN)));
  scalar.prepare(x.data(), kN, xp.data());
  const float want = scalar.dot(w.data(), xp.data(), kN);
  for (Isa isa : kIsas) {
    if (!IsaSupported(isa)) continue;
    const DotKernel& k = SelectDotKernel(WeightFormat::kQ8_0, isa);
    EXPECT_EQ(k.dot(w.data(), xp.data(), kN), want) << IsaName(isa);
  }
}

// Q5_0 has its own kernel on every ISA (none falls back to a lower one).
TEST(QuantDotTest, Q5_0HasAKernelForEveryIsa) {
  for (Isa isa : kIsas) {
    if (!IsaSupported(isa)) continue;
    EXPECT_EQ(SelectDotKernel(WeightFormat::kQ5_0, isa).isa, isa) << IsaName(isa);
  }
}

TEST(QuantDotTest, ZeroActivationsGiveZero) {
  for (const Case& c : kCases) {
    const int64_t n = c.sizes.back();
    const Operands o = MakeOperands(c, n, 1, 9);
    const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    for (Isa isa : kIsas) {
      if (!IsaSupported(isa)) continue;
      const DotKernel& k = SelectDotKernel(c.format, isa);
      std::vector<uint8_t> xp(static_cast<size_t>(k.prepared_row_bytes(n)));
      k.prepare(zeros.data(), n, xp.data());
      EXPECT_EQ(k.dot(o.w.data(), xp.data(), n), 0.0f) << Traits(c.format).name;
    }
  }
}

// The AVX-512 activation quantizer gives the scalar bytes also where rounding is delicate:
// exact .5 ties (round half away from zero), zero blocks, infinities, scales that saturate F16.
TEST(QuantDotTest, SimdActivationQuantizerMatchesScalarOnEdgeCases) {
  const DotKernel& k = SelectDotKernel(WeightFormat::kQ8_0, Isa::kAvx512);
  if (k.isa != Isa::kAvx512) GTEST_SKIP() << "CPU lacks AVX-512";
  std::vector<float> x(32 * 6, 0.0f);
  for (int j = 0; j < 32; ++j) {
    x[j] = (j % 2 == 0 ? 1.0f : -1.0f) * (static_cast<float>(j) * 4.0f + 0.5f);  // ties, d = 1
    x[32 + j] = 0.0f;                                                            // zero block
    x[64 + j] = j == 3 ? INFINITY : static_cast<float>(j) - 7.25f;               // inf dominates
    x[96 + j] = (j - 16) * 3.0e7f;                                               // d past F16 max
    x[128 + j] = static_cast<float>(j) * 1e-30f;         // tiny, subnormal d
    x[160 + j] = 127.0f - static_cast<float>(j) * 0.5f;  // many ties below amax
  }
  x[31] = 127.0f;  // amax 127 so that d is exactly 1 and the ties above stay ties
  std::vector<uint8_t> want(static_cast<size_t>(k.prepared_row_bytes(192)));
  std::vector<uint8_t> got(want.size());
  QuantizeRowQ8_0(x.data(), 192, want.data());
  k.prepare(x.data(), 192, got.data());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace medassist::kernels
