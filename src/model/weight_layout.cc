#include "model/weight_layout.h"

namespace medassist::model {
namespace {

using Init = WeightSpec::Init;

void Add(std::vector<WeightSpec>& out, std::string name, std::vector<int64_t> shape, Init init) {
  std::vector<uint64_t> dims(shape.begin(), shape.end());  // config sizes are validated positive
  out.push_back({std::move(name), std::move(dims), init});
}

// A Linear: weight (d_out, d_in), and bias (d_out) when it has one.
void AddLinear(std::vector<WeightSpec>& out, const std::string& prefix, int64_t d_out, int64_t d_in,
               bool bias) {
  Add(out, prefix + ".weight", {d_out, d_in}, Init::kNormal);
  if (bias) Add(out, prefix + ".bias", {d_out}, Init::kBias);
}

}  // namespace

uint64_t WeightSpec::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::vector<WeightSpec> HfWeightLayout(const formats::ModelConfig& c) {
  const int64_t d = c.hidden_size;
  const int64_t ff = c.intermediate_size;
  std::vector<WeightSpec> out;
  Add(out, "model.embed_tokens.weight", {c.vocab_size, d}, Init::kNormal);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i);
    Add(out, layer + ".input_layernorm.weight", {d}, Init::kOnes);
    AddLinear(out, layer + ".self_attn.q_proj", c.q_dim(), d, c.attention_qkv_bias);
    AddLinear(out, layer + ".self_attn.k_proj", c.kv_dim(), d, c.attention_qkv_bias);
    AddLinear(out, layer + ".self_attn.v_proj", c.kv_dim(), d, c.attention_qkv_bias);
    AddLinear(out, layer + ".self_attn.o_proj", d, c.q_dim(), c.attention_out_bias);
    Add(out, layer + ".post_attention_layernorm.weight", {d}, Init::kOnes);
    AddLinear(out, layer + ".mlp.gate_proj", ff, d, c.mlp_bias);
    AddLinear(out, layer + ".mlp.up_proj", ff, d, c.mlp_bias);
    AddLinear(out, layer + ".mlp.down_proj", d, ff, c.mlp_bias);
  }
  Add(out, "model.norm.weight", {d}, Init::kOnes);
  if (!c.tie_word_embeddings) Add(out, "lm_head.weight", {c.vocab_size, d}, Init::kNormal);
  return out;
}

}  // namespace medassist::model
