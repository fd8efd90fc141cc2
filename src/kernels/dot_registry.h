// Internal to kernels: where SelectDotKernel (dot.cc) finds the implementations. Each returns the
// kernel for exactly (format, isa), or nullptr when that combination is not implemented.
#pragma once

#include "kernels/dot.h"

namespace medassist::kernels {

// F32, F16, BF16 weights (dot_float*.cc).
const DotKernel* FindFloatDotKernel(WeightFormat format, Isa isa);
// Q8_0, Q4_0, Q4_K, Q6_K weights (dot_quant*.cc).
const DotKernel* FindQuantDotKernel(WeightFormat format, Isa isa);

}  // namespace medassist::kernels
