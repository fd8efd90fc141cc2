#include "model/model.h"

#include <filesystem>
#include <optional>

#include "formats/gguf_reader.h"
#include "formats/safetensors_model.h"
#include "model/model_loaders.h"
#include "model/weight_layout.h"

namespace medassist::model {

Model::Model() : storage_(std::make_unique<Storage>()) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const formats::GgufFile* Model::gguf() const { return storage_->gguf ? &*storage_->gguf : nullptr; }

Result<Model> Model::Open(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return OpenHfFolder(path);
  if (std::filesystem::is_regular_file(path, ec)) {
    if (path.ends_with(".gguf")) return OpenGguf(path);
    return InvalidArgument(path +
                           ": not a model; pass a Hugging Face model folder or a .gguf file");
  }
  return NotFound(path + ": no such file or folder");
}

namespace {

std::string ShapeString(int64_t rows, int64_t cols, bool vector) {
  std::string out = "[";
  if (!vector) out.append(std::to_string(rows)).append(", ");
  out.append(std::to_string(cols)).append("]");
  return out;
}

// Looks up one tensor of the layout and checks its shape: vectors (1-D in the layout) must have
// rows == 1 and cols == the length.
Result<Weight> BindOne(const WeightSpec& spec, const TensorLookup& lookup,
                       const std::string& source) {
  Result<Weight> found = lookup(spec.name);
  if (!found.ok()) return found.status();
  Weight w = std::move(found.value());
  const bool vector = spec.shape.size() == 1;
  const int64_t want_rows = vector ? 1 : static_cast<int64_t>(spec.shape[0]);
  const int64_t want_cols = static_cast<int64_t>(vector ? spec.shape[0] : spec.shape[1]);
  if (w.rows != want_rows || w.cols != want_cols) {
    return DataLoss(source + ": tensor '" + w.name + "' has shape " +
                    ShapeString(w.rows, w.cols, w.rows == 1 && vector) +
                    " but the model's configuration needs " +
                    ShapeString(want_rows, want_cols, vector));
  }
  return w;
}

}  // namespace

Weight* FieldFor(ModelWeights& weights, const std::string& name) {
  if (name == "model.embed_tokens.weight") return &weights.token_embedding;
  if (name == "model.norm.weight") return &weights.final_norm;
  if (name == "lm_head.weight") return &weights.output;
  constexpr std::string_view kPrefix = "model.layers.";
  const size_t dot = name.find('.', kPrefix.size());
  const size_t layer = std::stoul(name.substr(kPrefix.size(), dot - kPrefix.size()));
  LayerWeights& l = weights.layers.at(layer);
  const std::string_view param = std::string_view(name).substr(dot + 1);
  const std::pair<std::string_view, Weight*> table[] = {
      {"input_layernorm.weight", &l.attn_norm}, {"self_attn.q_proj.weight", &l.wq},
      {"self_attn.q_proj.bias", &l.bq},         {"self_attn.k_proj.weight", &l.wk},
      {"self_attn.k_proj.bias", &l.bk},         {"self_attn.v_proj.weight", &l.wv},
      {"self_attn.v_proj.bias", &l.bv},         {"self_attn.o_proj.weight", &l.wo},
      {"self_attn.o_proj.bias", &l.bo},         {"post_attention_layernorm.weight", &l.ffn_norm},
      {"mlp.gate_proj.weight", &l.w_gate},      {"mlp.gate_proj.bias", &l.b_gate},
      {"mlp.up_proj.weight", &l.w_up},          {"mlp.up_proj.bias", &l.b_up},
      {"mlp.down_proj.weight", &l.w_down},      {"mlp.down_proj.bias", &l.b_down},
  };
  for (const auto& [key, field] : table) {
    if (param == key) return field;
  }
  CHECK(false) << "weight layout name without a field: " << name;
  return nullptr;
}

const Weight& WeightByHfName(const ModelWeights& weights, const std::string& hf_name) {
  return *FieldFor(const_cast<ModelWeights&>(weights), hf_name);
}

Result<ModelWeights> BindModelWeights(const formats::ModelConfig& config,
                                      const TensorLookup& lookup, const std::string& source) {
  ModelWeights weights;
  weights.layers.resize(static_cast<size_t>(config.num_hidden_layers));
  for (const WeightSpec& spec : HfWeightLayout(config)) {
    ASSIGN_OR_RETURN(Weight w, BindOne(spec, lookup, source));
    *FieldFor(weights, spec.name) = std::move(w);
  }
  if (config.tie_word_embeddings) weights.output = weights.token_embedding;
  return weights;
}

}  // namespace medassist::model
