// Scalar reference float-weight dot kernels, and FindFloatDotKernel. These are the oracle the SIMD
// variants are tested against: one accumulator, index order, no FMA (this file is compiled without
// -mfma, so the compiler cannot contract multiply and add).
#include <cstring>

#include "kernels/dot_float.h"
#include "kernels/dot_registry.h"
#include "kernels/fp16.h"

namespace medassist::kernels {
namespace {

struct F32 {
  static float Load(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};
struct F16 {
  static float Load(const void* w, int64_t i) {
    return F16ToF32(static_cast<const uint16_t*>(w)[i]);
  }
};
struct BF16 {
  static float Load(const void* w, int64_t i) {
    return BF16ToF32(static_cast<const uint16_t*>(w)[i]);
  }
};

// sum over i in order of w[i] * x[i], one float accumulator.
template <typename Format>
float DotScalar(const void* w_row, const void* x_prepared, int64_t n) {
  const float* x = static_cast<const float*>(x_prepared);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += Format::Load(w_row, i) * x[i];
  return sum;
}

template <typename Format>
void DotRowsScalar(const void* w, int64_t w_row_bytes, int64_t rows, const void* x_prepared,
                   int64_t n, float* out) {
  const auto* base = static_cast<const std::byte*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = DotScalar<Format>(base + r * w_row_bytes, x_prepared, n);
  }
}

template <typename Format>
constexpr DotKernel MakeKernel(WeightFormat format) {
  return {format,
          Isa::kScalar,
          PrepareFloatCopy,
          DotScalar<Format>,
          DotRowsScalar<Format>,
          FloatPreparedRowBytes};
}

constexpr DotKernel kF32Scalar = MakeKernel<F32>(WeightFormat::kF32);
constexpr DotKernel kF16Scalar = MakeKernel<F16>(WeightFormat::kF16);
constexpr DotKernel kBF16Scalar = MakeKernel<BF16>(WeightFormat::kBF16);

}  // namespace

void PrepareFloatCopy(const float* x, int64_t n, void* out) {
  std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}

int64_t FloatPreparedRowBytes(int64_t n) { return n * static_cast<int64_t>(sizeof(float)); }

bool PreparesByCopy(const DotKernel& k) { return k.prepare == &PrepareFloatCopy; }

const DotKernel* FindFloatDotKernelScalar(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return &kF32Scalar;
    case WeightFormat::kF16:
      return &kF16Scalar;
    case WeightFormat::kBF16:
      return &kBF16Scalar;
    default:
      return nullptr;
  }
}

DotTileFn FindFloatDotTile(const DotKernel& k) {
  const bool is_float = k.format == WeightFormat::kF32 || k.format == WeightFormat::kF16 ||
                        k.format == WeightFormat::kBF16;
  if (!is_float || &k != FindFloatDotKernel(k.format, k.isa)) return nullptr;
  switch (k.isa) {
    case Isa::kAvx2:
      return FloatDotTileAvx2(k.format);
    case Isa::kAvx512:
      return FloatDotTileAvx512(k.format);
    default:
      return nullptr;  // the scalar reference: dot_rows per activation row
  }
}

const DotKernel* FindFloatDotKernel(WeightFormat format, Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return FindFloatDotKernelScalar(format);
    case Isa::kAvx2:
      return FindFloatDotKernelAvx2(format);
    case Isa::kAvx512:
      return FindFloatDotKernelAvx512(format);
  }
  return nullptr;
}

}  // namespace medassist::kernels
