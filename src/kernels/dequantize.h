// Block-quantized rows -> F32, the scalar reference: bit-exact to ggml's dequantize_row_q8_0 /
// _q4_0 / _q5_0 / _q4_K / _q6_K (the same float operations in the same order), so a weight
// dequantized here equals what llama.cpp computes from the same GGUF bytes.
#pragma once

#include <cstdint>

#include "kernels/weight_format.h"

namespace medassist::kernels {

// src: n / block_elems blocks of format f (Q8_0, Q4_0, Q5_0, Q4_K or Q6_K); n a multiple of the
// block (CHECKed). dst: n floats.
void DequantizeRow(WeightFormat f, const void* src, int64_t n, float* dst);

}  // namespace medassist::kernels
