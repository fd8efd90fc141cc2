// 16-bit floats <-> float: IEEE binary16 (F16) and bfloat16 (BF16), for every layer. Widening is
// exact; narrowing rounds to nearest, ties to even (as ggml's GGML_FP32_TO_FP16, F16C's vcvtps2ph
// and PyTorch do): F16 overflow becomes infinity, NaN stays a quiet NaN.
//
// Defined out of line in fp16.cc, which is compiled without ISA flags: an inline copy emitted by
// an AVX-512 file could be the one the linker keeps for every caller.
#pragma once

#include <cstdint>

namespace medassist::kernels {

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);
float BF16ToF32(uint16_t b);
uint16_t F32ToBF16(float f);

}  // namespace medassist::kernels
