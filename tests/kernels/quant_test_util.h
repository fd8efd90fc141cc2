// Deterministic test inputs for the quantization tests. The same generator produced the inputs
// from which ggml's reference figures (RMSE, golden blocks) were computed, so keep it unchanged.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace medassist::kernels::testing {

// splitmix64: a tiny, portable, well-mixed generator.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1), never 0.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Standard normal (Box-Muller, one value per call), in double so the bits are portable.
  double Gaussian() {
    const double u1 = Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// n standard-normal floats.
inline std::vector<float> GaussianRow(uint64_t seed, int64_t n) {
  SplitMix64 rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = static_cast<float>(rng.Gaussian());
  return x;
}

// Weight-like rows with the awkward cases: Gaussian values, every 37th a zero, every 101st an
// outlier 25x larger, and the third sub-block of 32 (elements 64..95) entirely zero.
inline std::vector<float> AwkwardRow(uint64_t seed, int64_t n) {
  std::vector<float> x = GaussianRow(seed, n);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 37 == 0) x[i] = 0.0f;
    if (i % 101 == 7) x[i] *= 25.0f;
    if (i >= 64 && i < 96) x[i] = 0.0f;
  }
  return x;
}

}  // namespace medassist::kernels::testing
