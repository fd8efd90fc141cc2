// The tensors of a Hugging Face Qwen2ForCausalLM / LlamaForCausalLM checkpoint, by name and shape,
// derived from config.json alone. The model loader checks a checkpoint against it, and synth-model
// writes random weights of exactly these shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/hf_config.h"

namespace medassist::model {

struct WeightSpec {
  // What a freshly made tensor of this kind should hold: kNormal for matrices and embeddings,
  // kOnes for RMSNorm weights, kBias for projection biases.
  enum class Init { kNormal, kOnes, kBias };

  std::string name;             // "model.layers.0.self_attn.q_proj.weight"
  std::vector<uint64_t> shape;  // PyTorch order: (d_out, d_in) for a Linear weight
  Init init = Init::kNormal;

  uint64_t n_elements() const;
};

// Every tensor of the checkpoint, in HF module order: model.embed_tokens.weight (vocab, hidden);
// per layer input_layernorm, self_attn q/k/v_proj (+ biases when attention_qkv_bias), o_proj
// (+ bias when attention_out_bias), post_attention_layernorm, mlp gate/up/down_proj (+ biases when
// mlp_bias); model.norm.weight; lm_head.weight (vocab, hidden) unless tie_word_embeddings.
// The element sum equals formats::CountParameters(config).
std::vector<WeightSpec> HfWeightLayout(const formats::ModelConfig& config);

}  // namespace medassist::model
