// Which storage type each weight matrix gets when a model changes format: in the GGUF exporter
// (export-gguf --out-type, quantize --type) and in quantize-on-load (--dtype). Both ask this one
// recipe, so a file written with a mix and a model converted on load to it hold the same bytes.
//
//   kernels::WeightFormat t = MatrixFormat(WeightMix::kQ4_K_M, config, hf_name, cols, stored);
//
// Only matrices (embeddings, projections, the output head) are converted; norms and biases stay
// F32 (files) or as stored (on load).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "formats/hf_config.h"
#include "kernels/weight_format.h"

namespace medassist::model {

// kKeep: as stored. kF32 / kF16 / kBF16: every matrix in that type. kQ8_0, kQ4_0: every matrix.
// kQ4_K: Q4_K everywhere (the output head included). kQ4_K_M: llama.cpp's Q4_K_M recipe: Q4_K,
// with Q6_K for the output head and for attn_v / ffn_down in the first and last eighth of the
// layers and every third layer in between. A matrix whose rows are not whole blocks of its type
// (Qwen2.5-0.5B's 896-wide rows for the 256-element K blocks) falls back as llama.cpp does: Q4_K
// to Q5_0, Q6_K to Q8_0; or to F16 when the rows are not whole 32-element blocks either.
enum class WeightMix { kKeep, kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K, kQ4_K_M };

// "keep", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q4_k_m", in any case; anything else is
// InvalidArgument naming the choices.
Result<WeightMix> ParseWeightMix(std::string_view name);
// "q4_k_m", ... (lower case, as parsed).
std::string_view WeightMixName(WeightMix mix);
bool IsQuantisedMix(WeightMix mix);
// Q8_0, Q4_0, Q5_0, Q4_K, Q6_K: the block-quantised formats.
bool IsBlockFormat(kernels::WeightFormat format);

// The storage type of the matrix hf_name ("model.layers.3.mlp.down_proj.weight"), whose rows have
// cols elements and are stored as `stored`, under mix.
kernels::WeightFormat MatrixFormat(WeightMix mix, const formats::ModelConfig& config,
                                   const std::string& hf_name, int64_t cols,
                                   kernels::WeightFormat stored);

// Converting a block-quantised matrix to another block type adds the second rounding to the
// first: refused (InvalidArgument naming the tensor, the types and `remedy`, the way out) unless
// allow_requantize. A matrix already in its target type is kept as is and is not requantised.
Status CheckRequantize(const std::string& source, const std::string& tensor,
                       kernels::WeightFormat stored, kernels::WeightFormat target,
                       bool allow_requantize, std::string_view remedy);

// x (n floats) stored as f: kernels::QuantizeRow for the block types (n a multiple of the block),
// F16 / BF16 rounded to nearest even, F32 copied. dst holds kernels::RowBytes(f, n) bytes.
void EncodeRow(kernels::WeightFormat f, const float* x, int64_t n, uint8_t* dst);

}  // namespace medassist::model
