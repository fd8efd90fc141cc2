// SwiGLU's element-wise step, between the gate / up projections and the down projection:
//   gate[i] = silu(gate[i]) * up[i],   silu(g) = g / (1 + e^-g)
// A scalar reference (std::exp) and AVX2 / AVX-512 variants (a polynomial e^x of about 2 ulp on
// e^-|g|, so nothing overflows), chosen once like the other kernels. Element-wise: a value
// depends on its own inputs only, so any batch gives the same bits (DESIGN §2b); the variants
// differ from each other by rounding.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace medassist::kernels {

using SiluGateFn = void (*)(float* gate, const float* up, int64_t n);

void SiluGateScalar(float* gate, const float* up, int64_t n);

// The variant for isa (which the CPU must support).
SiluGateFn SelectSiluGate(Isa isa);

}  // namespace medassist::kernels
