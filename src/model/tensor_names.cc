#include "model/tensor_names.h"

#include <array>
#include <cctype>
#include <utility>

namespace medassist::model {
namespace {

// Per-layer module paths after "model.layers.N." and their GGUF names after "blk.N.". The
// suffix (".weight" / ".bias") carries over unchanged.
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kLayerModules = {{
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kGlobalTensors = {{
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
}};

// "weight" or "bias" after the module path, else nullopt.
std::optional<std::string_view> ParamSuffix(std::string_view rest) {
  if (rest == ".weight" || rest == ".bias") return rest;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> GgufTensorName(std::string_view hf_name) {
  for (const auto& [hf, gguf] : kGlobalTensors) {
    if (hf_name == hf) return std::string(gguf);
  }
  constexpr std::string_view kLayerPrefix = "model.layers.";
  if (!hf_name.starts_with(kLayerPrefix)) return std::nullopt;
  std::string_view rest = hf_name.substr(kLayerPrefix.size());
  size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  if (digits == 0 || digits > 6 || digits >= rest.size() || rest[digits] != '.')
    return std::nullopt;
  const std::string_view layer = rest.substr(0, digits);
  if (layer.size() > 1 && layer[0] == '0') return std::nullopt;  // "01" is not a layer index
  rest = rest.substr(digits + 1);
  for (const auto& [hf, gguf] : kLayerModules) {
    if (!rest.starts_with(hf)) continue;
    const std::optional<std::string_view> suffix = ParamSuffix(rest.substr(hf.size()));
    if (!suffix) continue;
    return "blk." + std::string(layer) + "." + std::string(gguf) + std::string(*suffix);
  }
  return std::nullopt;
}

}  // namespace medassist::model
