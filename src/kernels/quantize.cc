#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

namespace medassist::kernels {
namespace {

constexpr float kMaxHalf = 65504.0f;
// Sub-blocks whose largest magnitude is below this are treated as all zero (as ggml's
// GROUP_MAX_EPS): their scales would underflow F16 anyway.
constexpr float kGroupMaxEps = 1e-15f;

// Round half to even (the current rounding mode, which is never changed in this program).
int NearestInt(float v) { return static_cast<int>(std::nearbyint(v)); }
// NearestInt clamped to [lo, hi], clamping first so that huge values never overflow the int.
int RoundClamp(float v, int lo, int hi) {
  return NearestInt(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi)));
}

// A block scale as the F16 bits the block stores, clamped so it never becomes infinity.
uint16_t ScaleToF16(float d) { return F32ToF16(std::min(d, kMaxHalf)); }

void QuantizeQ4_0(const float* x, int64_t nb, BlockQ4_0* y) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    // The value of largest magnitude maps to -8 exactly (its sign picks which end of [-8, 7]).
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = std::clamp(max / -8.0f, -kMaxHalf, kMaxHalf);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    // x * id is in [-8, 8]: + 8.5 then truncation rounds to 0..16, clamped to 15 (clamped in
    // float first, for blocks whose scale was clamped).
    auto quant = [id](float v) { return static_cast<int>(std::clamp(v * id + 8.5f, 0.0f, 15.0f)); };
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = quant(x[j]);
      const int q1 = quant(x[j + kQK4_0 / 2]);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// As Q4_0 with 5 bits: the largest-magnitude value maps to -16 exactly; the 5th bits go to qh.
void QuantizeQ5_0(const float* x, int64_t nb, BlockQ5_0* y) {
  for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK5_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = std::clamp(max / -16.0f, -kMaxHalf, kMaxHalf);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    // x * id is in [-16, 16]: + 16.5 then truncation rounds to 0..32, clamped to 31.
    auto quant = [id](float v) {
      return static_cast<uint32_t>(std::clamp(v * id + 16.5f, 0.0f, 31.0f));
    };
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const uint32_t q0 = quant(x[j]);
      const uint32_t q1 = quant(x[j + kQK5_0 / 2]);
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= (q0 >> 4) << j;
      qh |= (q1 >> 4) << (j + kQK5_0 / 2);
    }
    for (int k = 0; k < 4; ++k) y[i].qh[k] = static_cast<uint8_t>(qh >> (8 * k));
  }
}

// ---- Q4_K -----------------------------------------------------------------------------------

// Fits x[i] ~ scale * L[i] - neg_min (L in [0, nmax], neg_min >= 0) minimising the weighted
// squared error. Starts from the min/max affine grid, then tries nsteps slightly stretched grids;
// for each, the L it rounds to fixes a weighted least-squares problem in (scale, min) that is
// solved in closed form, and the best fit by weighted error wins. (The idea of ggml's
// make_qkx2_quants.) Returns scale; 0 with all L = 0 for a constant non-negative block.
float FitScaleMin(const float* x, const float* w, int n, int nmax, uint8_t* L, float* neg_min) {
  float lo = x[0], hi = x[0], sum_w = 0.0f, sum_x = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  lo = std::min(lo, 0.0f);  // the min only ever shifts down: value = scale * L + lo, lo <= 0
  if (hi == lo) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -lo;
    return 0.0f;
  }
  auto error_of = [&](float scale, float offset, const uint8_t* q) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * q[i] + offset - x[i];
      err += w[i] * diff * diff;
    }
    return err;
  };
  float scale = (hi - lo) / nmax;
  const float inv = nmax / (hi - lo);
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(RoundClamp(inv * (x[i] - lo), 0, nmax));
  }
  float best_err = error_of(scale, lo, L);
  constexpr int kSteps = 20;
  constexpr float kStretchLo = -1.0f, kStretchStep = 0.1f;
  uint8_t trial[32];
  for (int step = 0; step <= kSteps; ++step) {
    const float trial_inv = (kStretchLo + kStretchStep * step + nmax) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = RoundClamp(trial_inv * (x[i] - lo), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    // Normal equations of min over (s, o) of sum w (s * l + o - x)^2.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float s = (sum_w * sum_xl - sum_x * sum_l) / det;
    float o = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (o > 0) {  // the format needs offset <= 0: refit the scale alone with offset 0
      o = 0;
      s = sum_xl / sum_l2;
    }
    const float err = error_of(s, o, trial);
    if (err < best_err) {
      std::copy(trial, trial + n, L);
      best_err = err;
      scale = s;
      lo = o;
    }
  }
  *neg_min = -lo;
  return scale;
}

// Packs the 6-bit scale and min of sub-block j into the 12 bytes GetScaleMinK4 reads.
void PackScaleMinK4(int j, int sc, int m, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>(sc);
    q[j + 4] = static_cast<uint8_t>(m);
  } else {
    q[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
    q[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
    q[j] |= static_cast<uint8_t>((m >> 4) << 6);
  }
}

void QuantizeQ4_KBlock(const float* x, BlockQ4_K* y) {
  float scales[8], mins[8], w[32];
  uint8_t L[kQK_K];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    // Weights favour the larger values of the sub-block, which matter most to a dot product.
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float rms = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = rms + std::fabs(xs[l]);
    scales[j] = FitScaleMin(xs, w, 32, 15, L + 32 * j, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  // Second level: the 8 scales and 8 mins as 6-bit multiples of d and dmin.
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(y->scales, 0, sizeof y->scales);
  for (int j = 0; j < 8; ++j) {
    const int ls = RoundClamp(inv_scale * scales[j], 0, 63);
    const int lm = RoundClamp(inv_min * mins[j], 0, 63);
    PackScaleMinK4(j, ls, lm, y->scales);
  }
  y->d = ScaleToF16(max_scale / 63.0f);
  y->dmin = ScaleToF16(max_min / 63.0f);
  // Re-round every quant against the scales as stored (rounded to 6 bits and F16).
  const float d = F16ToF32(y->d), dmin = F16ToF32(y->dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, y->scales, &sc, &m);
    const float ds = d * sc;
    if (ds == 0.0f) continue;
    const float dm = dmin * m;
    for (int l = 0; l < 32; ++l) {
      L[32 * j + l] = static_cast<uint8_t>(RoundClamp((x[32 * j + l] + dm) / ds, 0, 15));
    }
  }
  for (int c = 0; c < 4; ++c) {  // chunk c: sub-block 2c low nibbles, 2c + 1 high nibbles
    for (int l = 0; l < 32; ++l) {
      y->qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
  }
}

// ---- Q6_K -----------------------------------------------------------------------------------

// Symmetric fit x[i] ~ scale * q[i], q in [-nmax, nmax - 1], weighted by x^2 (large values count
// most). Tries grids whose inverse scale stretches the largest-magnitude value to
// -(nmax + 0.1 k), k = -9..9, each with its least-squares scale, and keeps the best (the idea of
// ggml's make_qx_quants). q is stored offset by nmax. Returns the scale (signed).
float FitScaleSymmetric(const float* x, int n, int nmax, int8_t* q_out) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(q_out, q_out + n, static_cast<int8_t>(nmax));
    return 0.0f;
  }
  // gain = sumlx^2 / suml2 (the weighted error is sum w x^2 - gain). Weights (x / amax)^2 pick the
  // same grid as x^2 but cannot overflow or underflow for huge or tiny blocks.
  float best_scale = 0.0f, best_gain = -1.0f;
  int8_t trial[16];
  std::fill(q_out, q_out + n, static_cast<int8_t>(nmax));
  for (int k = -9; k <= 9; ++k) {
    const float inv = -(static_cast<float>(nmax) + 0.1f * k) / max;
    float sum_lx = 0.0f, sum_l2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = RoundClamp(inv * x[i], -nmax, nmax - 1);
      trial[i] = static_cast<int8_t>(l);
      const float w = (x[i] / amax) * (x[i] / amax);
      sum_lx += w * x[i] * l;
      sum_l2 += w * l * l;
    }
    if (sum_l2 <= 0.0f) continue;
    const float gain = sum_lx / sum_l2 * sum_lx;
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = sum_lx / sum_l2;
      for (int i = 0; i < n; ++i) q_out[i] = static_cast<int8_t>(trial[i] + nmax);
    }
  }
  return best_scale;
}

void QuantizeQ6_KBlock(const float* x, BlockQ6_K* y) {
  int8_t L[kQK_K];
  float scales[16];
  float max_scale = 0.0f, max_abs_scale = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scales[s] = FitScaleSymmetric(x + 16 * s, 16, 32, L + 16 * s);
    if (std::fabs(scales[s]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[s]);
      max_scale = scales[s];
    }
  }
  std::memset(y, 0, sizeof *y);
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y->qh, 0xAA, sizeof y->qh);  // every q = 32: value +0, not -0
    return;
  }
  // Second level: 8-bit signed sub-block scales, the largest-magnitude one mapped to -128.
  const float inv = -128.0f / max_scale;
  y->d = F32ToF16(std::clamp(1.0f / inv, -kMaxHalf, kMaxHalf));
  for (int s = 0; s < 16; ++s) {
    y->scales[s] = static_cast<int8_t>(RoundClamp(inv * scales[s], -128, 127));
  }
  const float d = F16ToF32(y->d);
  for (int s = 0; s < 16; ++s) {  // re-round against the stored scales
    const float ds = d * y->scales[s];
    if (ds == 0.0f) continue;
    for (int l = 0; l < 16; ++l) {
      L[16 * s + l] = static_cast<int8_t>(RoundClamp(x[16 * s + l] / ds, -32, 31) + 32);
    }
  }
  for (int half = 0; half < 2; ++half) {
    const int8_t* q = L + 128 * half;
    uint8_t* ql = y->ql + 64 * half;
    uint8_t* qh = y->qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace

void QuantizeRowQ8_0(const float* x, int64_t n, void* out) {
  CHECK(n % kQK8_0 == 0) << "Q8_0 row of " << n << " elements";
  auto* y = static_cast<BlockQ8_0*>(out);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = std::min(amax / 127.0f, kMaxHalf);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::clamp(std::round(x[j] * id), -127.0f, 127.0f));
    }
  }
}

void QuantizeRowQ8_K(const float* x, int64_t n, void* out) {
  CHECK(n % kQK_K == 0) << "Q8_K row of " << n << " elements";
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    std::memset(&y[i], 0, sizeof y[i]);
    if (amax == 0.0f) continue;
    // The largest-magnitude value maps to -127 exactly, so every quant is within [-127, 127].
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void QuantizeRow(WeightFormat f, const float* src, int64_t n, void* dst) {
  switch (f) {
    case WeightFormat::kQ8_0:
      return QuantizeRowQ8_0(src, n, dst);
    case WeightFormat::kQ4_0:
      CHECK(n % kQK4_0 == 0) << "Q4_0 row of " << n << " elements";
      return QuantizeQ4_0(src, n / kQK4_0, static_cast<BlockQ4_0*>(dst));
    case WeightFormat::kQ5_0:
      CHECK(n % kQK5_0 == 0) << "Q5_0 row of " << n << " elements";
      return QuantizeQ5_0(src, n / kQK5_0, static_cast<BlockQ5_0*>(dst));
    case WeightFormat::kQ4_K:
      CHECK(n % kQK_K == 0) << "Q4_K row of " << n << " elements";
      for (int64_t i = 0; i < n / kQK_K; ++i) {
        QuantizeQ4_KBlock(src + i * kQK_K, static_cast<BlockQ4_K*>(dst) + i);
      }
      return;
    case WeightFormat::kQ6_K:
      CHECK(n % kQK_K == 0) << "Q6_K row of " << n << " elements";
      for (int64_t i = 0; i < n / kQK_K; ++i) {
        QuantizeQ6_KBlock(src + i * kQK_K, static_cast<BlockQ6_K*>(dst) + i);
      }
      return;
    default:
      CHECK(false) << "QuantizeRow: not a block-quantized format";
  }
}

}  // namespace medassist::kernels
