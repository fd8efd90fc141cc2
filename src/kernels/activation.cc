#include "kernels/activation.h"

#include <cmath>

namespace medassist::kernels {

// activation_avx2.cc, activation_avx512.cc.
void SiluGateAvx2(float* gate, const float* up, int64_t n);
void SiluGateAvx512(float* gate, const float* up, int64_t n);

void SiluGateScalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

SiluGateFn SelectSiluGate(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return SiluGateAvx512;
    case Isa::kAvx2:
      return SiluGateAvx2;
    case Isa::kScalar:
      break;
  }
  return SiluGateScalar;
}

}  // namespace medassist::kernels
