// Hugging Face model folders: config.json (the architecture's hyperparameters) and
// generation_config.json (the publisher's sampling defaults), parsed and validated before the model
// loader allocates anything from them. Only what this project can run is accepted: Qwen2 and Llama
// decoder-only models with SiLU MLPs and plain RoPE; anything else is refused with a message naming
// the file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::formats {

enum class Architecture { kQwen2, kLlama };

// The "architectures" name: "Qwen2ForCausalLM", "LlamaForCausalLM".
std::string_view ArchitectureName(Architecture arch);

// Limits on sizes, checked before anything is allocated from them (hostile or corrupt configs).
inline constexpr int64_t kMaxHiddenSize = int64_t{1} << 20;
inline constexpr int64_t kMaxIntermediateSize = int64_t{1} << 22;
inline constexpr int64_t kMaxLayers = int64_t{1} << 12;
inline constexpr int64_t kMaxHeads = int64_t{1} << 12;
inline constexpr int64_t kMaxHeadDim = int64_t{1} << 12;
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 24;
inline constexpr int64_t kMaxPositionEmbeddings = int64_t{1} << 24;

// config.json of a Qwen2ForCausalLM or LlamaForCausalLM checkpoint, with HF's defaults filled in.
// Sizes are int64_t so that products of them (weight element counts) cannot overflow.
struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  int64_t hidden_size = 0;        // d_model
  int64_t intermediate_size = 0;  // MLP inner width (gate/up out, down in)
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // GQA; defaults to num_attention_heads
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads; always even
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 0.0;
  bool tie_word_embeddings = false;  // lm_head shares embed_tokens
  bool attention_qkv_bias = false;   // q/k/v_proj have biases (always for Qwen2)
  bool attention_out_bias = false;   // o_proj has a bias (Llama attention_bias; never for Qwen2)
  bool mlp_bias = false;             // gate/up/down_proj have biases (Llama mlp_bias)
  // The checkpoint's stated dtype ("bfloat16", "float32", "float16"; "" when unstated). Only a
  // hint: each safetensors tensor carries its own dtype.
  std::string torch_dtype;
  std::vector<int32_t> bos_token_id;  // empty when unstated; config.json allows an int or a list
  std::vector<int32_t> eos_token_id;

  int64_t q_dim() const { return num_attention_heads * head_dim; }   // q_proj / o_proj width
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }  // k_proj / v_proj width
};

// Parses and validates config.json text; source names the file in error messages. Errors:
// DataLoss for malformed content (not an object, missing field, wrong type, inconsistent sizes),
// ResourceExhausted for sizes over the limits above, Unimplemented for valid configs this project
// cannot run (other architectures, sliding-window attention, rope_scaling, non-SiLU activations).
Result<ModelConfig> ParseModelConfig(std::string_view json, const std::string& source);
Result<ModelConfig> ReadModelConfig(const std::string& path);

// generation_config.json: every field optional (absent or null -> unset); unknown fields ignored.
struct GenerationConfig {
  std::optional<bool> do_sample;
  std::optional<float> temperature;         // >= 0
  std::optional<float> top_p;               // in [0, 1]
  std::optional<int32_t> top_k;             // >= 0 (0: off)
  std::optional<float> repetition_penalty;  // > 0 (1: off)
  std::optional<int32_t> max_new_tokens;    // >= 1
  std::vector<int32_t> eos_token_id;        // empty when unset; an int or a list in the file
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> pad_token_id;
};

// Parses generation_config.json text. A field of the wrong type or out of range is DataLoss naming
// the file and the field.
Result<GenerationConfig> ParseGenerationConfig(std::string_view json, const std::string& source);
Result<GenerationConfig> ReadGenerationConfig(const std::string& path);

// Number of weights in the HF layout of the architecture: embed_tokens, per layer q/k/v/o
// projections (with their biases), gate/up/down (with biases when mlp_bias) and two RMSNorm
// weights, the final norm, and lm_head unless tied. Qwen2.5-0.5B: 494,032,768.
int64_t CountParameters(const ModelConfig& config);

// One line for logs: "Qwen2ForCausalLM: 24 layers, hidden 896, ..., 494.03M params".
std::string DescribeModelConfig(const ModelConfig& config);

}  // namespace medassist::formats
