// The weights of a loaded model as views into memory-mapped files: {type, shape, bytes}, no copy
// when the stored type is used as is (DESIGN §3). One struct per layer, named after the math they
// take part in, whatever the file called them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/weight_format.h"

namespace medassist::model {

// Element types the model computes from: the kernels' weight formats (F32, F16, BF16 and the
// GGUF block-quantised Q8_0, Q4_0, Q5_0, Q4_K, Q6_K).
using WeightType = kernels::WeightFormat;

// A tensor view. Matrices are (rows, cols) row-major in PyTorch order: a Linear weight is
// (d_out, d_in), an embedding (vocab, hidden); a row is kernels::RowBytes(type, cols) bytes (whole
// blocks for quantised types). Vectors have rows == 1. The bytes may be unaligned (safetensors
// does not align), so elements are read with memcpy.
struct Weight {
  std::string name;  // as in the file, for messages
  WeightType type = WeightType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;  // nullptr: absent (an optional bias)

  bool present() const { return data != nullptr; }
  int64_t n_elements() const { return rows * cols; }
  int64_t row_bytes() const { return kernels::RowBytes(type, cols); }
  const uint8_t* row(int64_t r) const { return data + r * row_bytes(); }
  // Element i of the row-major data, converted to float. Float types only (vectors: norms and
  // biases, which GGUF files always store as F32).
  float At(int64_t i) const;
  // Row r converted to float (dequantised for block types): out has cols elements.
  void RowToFloat(int64_t r, float* out) const;
};

struct LayerWeights {
  Weight attn_norm;             // (1, d) RMSNorm before attention
  Weight wq, wk, wv, wo;        // (q_dim, d), (kv_dim, d), (kv_dim, d), (d, q_dim)
  Weight bq, bk, bv, bo;        // (1, out) biases; Qwen2 has q/k/v, Llama none
  Weight ffn_norm;              // (1, d) RMSNorm before the MLP
  Weight w_gate, w_up, w_down;  // (ff, d), (ff, d), (d, ff)
  Weight b_gate, b_up, b_down;  // Llama mlp_bias only
};

struct ModelWeights {
  Weight token_embedding;  // (vocab, d)
  std::vector<LayerWeights> layers;
  Weight final_norm;  // (1, d)
  Weight output;      // (vocab, d): lm_head, or token_embedding when tied
};

// The weight that Hugging Face calls hf_name ("model.layers.3.mlp.up_proj.weight"); CHECKs that
// the name is one of the config's layout (weight_layout.h).
const Weight& WeightByHfName(const ModelWeights& weights, const std::string& hf_name);

}  // namespace medassist::model
