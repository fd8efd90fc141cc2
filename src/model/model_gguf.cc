// GGUF files with a `llama` or `qwen2` architecture: hyperparameters from the metadata (turned into
// a config.json and validated by the same code as Hugging Face folders), tensors by their GGUF
// names (tensor_names.h), bound as views into the mapped file.
#include <nlohmann/json.hpp>

#include "formats/gguf_reader.h"
#include "model/model_loaders.h"
#include "model/tensor_names.h"

namespace medassist::model {
namespace {

using formats::GgufFile;

Result<WeightType> WeightTypeOf(const formats::GgufTensorInfo& t, const std::string& path) {
  switch (t.type) {
    case formats::GgmlType::kF32:
      return WeightType::kF32;
    case formats::GgmlType::kF16:
      return WeightType::kF16;
    case formats::GgmlType::kBF16:
      return WeightType::kBF16;
    case formats::GgmlType::kQ8_0:
      return WeightType::kQ8_0;
    case formats::GgmlType::kQ4_0:
      return WeightType::kQ4_0;
    case formats::GgmlType::kQ5_0:
      return WeightType::kQ5_0;
    case formats::GgmlType::kQ4_K:
      return WeightType::kQ4_K;
    case formats::GgmlType::kQ6_K:
      return WeightType::kQ6_K;
    default:
      return Unimplemented(path + ": tensor '" + std::string(t.name) + "' has type " +
                           std::string(formats::GgmlTypeName(t.type)) +
                           "; this build runs F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K and Q6_K "
                           "tensors");
  }
}

// ggml dims are innermost first: a matrix {cols, rows}, a vector {n}.
Result<Weight> ToWeight(const formats::GgufTensorInfo& t, const std::string& hf_name,
                        const std::string& path) {
  ASSIGN_OR_RETURN(WeightType type, WeightTypeOf(t, path));
  Weight w;
  w.name = std::string(t.name);
  w.type = type;
  if (t.dims.size() == 1) {
    w.rows = 1;
    w.cols = static_cast<int64_t>(t.dims[0]);
  } else if (t.dims.size() == 2) {
    w.rows = static_cast<int64_t>(t.dims[1]);
    w.cols = static_cast<int64_t>(t.dims[0]);
  } else {
    return DataLoss(path + ": tensor '" + w.name + "' (" + hf_name + ") has " +
                    std::to_string(t.dims.size()) + " dimensions; model weights have 1 or 2");
  }
  w.data = t.data.data();
  const bool is_float =
      type == WeightType::kF32 || type == WeightType::kF16 || type == WeightType::kBF16;
  if (!is_float && w.rows == 1) {
    return Unimplemented(path + ": tensor '" + w.name + "' is a block-quantised vector; norms " +
                         "and biases must be F32, F16 or BF16");
  }
  return w;
}

// An optional integer key: its value, fallback when absent, an error when mistyped.
Result<uint64_t> OptionalUint(const GgufFile& gguf, const std::string& key, uint64_t fallback) {
  if (gguf.Find(key) == nullptr) return fallback;
  return gguf.GetUint64(key);
}

Result<float> OptionalFloat(const GgufFile& gguf, const std::string& key, float fallback) {
  if (gguf.Find(key) == nullptr) return fallback;
  return gguf.GetFloat32(key);
}

// Refuses RoPE variants the engine does not implement (scaling, partial rotary dims).
Status CheckRopeSupported(const GgufFile& gguf, const std::string& arch, uint64_t head_dim) {
  const std::string scaling_key = arch + ".rope.scaling.type";
  if (gguf.Find(scaling_key) != nullptr) {
    ASSIGN_OR_RETURN(std::string_view scaling, gguf.GetString(scaling_key));
    if (scaling != "none") {
      return Unimplemented(gguf.source() + ": RoPE scaling '" + std::string(scaling) +
                           "' is not supported");
    }
  }
  ASSIGN_OR_RETURN(uint64_t rope_dims,
                   OptionalUint(gguf, arch + ".rope.dimension_count", head_dim));
  if (rope_dims != head_dim) {
    return Unimplemented(gguf.source() + ": RoPE over " + std::to_string(rope_dims) + " of " +
                         std::to_string(head_dim) + " head dimensions is not supported");
  }
  return Status::Ok();
}

// The metadata as a Hugging Face config.json, so one validator checks both formats.
Result<formats::ModelConfig> ConfigFromGguf(const GgufFile& gguf) {
  ASSIGN_OR_RETURN(std::string_view arch_view, gguf.GetString("general.architecture"));
  const std::string arch(arch_view);
  if (arch != "llama" && arch != "qwen2") {
    return Unimplemented(gguf.source() + ": architecture '" + arch +
                         "' is not supported (llama, qwen2)");
  }
  const formats::GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) {
    return DataLoss(gguf.source() + ": no 2-D tensor 'token_embd.weight'");
  }
  ASSIGN_OR_RETURN(uint64_t hidden, gguf.GetUint64(arch + ".embedding_length"));
  ASSIGN_OR_RETURN(uint64_t layers, gguf.GetUint64(arch + ".block_count"));
  ASSIGN_OR_RETURN(uint64_t ff, gguf.GetUint64(arch + ".feed_forward_length"));
  ASSIGN_OR_RETURN(uint64_t heads, gguf.GetUint64(arch + ".attention.head_count"));
  ASSIGN_OR_RETURN(uint64_t kv_heads, OptionalUint(gguf, arch + ".attention.head_count_kv", heads));
  ASSIGN_OR_RETURN(uint64_t context, gguf.GetUint64(arch + ".context_length"));
  ASSIGN_OR_RETURN(float eps, gguf.GetFloat32(arch + ".attention.layer_norm_rms_epsilon"));
  ASSIGN_OR_RETURN(float theta, OptionalFloat(gguf, arch + ".rope.freq_base", 10000.0f));
  const uint64_t default_head_dim = heads == 0 ? 0 : hidden / heads;
  ASSIGN_OR_RETURN(uint64_t head_dim,
                   OptionalUint(gguf, arch + ".attention.key_length", default_head_dim));
  RETURN_IF_ERROR(CheckRopeSupported(gguf, arch, head_dim));

  nlohmann::json j;
  j["architectures"] = {arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = arch;
  j["hidden_size"] = hidden;
  j["num_hidden_layers"] = layers;
  j["intermediate_size"] = ff;
  j["num_attention_heads"] = heads;
  j["num_key_value_heads"] = kv_heads;
  j["head_dim"] = head_dim;
  j["vocab_size"] = embd->dims[1];
  j["max_position_embeddings"] = context;
  j["rms_norm_eps"] = eps;
  j["rope_theta"] = theta;
  j["tie_word_embeddings"] = gguf.FindTensor("output.weight") == nullptr;
  if (arch == "llama") {
    j["attention_bias"] = gguf.FindTensor("blk.0.attn_q.bias") != nullptr;
    j["mlp_bias"] = gguf.FindTensor("blk.0.ffn_gate.bias") != nullptr;
  }
  for (const char* key : {"bos_token_id", "eos_token_id"}) {
    const std::string gguf_key = std::string("tokenizer.ggml.") + key;
    if (gguf.Find(gguf_key) != nullptr) {
      ASSIGN_OR_RETURN(uint32_t id, gguf.GetUint32(gguf_key));
      j[key] = id;
    }
  }
  return formats::ParseModelConfig(j.dump(), gguf.source() + " (GGUF metadata)");
}

}  // namespace

Result<Model> OpenGguf(const std::string& path) {
  ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  Model model;
  model.path_ = path;
  model.format_ = ModelFormat::kGguf;
  model.storage_->gguf.emplace(std::move(file));
  const GgufFile& gguf = *model.storage_->gguf;
  ASSIGN_OR_RETURN(model.config_, ConfigFromGguf(gguf));
  // llama.cpp's converter permutes q/k rows of llama models for its interleaved-pair RoPE, and
  // leaves qwen2 in Hugging Face's rotate-half order (its NEOX RoPE).
  model.rope_style_ = model.config_.architecture == formats::Architecture::kLlama
                          ? RopeStyle::kInterleavedPairs
                          : RopeStyle::kRotateHalf;
  const TensorLookup lookup = [&](const std::string& hf_name) -> Result<Weight> {
    const std::optional<std::string> name = GgufTensorName(hf_name);
    CHECK(name.has_value()) << "no GGUF name for " << hf_name;
    const formats::GgufTensorInfo* t = gguf.FindTensor(*name);
    if (t == nullptr) return DataLoss(path + ": tensor '" + *name + "' is missing");
    return ToWeight(*t, hf_name, path);
  };
  ASSIGN_OR_RETURN(model.weights_, BindModelWeights(model.config_, lookup, path));
  return model;
}

}  // namespace medassist::model
