#include "kernels/dequantize.h"

#include "core/check.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

// Each loop mirrors ggml's expression shapes: an int quant converted to float, then multiplied
// (and for Q4_K a product minus a product). Compiled without FMA, nothing is contracted.
void DequantizeQ8_0(const BlockQ8_0* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void DequantizeQ4_0(const BlockQ4_0* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8;
      const int x1 = (x[i].qs[j] >> 4) - 8;
      y[i * kQK4_0 + j] = static_cast<float>(x0) * d;
      y[i * kQK4_0 + j + kQK4_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void DequantizeQ5_0(const BlockQ5_0* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(x[i].d);
    const uint32_t qh = static_cast<uint32_t>(x[i].qh[0]) | static_cast<uint32_t>(x[i].qh[1]) << 8 |
                        static_cast<uint32_t>(x[i].qh[2]) << 16 |
                        static_cast<uint32_t>(x[i].qh[3]) << 24;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int x0 = ((x[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      y[i * kQK5_0 + j] = static_cast<float>(x0) * d;
      y[i * kQK5_0 + j + kQK5_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

// value = (d * sc) * q - (dmin * m), per sub-block of 32.
void DequantizeQ4_K(const BlockQ4_K* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = F16ToF32(x[i].d);
    const float dmin = F16ToF32(x[i].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      uint8_t sc, m;
      GetScaleMinK4(2 * chunk, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      GetScaleMinK4(2 * chunk + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
    }
  }
}

// value = (d * scale) * (q - 32), per sub-block of 16 (layout in quant_blocks.h).
void DequantizeQ6_K(const BlockQ6_K* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[s + 0] * static_cast<float>(q1);
        y[l + 32] = d * sc[s + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[s + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[s + 6] * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace

void DequantizeRow(WeightFormat f, const void* src, int64_t n, float* dst) {
  switch (f) {
    case WeightFormat::kQ8_0:
      CHECK(n % kQK8_0 == 0) << "Q8_0 row of " << n << " elements";
      return DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), n / kQK8_0, dst);
    case WeightFormat::kQ4_0:
      CHECK(n % kQK4_0 == 0) << "Q4_0 row of " << n << " elements";
      return DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), n / kQK4_0, dst);
    case WeightFormat::kQ5_0:
      CHECK(n % kQK5_0 == 0) << "Q5_0 row of " << n << " elements";
      return DequantizeQ5_0(static_cast<const BlockQ5_0*>(src), n / kQK5_0, dst);
    case WeightFormat::kQ4_K:
      CHECK(n % kQK_K == 0) << "Q4_K row of " << n << " elements";
      return DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), n / kQK_K, dst);
    case WeightFormat::kQ6_K:
      CHECK(n % kQK_K == 0) << "Q6_K row of " << n << " elements";
      return DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), n / kQK_K, dst);
    default:
      CHECK(false) << "DequantizeRow: not a block-quantized format";
  }
}

}  // namespace medassist::kernels
