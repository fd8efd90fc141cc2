// F32 rows -> GGUF block-quantized rows: reference-quality weight quantizers (quantize-on-load,
// the `quantize` command) and the activation quantizers the quantized dot kernels prepare with.
// Zeros stay zeros; no quantizer writes NaN for finite input; block scales whose F16 form would
// overflow are clamped to the largest finite half (values then saturate instead of becoming inf).
#pragma once

#include <cstdint>

#include "kernels/weight_format.h"

namespace medassist::kernels {

// Weights: f is Q8_0, Q4_0, Q5_0, Q4_K or Q6_K; n a multiple of the block (CHECKed); dst holds
// n / block_elems blocks. Q8_0, Q4_0 and Q5_0 produce ggml's reference bytes (absmax scaling); Q4_K
// and Q6_K search scales (and mins) per sub-block in the manner of ggml's reference quantizers
// (same ideas, own code: bytes may differ from ggml, error is comparable; see quantize.cc).
void QuantizeRow(WeightFormat f, const float* src, int64_t n, void* dst);

// Activations for Q8_0 / Q4_0 / Q5_0 dot kernels: n % 32 == 0, out = n / 32 BlockQ8_0, quants in
// [-127, 127] (round half away from zero, as ggml's quantize_row_q8_0_ref).
void QuantizeRowQ8_0(const float* x, int64_t n, void* out);
// Activations for Q4_K / Q6_K dot kernels: n % 256 == 0, out = n / 256 BlockQ8_K with bsums,
// quants in [-127, 127] (round half to even, as ggml's quantize_row_q8_K_ref).
void QuantizeRowQ8_K(const float* x, int64_t n, void* out);

}  // namespace medassist::kernels
