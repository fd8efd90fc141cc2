// Scalar reference quantized dot kernels (contract in dot_quant.h) and the registry of all
// quantized kernels.
#include <cmath>

#include "core/check.h"
#include "kernels/dot_quant.h"
#include "kernels/dot_registry.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"

namespace medassist::kernels {
namespace {

int32_t BlockDotQ8_0(const BlockQ8_0& w, const BlockQ8_0& x) {
  int32_t sum = 0;
  for (int j = 0; j < kQK8_0; ++j) sum += w.qs[j] * x.qs[j];
  return sum;
}

int32_t BlockDotQ4_0(const BlockQ4_0& w, const BlockQ8_0& x) {
  int32_t sum = 0;
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    sum += ((w.qs[j] & 0xF) - 8) * x.qs[j];
    sum += ((w.qs[j] >> 4) - 8) * x.qs[j + kQK4_0 / 2];
  }
  return sum;
}

int32_t BlockDotQ5_0(const BlockQ5_0& w, const BlockQ8_0& x) {
  uint32_t qh = 0;
  for (int k = 0; k < 4; ++k) qh |= static_cast<uint32_t>(w.qh[k]) << (8 * k);
  int32_t sum = 0;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int q0 = (w.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    const int q1 = (w.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    sum += (q0 - 16) * x.qs[j];
    sum += (q1 - 16) * x.qs[j + kQK5_0 / 2];
  }
  return sum;
}

// sum_s sc[s] * (nibbles . x) over the 8 sub-blocks, and sum_s m[s] * (sum of x in s).
void BlockDotQ4_K(const BlockQ4_K& w, const BlockQ8_K& x, int32_t* isum_sc, int32_t* isum_m) {
  int32_t sum_sc = 0, sum_m = 0;
  for (int s = 0; s < 8; ++s) {
    uint8_t sc, m;
    GetScaleMinK4(s, w.scales, &sc, &m);
    const uint8_t* q = w.qs + 32 * (s / 2);
    const int shift = 4 * (s % 2);
    int32_t dot = 0;
    for (int l = 0; l < 32; ++l) dot += ((q[l] >> shift) & 0xF) * x.qs[32 * s + l];
    sum_sc += sc * dot;
    sum_m += m * (x.bsums[2 * s] + x.bsums[2 * s + 1]);
  }
  *isum_sc = sum_sc;
  *isum_m = sum_m;
}

// sum_s scales[s] * ((q - 32) . x) over the 16 sub-blocks of 16.
int32_t BlockDotQ6_K(const BlockQ6_K& w, const BlockQ8_K& x) {
  int32_t sum = 0;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = w.ql + 64 * half;
    const uint8_t* qh = w.qh + 32 * half;
    const int8_t* xq = x.qs + 128 * half;
    int32_t sub[8] = {};
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      sub[s + 0] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * xq[l];
      sub[s + 2] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * xq[l + 32];
      sub[s + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * xq[l + 64];
      sub[s + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * xq[l + 96];
    }
    for (int s = 0; s < 8; ++s) sum += w.scales[8 * half + s] * sub[s];
  }
  return sum;
}

float DotQ8_0(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float scale = F16ToF32(w[b].d) * F16ToF32(x[b].d);
    float& lane = lanes[b % kDotLanes];
    lane = std::fma(scale, static_cast<float>(BlockDotQ8_0(w[b], x[b])), lane);
  }
  return ReduceLanes(lanes);
}

float DotQ4_0(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float scale = F16ToF32(w[b].d) * F16ToF32(x[b].d);
    float& lane = lanes[b % kDotLanes];
    lane = std::fma(scale, static_cast<float>(BlockDotQ4_0(w[b], x[b])), lane);
  }
  return ReduceLanes(lanes);
}

float DotQ5_0(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(w_row);
  const auto* x = static_cast<const BlockQ8_0*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK5_0; ++b) {
    const float scale = F16ToF32(w[b].d) * F16ToF32(x[b].d);
    float& lane = lanes[b % kDotLanes];
    lane = std::fma(scale, static_cast<float>(BlockDotQ5_0(w[b], x[b])), lane);
  }
  return ReduceLanes(lanes);
}

float DotQ4_K(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(w_row);
  const auto* x = static_cast<const BlockQ8_K*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t isum_sc, isum_m;
    BlockDotQ4_K(w[b], x[b], &isum_sc, &isum_m);
    float& lane = lanes[b % kDotLanes];
    lane = std::fma(x[b].d * F16ToF32(w[b].d), static_cast<float>(isum_sc), lane);
    lane = std::fma(-(x[b].d * F16ToF32(w[b].dmin)), static_cast<float>(isum_m), lane);
  }
  return ReduceLanes(lanes);
}

float DotQ6_K(const void* w_row, const void* x_prepared, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  const auto* x = static_cast<const BlockQ8_K*>(x_prepared);
  float lanes[kDotLanes] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float scale = x[b].d * F16ToF32(w[b].d);
    float& lane = lanes[b % kDotLanes];
    lane = std::fma(scale, static_cast<float>(BlockDotQ6_K(w[b], x[b])), lane);
  }
  return ReduceLanes(lanes);
}

// Row by row through the same dot: bit-identical to it by construction.
template <DotFn kDot>
void DotRows(const void* w, int64_t w_row_bytes, int64_t rows, const void* x, int64_t n,
             float* out) {
  for (int64_t r = 0; r < rows; ++r)
    out[r] = kDot(static_cast<const char*>(w) + r * w_row_bytes, x, n);
}

constexpr DotKernel kScalarQ8_0{WeightFormat::kQ8_0, Isa::kScalar,        QuantizeRowQ8_0, DotQ8_0,
                                DotRows<DotQ8_0>,    PreparedRowBytesQ8_0};
constexpr DotKernel kScalarQ4_0{WeightFormat::kQ4_0, Isa::kScalar,        QuantizeRowQ8_0, DotQ4_0,
                                DotRows<DotQ4_0>,    PreparedRowBytesQ8_0};
constexpr DotKernel kScalarQ5_0{WeightFormat::kQ5_0, Isa::kScalar,        QuantizeRowQ8_0, DotQ5_0,
                                DotRows<DotQ5_0>,    PreparedRowBytesQ8_0};
constexpr DotKernel kScalarQ4_K{WeightFormat::kQ4_K, Isa::kScalar,        QuantizeRowQ8_K, DotQ4_K,
                                DotRows<DotQ4_K>,    PreparedRowBytesQ8_K};
constexpr DotKernel kScalarQ6_K{WeightFormat::kQ6_K, Isa::kScalar,        QuantizeRowQ8_K, DotQ6_K,
                                DotRows<DotQ6_K>,    PreparedRowBytesQ8_K};

}  // namespace

float ReduceLanes(const float* lanes) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

int64_t PreparedRowBytesQ8_0(int64_t n) {
  CHECK(n % kQK8_0 == 0) << "Q8_0 activation row of " << n << " elements";
  return n / kQK8_0 * static_cast<int64_t>(sizeof(BlockQ8_0));
}

int64_t PreparedRowBytesQ8_K(int64_t n) {
  CHECK(n % kQK_K == 0) << "Q8_K activation row of " << n << " elements";
  return n / kQK_K * static_cast<int64_t>(sizeof(BlockQ8_K));
}

const DotKernel* FindQuantDotKernel(WeightFormat format, Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      if (format == WeightFormat::kQ5_0) return QuantDotKernelQ5_0Avx512();
      return FindQuantDotKernelAvx512(format);
    case Isa::kAvx2:
      return FindQuantDotKernelAvx2(format);
    case Isa::kScalar:
      break;
  }
  switch (format) {
    case WeightFormat::kQ8_0:
      return &kScalarQ8_0;
    case WeightFormat::kQ4_0:
      return &kScalarQ4_0;
    case WeightFormat::kQ5_0:
      return &kScalarQ5_0;
    case WeightFormat::kQ4_K:
      return &kScalarQ4_K;
    case WeightFormat::kQ6_K:
      return &kScalarQ6_K;
    default:
      return nullptr;
  }
}

QuantDotTileFn FindQuantDotTile(const DotKernel& k) {
  // Only the registered kernels: a tile must give exactly this kernel's dot bits.
  if (&k != FindQuantDotKernel(k.format, k.isa)) return nullptr;
  switch (k.isa) {
    case Isa::kAvx512:
      return QuantDotTileAvx512(k.format);
    default:
      return nullptr;  // dot_rows per activation row
  }
}

}  // namespace medassist::kernels
