#include "model/lora_adapter.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "core/file.h"
#include "formats/json_util.h"
#include "formats/safetensors_reader.h"
#include "formats/safetensors_writer.h"
#include "kernels/fp16.h"
#include "model/model_loaders.h"
#include "model/quant_recipe.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;
using formats::SafetensorsDtype;
using nlohmann::json;

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
// PEFT's get_peft_model_state_dict keys start with the PeftModel's attribute path to the base
// (PeftModelForCausalLM.base_model = LoraModel, whose .model is the transformers model).
constexpr std::string_view kPeftPrefix = "base_model.model.";

constexpr const char* kModuleNames[kNumLoraModules] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"};

bool IsAttention(LoraModule m) {
  return static_cast<int>(m) <= static_cast<int>(LoraModule::kOProj);
}

// The target_modules PEFT users name that this loader cannot merge, with the reason.
std::optional<std::string> UnsupportedModuleReason(std::string_view name) {
  if (name == "embed_tokens" || name == "lm_head") {
    return "LoRA on " + std::string(name) +
           " is not supported (only the attention and MLP projections q_proj, k_proj, v_proj, "
           "o_proj, gate_proj, up_proj, down_proj); retrain without it, or merge it with PEFT's "
           "merge_and_unload and load the merged folder";
  }
  return std::nullopt;
}

// The weight of model that the adapter's (layer, module) targets.
Weight& TargetWeight(ModelWeights& w, int layer, LoraModule m) {
  LayerWeights& l = w.layers[static_cast<size_t>(layer)];
  switch (m) {
    case LoraModule::kQProj:
      return l.wq;
    case LoraModule::kKProj:
      return l.wk;
    case LoraModule::kVProj:
      return l.wv;
    case LoraModule::kOProj:
      return l.wo;
    case LoraModule::kGateProj:
      return l.w_gate;
    case LoraModule::kUpProj:
      return l.w_up;
    case LoraModule::kDownProj:
      return l.w_down;
  }
  return l.wq;
}

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---- adapter_config.json ----

// The keys PEFT (0.10 - 0.13) writes for a LoraConfig: the dataclass fields of
// huggingface/peft src/peft/tuners/lora/config.py (LoraConfig) and src/peft/config.py
// (PeftConfigMixin: peft_type, task_type, base_model_name_or_path, revision, inference_mode,
// auto_mapping), serialised by PeftConfigMixin.to_dict. save_pretrained sets inference_mode true.
json ConfigJson(const LoraConfig& c) {
  return json{{"alpha_pattern", json::object()},
              {"auto_mapping", nullptr},
              {"base_model_name_or_path", c.base_model_name_or_path},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"inference_mode", true},
              {"init_lora_weights", true},
              {"layer_replication", nullptr},
              {"layers_pattern", nullptr},
              {"layers_to_transform", nullptr},
              {"loftq_config", json::object()},
              {"lora_alpha", c.lora_alpha},
              {"lora_dropout", c.lora_dropout},
              {"megatron_config", nullptr},
              {"megatron_core", "megatron.core"},
              {"modules_to_save", nullptr},
              {"peft_type", "LORA"},
              {"r", c.r},
              {"rank_pattern", json::object()},
              {"revision", nullptr},
              {"target_modules", c.target_modules},
              {"task_type", c.task_type},
              {"use_dora", false},
              {"use_rslora", c.use_rslora}};
}

// A key that, set to anything but its neutral value, changes the math in a way we do not apply.
Status RefuseIfSet(const json& j, const char* key, const std::string& source, const char* why) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  const bool set = it->is_boolean()                    ? it->get<bool>()
                   : it->is_object() || it->is_array() ? !it->empty()
                   : it->is_string()                   ? it->get<std::string>() != "none"
                                                       : true;
  if (!set) return Status::Ok();
  return InvalidArgument(source + ": " + key + " = " + it->dump() + " is not supported: " + why);
}

Result<std::vector<std::string>> ParseTargetModules(const json& j, const std::string& source) {
  auto it = j.find("target_modules");
  if (it == j.end() || it->is_null()) {
    return InvalidArgument(source +
                           ": target_modules is missing; list the adapted modules, e.g. "
                           "[\"q_proj\", \"v_proj\"]");
  }
  std::vector<std::string> names;
  if (it->is_string()) {
    if (it->get<std::string>() != "all-linear") {
      return InvalidArgument(source + ": target_modules as a regular expression (" + it->dump() +
                             ") is not supported; list the module names instead");
    }
    for (const char* n : kModuleNames) names.push_back(n);
    return names;
  }
  if (!it->is_array()) return InvalidArgument(source + ": target_modules must be a list of names");
  for (const json& v : *it) {
    if (!v.is_string()) return InvalidArgument(source + ": target_modules must hold strings");
    std::string name = v.get<std::string>();
    // PEFT matches a name against the end of the module path: "self_attn.q_proj" is q_proj.
    const size_t dot = name.rfind('.');
    if (dot != std::string::npos) name = name.substr(dot + 1);
    if (auto why = UnsupportedModuleReason(name)) return InvalidArgument(source + ": " + *why);
    if (!ParseLoraModule(name)) {
      return InvalidArgument(source + ": unknown target module '" + v.get<std::string>() +
                             "' (supported: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                             "down_proj)");
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) return InvalidArgument(source + ": target_modules is empty");
  return names;
}

Result<LoraConfig> ParseConfig(const json& j, const std::string& source) {
  if (!j.is_object()) return InvalidArgument(source + ": must be a JSON object");
  LoraConfig c;
  auto type = j.find("peft_type");
  if (type == j.end() || !type->is_string() || type->get<std::string>() != "LORA") {
    return InvalidArgument(source + ": peft_type is " +
                           (type == j.end() ? std::string("missing") : type->dump()) +
                           ", not \"LORA\"; only LoRA adapters can be merged");
  }
  auto r = j.find("r");
  if (r == j.end() || !r->is_number_integer() || r->get<int64_t>() < 1 ||
      r->get<int64_t>() > 65536) {
    return InvalidArgument(source + ": r must be an integer in [1, 65536]");
  }
  c.r = static_cast<int>(r->get<int64_t>());
  auto alpha = j.find("lora_alpha");
  if (alpha == j.end() || !alpha->is_number()) {
    return InvalidArgument(source + ": lora_alpha must be a number");
  }
  c.lora_alpha = alpha->get<double>();
  if (auto d = j.find("lora_dropout"); d != j.end() && d->is_number()) {
    c.lora_dropout = d->get<double>();
  }
  if (auto b = j.find("base_model_name_or_path"); b != j.end() && b->is_string()) {
    c.base_model_name_or_path = b->get<std::string>();
  }
  if (auto t = j.find("task_type"); t != j.end() && t->is_string())
    c.task_type = t->get<std::string>();
  if (auto rs = j.find("use_rslora"); rs != j.end() && rs->is_boolean())
    c.use_rslora = rs->get<bool>();
  RETURN_IF_ERROR(RefuseIfSet(j, "fan_in_fan_out", source,
                              "the weights would be stored transposed (GPT-2 Conv1D); save the "
                              "adapter of a model with nn.Linear layers"));
  RETURN_IF_ERROR(RefuseIfSet(j, "use_dora", source, "DoRA needs a per-column magnitude"));
  RETURN_IF_ERROR(RefuseIfSet(j, "bias", source, "trained biases; train with bias=\"none\""));
  RETURN_IF_ERROR(RefuseIfSet(j, "lora_bias", source, "trained lora_B biases"));
  RETURN_IF_ERROR(RefuseIfSet(j, "modules_to_save", source,
                              "fully trained modules; merge with PEFT's merge_and_unload instead"));
  RETURN_IF_ERROR(RefuseIfSet(j, "rank_pattern", source, "per-module ranks; use one r"));
  RETURN_IF_ERROR(RefuseIfSet(j, "alpha_pattern", source, "per-module alphas; use one lora_alpha"));
  ASSIGN_OR_RETURN(c.target_modules, ParseTargetModules(j, source));
  return c;
}

// ---- adapter_model.safetensors ----

struct ParsedName {
  int layer = 0;
  LoraModule module = LoraModule::kQProj;
  char which = 'A';
};

// "base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}[.{adapter}].weight"
Result<ParsedName> ParseTensorName(const std::string& name, const std::string& source) {
  const std::string where = source + ": tensor '" + name + "'";
  for (const char* bad : {"embed_tokens", "lm_head"}) {
    if (name.find(bad) != std::string::npos) {
      return InvalidArgument(where + ": " + *UnsupportedModuleReason(bad));
    }
  }
  std::string_view s = name;
  const std::string_view layers = "model.layers.";
  if (s.substr(0, kPeftPrefix.size()) == kPeftPrefix) s.remove_prefix(kPeftPrefix.size());
  const std::string hint =
      " is not a LoRA tensor of a decoder projection (expected "
      "base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight and the like)";
  if (s.substr(0, layers.size()) != layers) return DataLoss(where + hint);
  s.remove_prefix(layers.size());
  ParsedName p;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), p.layer);
  if (ec != std::errc() || end == s.data() || p.layer < 0 || *end != '.') {
    return DataLoss(where + hint);
  }
  s.remove_prefix(static_cast<size_t>(end - s.data()) + 1);
  // {parent}.{module}.lora_{A|B}[.{adapter}].weight
  std::vector<std::string_view> parts;
  for (size_t pos = 0; pos <= s.size();) {
    const size_t dot = std::min(s.find('.', pos), s.size());
    parts.push_back(s.substr(pos, dot - pos));
    pos = dot + 1;
  }
  if (parts.size() != 4 && parts.size() != 5) return DataLoss(where + hint);
  const std::optional<LoraModule> m = ParseLoraModule(parts[1]);
  if (!m || parts[0] != (IsAttention(*m) ? "self_attn" : "mlp")) return DataLoss(where + hint);
  if (parts[2] != "lora_A" && parts[2] != "lora_B") return DataLoss(where + hint);
  if (parts.back() != "weight") {
    return DataLoss(where + ": only lora_A / lora_B weights are supported (no biases)");
  }
  p.module = *m;
  p.which = parts[2].back();
  return p;
}

// The tensor's values widened to F32.
Result<std::vector<float>> ToFloats(const formats::SafetensorsTensor& t, const std::string& where) {
  std::vector<float> out(static_cast<size_t>(t.n_elements));
  const uint8_t* p = t.data.data();
  switch (t.dtype) {
    case SafetensorsDtype::kF32:
      std::memcpy(out.data(), p, out.size() * sizeof(float));
      break;
    case SafetensorsDtype::kBF16:
    case SafetensorsDtype::kF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t.dtype == SafetensorsDtype::kBF16 ? kernels::BF16ToF32(h) : kernels::F16ToF32(h);
      }
      break;
    default:
      return DataLoss(where + ": element type " + std::string(SafetensorsDtypeName(t.dtype)) +
                      " is not supported (save the adapter in float32, bfloat16 or float16)");
  }
  return out;
}

struct HalfPair {
  const formats::SafetensorsTensor* a = nullptr;
  const formats::SafetensorsTensor* b = nullptr;
};

Result<LoraMatrices> MakeMatrices(int layer, LoraModule m, const HalfPair& pair, int r,
                                  const std::string& source) {
  const std::string name_a = PeftTensorName(layer, m, 'A');
  const std::string name_b = PeftTensorName(layer, m, 'B');
  if (pair.a == nullptr || pair.b == nullptr) {
    const std::string& have = pair.a ? name_a : name_b;
    const std::string& miss = pair.a ? name_b : name_a;
    return DataLoss(source + ": tensor '" + have + "' has no '" + miss +
                    "'; the adapter file is incomplete, save it again");
  }
  const auto& sa = pair.a->shape;
  const auto& sb = pair.b->shape;
  const std::string ra = std::to_string(r);
  if (sa.size() != 2 || sa[0] != static_cast<uint64_t>(r) || sa[1] == 0) {
    return DataLoss(source + ": tensor '" + pair.a->name + "' has shape " + ShapeText(sa) +
                    ", expected [r=" + ra + ", d_in]; does adapter_config.json's r match?");
  }
  if (sb.size() != 2 || sb[1] != static_cast<uint64_t>(r) || sb[0] == 0) {
    return DataLoss(source + ": tensor '" + pair.b->name + "' has shape " + ShapeText(sb) +
                    ", expected [d_out, r=" + ra + "]; does adapter_config.json's r match?");
  }
  LoraMatrices mat{.layer = layer,
                   .module = m,
                   .d_in = static_cast<int64_t>(sa[1]),
                   .d_out = static_cast<int64_t>(sb[0]),
                   .a = {},
                   .b = {}};
  ASSIGN_OR_RETURN(mat.a, ToFloats(*pair.a, source + ": tensor '" + pair.a->name + "'"));
  ASSIGN_OR_RETURN(mat.b, ToFloats(*pair.b, source + ": tensor '" + pair.b->name + "'"));
  return mat;
}

Status CheckConsistent(const LoraAdapter& adapter) {
  const LoraConfig& c = adapter.config;
  if (c.r < 1) return InvalidArgument("LoRA adapter: r must be at least 1");
  std::map<std::pair<int, LoraModule>, int> seen;
  for (const LoraMatrices& m : adapter.matrices) {
    const std::string name = PeftTensorName(m.layer, m.module, 'A');
    if (m.layer < 0 || m.d_in < 1 || m.d_out < 1) {
      return InvalidArgument("LoRA adapter: " + name + ": bad layer or shape");
    }
    if (std::find(c.target_modules.begin(), c.target_modules.end(), LoraModuleName(m.module)) ==
        c.target_modules.end()) {
      return InvalidArgument("LoRA adapter: " + name + ": module not in target_modules");
    }
    if (seen[{m.layer, m.module}]++ > 0) {
      return InvalidArgument("LoRA adapter: " + name + " appears twice");
    }
    if (m.a.size() != static_cast<size_t>(c.r * m.d_in) ||
        m.b.size() != static_cast<size_t>(m.d_out * c.r)) {
      return InvalidArgument("LoRA adapter: " + name +
                             ": A or B size disagrees with r, d_in, d_out");
    }
  }
  return Status::Ok();
}

std::vector<uint8_t> Encode(const std::vector<float>& v, SafetensorsDtype dtype) {
  if (dtype == SafetensorsDtype::kF32) {
    std::vector<uint8_t> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  }
  std::vector<uint8_t> out(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = kernels::F32ToBF16(v[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

// ---- merging ----

// 64-byte aligned, as weight_convert.cc allocates.
OwnedBytes Allocate(size_t n) {
  const size_t rounded = (n + 63) / 64 * 64;
  return OwnedBytes(static_cast<uint8_t*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded)));
}

// GGUF llama q/k rows are permuted to interleaved RoPE pairs (gguf_export.cc's HfRowOfGgufRow):
// stored row 2j of a head is HF row j, row 2j+1 is HF row j + d/2.
int64_t HfRowOfStoredRow(int64_t row, int64_t head_dim) {
  const int64_t head = row / head_dim, i = row % head_dim;
  return head * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

// W (d_out, d_in) + scale * B (d_out, r) @ A (r, d_in), into a new buffer of W's type. Each row's
// delta is accumulated over k = 0..r-1 in F32 in that order, so the bytes do not depend on threads.
Result<OwnedBytes> MergeMatrix(const Weight& w, const LoraMatrices& m, int r, float scale,
                               int64_t permute_head_dim, ThreadPool& pool) {
  const int64_t row_bytes = w.row_bytes();
  OwnedBytes out = Allocate(static_cast<size_t>(w.rows * row_bytes));
  if (out == nullptr) {
    return ResourceExhausted("cannot allocate " + std::to_string(w.rows * row_bytes) +
                             " bytes to merge the LoRA adapter into " + w.name);
  }
  uint8_t* dst = out.get();
  pool.ParallelFor(w.rows, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    std::vector<float> delta(static_cast<size_t>(w.cols));
    for (int64_t o = begin; o < end; ++o) {
      const int64_t hf_row = permute_head_dim > 0 ? HfRowOfStoredRow(o, permute_head_dim) : o;
      w.RowToFloat(o, row.data());
      std::fill(delta.begin(), delta.end(), 0.0f);
      const float* b_row = m.b.data() + hf_row * r;
      for (int k = 0; k < r; ++k) {
        const float bk = b_row[k];
        const float* a_row = m.a.data() + static_cast<int64_t>(k) * w.cols;
        for (int64_t c = 0; c < w.cols; ++c) delta[c] += bk * a_row[c];
      }
      for (int64_t c = 0; c < w.cols; ++c) row[c] += scale * delta[c];
      EncodeRow(w.type, row.data(), w.cols, dst + o * row_bytes);
    }
  });
  return out;
}

}  // namespace

std::string_view LoraModuleName(LoraModule module) {
  return kModuleNames[static_cast<int>(module)];
}

std::optional<LoraModule> ParseLoraModule(std::string_view name) {
  for (int i = 0; i < kNumLoraModules; ++i) {
    if (name == kModuleNames[i]) return static_cast<LoraModule>(i);
  }
  return std::nullopt;
}

double LoraScale(const LoraConfig& config) {
  if (config.r <= 0) return 0;
  return config.use_rslora ? config.lora_alpha / std::sqrt(static_cast<double>(config.r))
                           : config.lora_alpha / config.r;
}

std::string PeftTensorName(int layer, LoraModule module, char which) {
  std::string s = "base_model.model.model.layers.";
  s.append(std::to_string(layer)).append(IsAttention(module) ? ".self_attn." : ".mlp.");
  s.append(LoraModuleName(module)).append(".lora_").push_back(which);
  return s.append(".weight");
}

Status WritePeftAdapter(const std::string& dir, const LoraAdapter& adapter,
                        SafetensorsDtype dtype) {
  if (dtype != SafetensorsDtype::kF32 && dtype != SafetensorsDtype::kBF16) {
    return InvalidArgument("LoRA adapter: save as F32 or BF16");
  }
  RETURN_IF_ERROR(CheckConsistent(adapter));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError(dir + ": cannot create the adapter folder: " + ec.message());
  formats::SafetensorsWriter w;
  w.SetMetadata("format", "pt");  // as PEFT's safe_save_file(..., metadata={"format": "pt"})
  const int r = adapter.config.r;
  for (const LoraMatrices& m : adapter.matrices) {
    w.AddTensor(PeftTensorName(m.layer, m.module, 'A'), dtype,
                {static_cast<uint64_t>(r), static_cast<uint64_t>(m.d_in)}, Encode(m.a, dtype));
    w.AddTensor(PeftTensorName(m.layer, m.module, 'B'), dtype,
                {static_cast<uint64_t>(m.d_out), static_cast<uint64_t>(r)}, Encode(m.b, dtype));
  }
  RETURN_IF_ERROR(w.WriteToFile(dir + "/" + kWeightsFile));
  const std::string config_path = dir + "/" + kConfigFile;
  std::ofstream f(config_path, std::ios::binary | std::ios::trunc);
  f << ConfigJson(adapter.config).dump(2) << "\n";
  if (!f.flush()) return IoError(config_path + ": cannot write");
  return Status::Ok();
}

Result<LoraAdapter> ReadPeftAdapter(const std::string& dir) {
  const std::string config_path = dir + "/" + kConfigFile;
  const std::string weights_path = dir + "/" + kWeightsFile;
  if (!fs::is_directory(dir)) {
    return NotFound(dir +
                    ": LoRA adapter folder not found (it holds adapter_config.json and "
                    "adapter_model.safetensors, as PEFT's save_pretrained writes)");
  }
  if (!fs::is_regular_file(config_path)) {
    return NotFound(config_path + ": not found; is " + dir + " a PEFT adapter folder?");
  }
  if (!fs::is_regular_file(weights_path)) {
    const bool bin = fs::is_regular_file(dir + "/adapter_model.bin");
    return NotFound(weights_path + ": not found" +
                    (bin ? std::string("; adapter_model.bin (pickle) is not read: save with "
                                       "safe_serialization=True")
                         : std::string("")));
  }
  ASSIGN_OR_RETURN(json j, formats::ReadJsonFile(config_path, size_t{1} << 20));
  LoraAdapter adapter;
  ASSIGN_OR_RETURN(adapter.config, ParseConfig(j, config_path));
  ASSIGN_OR_RETURN(formats::SafetensorsFile st, formats::SafetensorsFile::Open(weights_path));
  std::map<std::pair<int, LoraModule>, HalfPair> pairs;
  for (const formats::SafetensorsTensor& t : st.tensors()) {
    ASSIGN_OR_RETURN(ParsedName p, ParseTensorName(t.name, weights_path));
    const std::string_view module = LoraModuleName(p.module);
    const auto& targets = adapter.config.target_modules;
    if (std::find(targets.begin(), targets.end(), module) == targets.end()) {
      return DataLoss(weights_path + ": tensor '" + t.name + "' adapts " + std::string(module) +
                      ", which target_modules in adapter_config.json does not list");
    }
    HalfPair& pair = pairs[{p.layer, p.module}];
    const formats::SafetensorsTensor*& slot = p.which == 'A' ? pair.a : pair.b;
    if (slot != nullptr) {
      return DataLoss(weights_path + ": tensors '" + slot->name + "' and '" + t.name +
                      "' are the same matrix; keep one adapter per file");
    }
    slot = &t;
  }
  if (pairs.empty()) return DataLoss(weights_path + ": holds no LoRA tensors");
  for (const auto& [key, pair] : pairs) {
    ASSIGN_OR_RETURN(LoraMatrices m,
                     MakeMatrices(key.first, key.second, pair, adapter.config.r, weights_path));
    adapter.matrices.push_back(std::move(m));
  }
  return adapter;
}

// Model's friend: swaps the adapted matrices for merged buffers the model owns.
class LoraMerger {
 public:
  static Result<LoraApplied> Run(Model& model, const LoraAdapter& adapter, ThreadPool& pool) {
    RETURN_IF_ERROR(CheckConsistent(adapter));
    RETURN_IF_ERROR(CheckShapes(model, adapter));
    const int r = adapter.config.r;
    const float scale = static_cast<float>(LoraScale(adapter.config));
    LoraApplied applied;
    applied.r = r;
    applied.scale = LoraScale(adapter.config);
    bool used[kNumLoraModules] = {};
    for (const LoraMatrices& m : adapter.matrices) {
      Weight& w = TargetWeight(model.weights_, m.layer, m.module);
      const bool permuted = model.rope_style_ == RopeStyle::kInterleavedPairs &&
                            (m.module == LoraModule::kQProj || m.module == LoraModule::kKProj);
      ASSIGN_OR_RETURN(OwnedBytes bytes,
                       MergeMatrix(w, m, r, scale, permuted ? model.config_.head_dim : 0, pool));
      std::vector<OwnedBytes>& owned = model.storage_->owned;
      const bool was_owned = std::any_of(owned.begin(), owned.end(),
                                         [&](const OwnedBytes& b) { return b.get() == w.data; });
      // Mapped pages of the replaced matrix can go (never an owned buffer: that would zero it).
      if (!was_owned) ReleaseMappedPages(w.data, static_cast<size_t>(w.rows * w.row_bytes()));
      w.data = bytes.get();
      owned.push_back(std::move(bytes));
      used[static_cast<int>(m.module)] = true;
      applied.n_matrices += 1;
    }
    for (int i = 0; i < kNumLoraModules; ++i) {
      if (used[i]) applied.modules.emplace_back(kModuleNames[i]);
    }
    return applied;
  }

 private:
  // Every matrix against the model, before any weight changes.
  static Status CheckShapes(Model& model, const LoraAdapter& adapter) {
    const int64_t n_layers = model.config_.num_hidden_layers;
    for (const LoraMatrices& m : adapter.matrices) {
      const std::string name = PeftTensorName(m.layer, m.module, 'A');
      const std::string hint = "; was the adapter trained on another base model (" +
                               adapter.config.base_model_name_or_path + ")?";
      if (m.layer >= n_layers) {
        return InvalidArgument("LoRA adapter: " + name + ": layer " + std::to_string(m.layer) +
                               " but " + model.path_ + " has " + std::to_string(n_layers) +
                               " layers" + hint);
      }
      const Weight& w = TargetWeight(model.weights_, m.layer, m.module);
      if (w.rows != m.d_out || w.cols != m.d_in) {
        return InvalidArgument("LoRA adapter: " + std::string(LoraModuleName(m.module)) +
                               " of layer " + std::to_string(m.layer) + " is (d_out " +
                               std::to_string(m.d_out) + ", d_in " + std::to_string(m.d_in) +
                               ") but " + model.path_ + "'s " + w.name + " is (" +
                               std::to_string(w.rows) + ", " + std::to_string(w.cols) + ")" + hint);
      }
    }
    return Status::Ok();
  }
};

Result<LoraApplied> ApplyLoraAdapter(Model& model, const LoraAdapter& adapter, ThreadPool& pool) {
  return LoraMerger::Run(model, adapter, pool);
}

}  // namespace medassist::model
