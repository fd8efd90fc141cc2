#include "formats/hf_config.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/file.h"
#include "formats/json_util.h"

namespace medassist::formats {
namespace {

using nlohmann::json;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr double kFloatMax = std::numeric_limits<float>::max();
// config.json and generation_config.json are a few KB; refuse anything absurd before reading it.
constexpr size_t kMaxConfigBytes = size_t{16} << 20;
// Lists of token ids (eos_token_id) are a handful of entries in practice.
constexpr size_t kMaxTokenIdList = 1024;

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// A value as shown in an error message: `string "896"`, `number 896.5`, `boolean true`, `array`.
std::string DescribeValue(const json& v) {
  std::string type = v.type_name();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return type + " \"" + s + "\"";
  }
  if (v.is_number() || v.is_boolean()) return type + " " + v.dump();
  return type;
}

// Typed, validated access to the fields of one JSON object; every error reads
// "<source>: field '<key>' <problem>".
class Fields {
 public:
  Fields(const json& obj, std::string_view source) : obj_(obj), source_(source) {}

  const std::string& source() const { return source_; }

  // The field, or nullptr when absent. Optional fields treat null as absent.
  const json* Find(std::string_view key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  const json* FindOptional(std::string_view key) const {
    const json* v = Find(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }

  Status Error(std::string_view key, std::string_view problem) const {
    return DataLoss(source_ + ": field '" + std::string(key) + "' " + std::string(problem));
  }
  Status WrongType(std::string_view key, const json& v, std::string_view expected) const {
    return Error(key, "must be " + std::string(expected) + ", got " + DescribeValue(v));
  }
  Status Missing(std::string_view key) const {
    return DataLoss(source_ + ": missing field '" + std::string(key) + "'");
  }

  // A JSON integer (not 3.0, not true) in [min, max].
  Result<int64_t> Int(std::string_view key, const json& v, int64_t min, int64_t max) const {
    if (!v.is_number_integer()) return WrongType(key, v, "an integer");
    bool too_big = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX};
    int64_t i = too_big ? INT64_MAX : v.get<int64_t>();
    if (i < min || i > max) {
      return Error(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                            "], got " + v.dump());
    }
    return i;
  }

  // A required size in [1, max]; over max is ResourceExhausted (a limit, not a malformed file).
  Result<int64_t> Size(std::string_view key, int64_t max) const {
    const json* v = Find(key);
    if (v == nullptr) return Missing(key);
    return SizeValue(key, *v, max);
  }
  Result<int64_t> OptionalSize(std::string_view key, int64_t max, int64_t fallback) const {
    const json* v = FindOptional(key);
    return v == nullptr ? Result<int64_t>(fallback) : SizeValue(key, *v, max);
  }

  // A finite JSON number (integer or not); optional ones give fallback when absent or null.
  Result<double> Number(std::string_view key, const json& v) const {
    if (!v.is_number()) return WrongType(key, v, "a number");
    double d = v.get<double>();
    if (!std::isfinite(d)) return Error(key, "must be finite, got " + v.dump());
    return d;
  }
  Result<double> OptionalNumber(std::string_view key, double fallback) const {
    const json* v = FindOptional(key);
    return v == nullptr ? Result<double>(fallback) : Number(key, *v);
  }

  Result<bool> OptionalBool(std::string_view key, bool fallback) const {
    const json* v = FindOptional(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return WrongType(key, *v, "true or false");
    return v->get<bool>();
  }

  Result<std::string> OptionalString(std::string_view key, std::string fallback) const {
    const json* v = FindOptional(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) return WrongType(key, *v, "a string");
    return v->get<std::string>();
  }

  // A token id or a list of them (eos_token_id: 2 or [151645, 151643]); empty when absent.
  Result<std::vector<int32_t>> TokenIds(std::string_view key) const {
    std::vector<int32_t> ids;
    const json* v = FindOptional(key);
    if (v == nullptr) return ids;
    if (!v->is_array()) {
      ASSIGN_OR_RETURN(int64_t id, TokenIdValue(key, *v));
      ids.push_back(static_cast<int32_t>(id));
      return ids;
    }
    if (v->size() > kMaxTokenIdList) return Error(key, "lists too many token ids");
    for (const json& e : *v) {
      ASSIGN_OR_RETURN(int64_t id, TokenIdValue(key, e));
      ids.push_back(static_cast<int32_t>(id));
    }
    return ids;
  }
  Result<int64_t> TokenIdValue(std::string_view key, const json& v) const {
    if (!v.is_number_integer()) return WrongType(key, v, "a token id or a list of token ids");
    return Int(key, v, 0, kInt32Max);
  }

 private:
  Result<int64_t> SizeValue(std::string_view key, const json& v, int64_t max) const {
    if (!v.is_number_integer()) return WrongType(key, v, "an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) {
      return OverLimit(key, v.dump(), max);
    }
    int64_t i = v.get<int64_t>();
    if (i <= 0) return Error(key, "must be positive, got " + std::to_string(i));
    if (i > max) return OverLimit(key, std::to_string(i), max);
    return i;
  }
  Status OverLimit(std::string_view key, const std::string& value, int64_t max) const {
    return ResourceExhausted(source_ + ": field '" + std::string(key) + "' is " + value +
                             ", over the limit of " + std::to_string(max));
  }

  const json& obj_;
  std::string source_;
};

Result<json> ParseObject(std::string_view text, const std::string& source) {
  ASSIGN_OR_RETURN(json j, ParseJson(text, source));
  if (!j.is_object()) {
    return DataLoss(source + ": expected a JSON object, got " + std::string(j.type_name()));
  }
  return j;
}

// "architectures": ["Qwen2ForCausalLM"] and a consistent "model_type": "qwen2".
Result<Architecture> ParseArchitecture(const Fields& f) {
  const json* list = f.Find("architectures");
  if (list == nullptr) return f.Missing("architectures");
  if (!list->is_array() || list->empty() || !(*list)[0].is_string()) {
    return f.WrongType("architectures", *list, "a list of architecture names");
  }
  std::string name = (*list)[0].get<std::string>();
  Architecture arch;
  if (name == ArchitectureName(Architecture::kQwen2)) {
    arch = Architecture::kQwen2;
  } else if (name == ArchitectureName(Architecture::kLlama)) {
    arch = Architecture::kLlama;
  } else {
    return Unimplemented(f.source() + ": architecture '" + name +
                         "' is not supported (supported: Qwen2ForCausalLM, LlamaForCausalLM)");
  }
  const json* type = f.Find("model_type");
  if (type == nullptr) return f.Missing("model_type");
  if (!type->is_string()) return f.WrongType("model_type", *type, "a string");
  std::string expected = arch == Architecture::kQwen2 ? "qwen2" : "llama";
  if (type->get<std::string>() != expected) {
    return f.Error("model_type", "is '" + type->get<std::string>() + "' but architectures names " +
                                     name + " (expected '" + expected + "')");
  }
  return arch;
}

// Sizes, GQA grouping and head_dim (HF default: hidden_size / num_attention_heads).
Status ParseSizes(const Fields& f, ModelConfig& c) {
  ASSIGN_OR_RETURN(c.hidden_size, f.Size("hidden_size", kMaxHiddenSize));
  ASSIGN_OR_RETURN(c.intermediate_size, f.Size("intermediate_size", kMaxIntermediateSize));
  ASSIGN_OR_RETURN(c.num_hidden_layers, f.Size("num_hidden_layers", kMaxLayers));
  ASSIGN_OR_RETURN(c.num_attention_heads, f.Size("num_attention_heads", kMaxHeads));
  ASSIGN_OR_RETURN(c.num_key_value_heads,
                   f.OptionalSize("num_key_value_heads", kMaxHeads, c.num_attention_heads));
  ASSIGN_OR_RETURN(c.vocab_size, f.Size("vocab_size", kMaxVocabSize));
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   f.Size("max_position_embeddings", kMaxPositionEmbeddings));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return f.Error("num_attention_heads", std::to_string(c.num_attention_heads) +
                                              " is not divisible by num_key_value_heads " +
                                              std::to_string(c.num_key_value_heads));
  }
  if (f.FindOptional("head_dim") != nullptr) {
    ASSIGN_OR_RETURN(c.head_dim, f.Size("head_dim", kMaxHeadDim));
  } else if (c.hidden_size % c.num_attention_heads != 0) {
    return f.Error("hidden_size",
                   std::to_string(c.hidden_size) + " is not divisible by num_attention_heads " +
                       std::to_string(c.num_attention_heads) + " (and no head_dim is given)");
  } else {
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) {
    return f.Error("head_dim", "must be even for RoPE, got " + std::to_string(c.head_dim));
  }
  if (c.q_dim() > kMaxHiddenSize) {
    return ResourceExhausted(f.source() + ": num_attention_heads * head_dim is " +
                             std::to_string(c.q_dim()) + ", over the limit of " +
                             std::to_string(kMaxHiddenSize));
  }
  return Status::Ok();
}

// rope_scaling: null, absent or {"rope_type": "default"} mean plain RoPE; any other is refused.
Status CheckRopeScaling(const Fields& f) {
  const json* scaling = f.FindOptional("rope_scaling");
  if (scaling == nullptr) return Status::Ok();
  if (!scaling->is_object()) return f.WrongType("rope_scaling", *scaling, "an object or null");
  auto type = scaling->find("rope_type");
  if (type == scaling->end()) type = scaling->find("type");
  if (type == scaling->end() || !type->is_string()) {
    return f.Error("rope_scaling", "must name its 'rope_type' (or 'type') as a string");
  }
  std::string name = type->get<std::string>();
  if (name == "default") return Status::Ok();
  return Unimplemented(f.source() + ": rope_scaling type '" + name +
                       "' is not supported (only plain RoPE: rope_scaling null)");
}

// RoPE, RMSNorm and the activation.
Status ParseNumerics(const Fields& f, ModelConfig& c) {
  const json* eps = f.Find("rms_norm_eps");
  if (eps == nullptr) return f.Missing("rms_norm_eps");
  ASSIGN_OR_RETURN(c.rms_norm_eps, f.Number("rms_norm_eps", *eps));
  if (c.rms_norm_eps <= 0) return f.Error("rms_norm_eps", "must be positive, got " + eps->dump());
  ASSIGN_OR_RETURN(c.rope_theta, f.OptionalNumber("rope_theta", 10000.0));
  if (c.rope_theta <= 0) {
    return f.Error("rope_theta", "must be positive, got " + FormatDouble(c.rope_theta));
  }
  RETURN_IF_ERROR(CheckRopeScaling(f));
  ASSIGN_OR_RETURN(std::string act, f.OptionalString("hidden_act", "silu"));
  if (act != "silu") {
    return Unimplemented(f.source() + ": hidden_act '" + act + "' is not supported (only 'silu')");
  }
  return Status::Ok();
}

// Biases, tying, sliding window, dtype and special tokens.
Status ParseOptions(const Fields& f, ModelConfig& c) {
  ASSIGN_OR_RETURN(c.tie_word_embeddings, f.OptionalBool("tie_word_embeddings", false));
  if (c.architecture == Architecture::kQwen2) {
    // HF Qwen2: q/k/v_proj always carry a bias, o_proj and the MLP never do.
    c.attention_qkv_bias = true;
    ASSIGN_OR_RETURN(bool sliding, f.OptionalBool("use_sliding_window", false));
    if (sliding) {
      return Unimplemented(f.source() +
                           ": use_sliding_window is true: sliding-window attention is not "
                           "implemented");
    }
  } else {
    // HF Llama: attention_bias covers q/k/v/o_proj, mlp_bias gate/up/down_proj.
    ASSIGN_OR_RETURN(c.attention_qkv_bias, f.OptionalBool("attention_bias", false));
    c.attention_out_bias = c.attention_qkv_bias;
    ASSIGN_OR_RETURN(c.mlp_bias, f.OptionalBool("mlp_bias", false));
  }
  // transformers >= 4.56 writes "dtype" where older versions wrote "torch_dtype".
  ASSIGN_OR_RETURN(c.torch_dtype, f.OptionalString("torch_dtype", ""));
  if (c.torch_dtype.empty()) {
    ASSIGN_OR_RETURN(c.torch_dtype, f.OptionalString("dtype", ""));
  }
  ASSIGN_OR_RETURN(c.bos_token_id, f.TokenIds("bos_token_id"));
  ASSIGN_OR_RETURN(c.eos_token_id, f.TokenIds("eos_token_id"));
  for (const auto* ids : {&c.bos_token_id, &c.eos_token_id}) {
    for (int32_t id : *ids) {
      if (id >= c.vocab_size) {
        return f.Error(ids == &c.bos_token_id ? "bos_token_id" : "eos_token_id",
                       "has token id " + std::to_string(id) + ", outside vocab_size " +
                           std::to_string(c.vocab_size));
      }
    }
  }
  return Status::Ok();
}

// An optional float field within [min, max]; problem is the message when it is out of range.
Status OptionalFloat(const Fields& f, std::string_view key, double min, double max,
                     std::string_view problem, std::optional<float>& out) {
  const json* v = f.FindOptional(key);
  if (v == nullptr) return Status::Ok();
  ASSIGN_OR_RETURN(double d, f.Number(key, *v));
  if (d < min || d > max) return f.Error(key, std::string(problem) + ", got " + v->dump());
  out = static_cast<float>(d);
  return Status::Ok();
}

Status OptionalInt32(const Fields& f, std::string_view key, int64_t min,
                     std::optional<int32_t>& out) {
  const json* v = f.FindOptional(key);
  if (v == nullptr) return Status::Ok();
  ASSIGN_OR_RETURN(int64_t i, f.Int(key, *v, min, kInt32Max));
  out = static_cast<int32_t>(i);
  return Status::Ok();
}

std::string FormatCount(int64_t n) {
  char buf[32];
  if (n >= 1'000'000'000) {
    std::snprintf(buf, sizeof(buf), "%.2fB", static_cast<double>(n) / 1e9);
  } else if (n >= 1'000'000) {
    std::snprintf(buf, sizeof(buf), "%.2fM", static_cast<double>(n) / 1e6);
  } else if (n >= 1'000) {
    std::snprintf(buf, sizeof(buf), "%.2fK", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRId64, n);
  }
  return buf;
}

}  // namespace

std::string_view ArchitectureName(Architecture arch) {
  switch (arch) {
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
    case Architecture::kLlama:
      return "LlamaForCausalLM";
  }
  return "unknown";
}

Result<ModelConfig> ParseModelConfig(std::string_view json_text, const std::string& source) {
  ASSIGN_OR_RETURN(json j, ParseObject(json_text, source));
  Fields f(j, source);
  ModelConfig c;
  ASSIGN_OR_RETURN(c.architecture, ParseArchitecture(f));
  RETURN_IF_ERROR(ParseSizes(f, c));
  RETURN_IF_ERROR(ParseNumerics(f, c));
  RETURN_IF_ERROR(ParseOptions(f, c));
  return c;
}

Result<ModelConfig> ReadModelConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  return ParseModelConfig(text, path);
}

Result<GenerationConfig> ParseGenerationConfig(std::string_view json_text,
                                               const std::string& source) {
  ASSIGN_OR_RETURN(json j, ParseObject(json_text, source));
  Fields f(j, source);
  GenerationConfig g;
  if (f.FindOptional("do_sample") != nullptr) {
    ASSIGN_OR_RETURN(g.do_sample, f.OptionalBool("do_sample", false));
  }
  RETURN_IF_ERROR(OptionalFloat(f, "temperature", 0, kFloatMax, "must be >= 0", g.temperature));
  RETURN_IF_ERROR(OptionalFloat(f, "top_p", 0, 1, "must be in [0, 1]", g.top_p));
  RETURN_IF_ERROR(OptionalFloat(f, "repetition_penalty", std::numeric_limits<float>::min(),
                                kFloatMax, "must be positive", g.repetition_penalty));
  RETURN_IF_ERROR(OptionalInt32(f, "top_k", 0, g.top_k));
  RETURN_IF_ERROR(OptionalInt32(f, "max_new_tokens", 1, g.max_new_tokens));
  RETURN_IF_ERROR(OptionalInt32(f, "bos_token_id", 0, g.bos_token_id));
  RETURN_IF_ERROR(OptionalInt32(f, "pad_token_id", 0, g.pad_token_id));
  ASSIGN_OR_RETURN(g.eos_token_id, f.TokenIds("eos_token_id"));
  return g;
}

Result<GenerationConfig> ReadGenerationConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  return ParseGenerationConfig(text, path);
}

int64_t CountParameters(const ModelConfig& c) {
  const int64_t d = c.hidden_size;
  // Attention: q (q_dim, d), k and v (kv_dim, d), o (d, q_dim), plus their biases.
  int64_t attention = 2 * c.q_dim() * d + 2 * c.kv_dim() * d;
  if (c.attention_qkv_bias) attention += c.q_dim() + 2 * c.kv_dim();
  if (c.attention_out_bias) attention += d;
  // SwiGLU MLP: gate and up (ff, d), down (d, ff).
  int64_t mlp = 3 * c.intermediate_size * d;
  if (c.mlp_bias) mlp += 2 * c.intermediate_size + d;
  const int64_t norms = 2 * d;  // input_layernorm, post_attention_layernorm
  const int64_t embeddings = c.vocab_size * d;
  int64_t total = embeddings + c.num_hidden_layers * (attention + mlp + norms) + d;  // + final norm
  if (!c.tie_word_embeddings) total += embeddings;  // lm_head (vocab, d)
  return total;
}

std::string DescribeModelConfig(const ModelConfig& c) {
  std::string s(ArchitectureName(c.architecture));
  s += ": " + std::to_string(c.num_hidden_layers) + " layers, hidden " +
       std::to_string(c.hidden_size) + ", intermediate " + std::to_string(c.intermediate_size) +
       ", heads " + std::to_string(c.num_attention_heads) + " (kv " +
       std::to_string(c.num_key_value_heads) + ", head_dim " + std::to_string(c.head_dim) +
       "), vocab " + std::to_string(c.vocab_size) + ", context " +
       std::to_string(c.max_position_embeddings) + ", rope_theta " + FormatDouble(c.rope_theta) +
       ", rms_norm_eps " + FormatDouble(c.rms_norm_eps);
  if (c.attention_qkv_bias) s += c.attention_out_bias ? ", qkvo bias" : ", qkv bias";
  if (c.mlp_bias) s += ", mlp bias";
  s += c.tie_word_embeddings ? ", tied embeddings" : ", untied lm_head";
  if (!c.torch_dtype.empty()) s += ", " + c.torch_dtype;
  s += ", " + FormatCount(CountParameters(c)) + " params";
  return s;
}

}  // namespace medassist::formats
