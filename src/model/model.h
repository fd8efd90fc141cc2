// A loaded model: its configuration, how its RoPE pairs dimensions, and views of its weights into
// the memory-mapped files, which the Model keeps open.
//
//   ASSIGN_OR_RETURN(Model model, Model::Open("path/to/folder-or-file.gguf"));
//
// Sources: a Hugging Face folder (config.json, model.safetensors or a sharded index;
// generation_config.json when present) or a GGUF v2/v3 file with a `llama` or `qwen2`
// architecture. Every tensor is checked against the configuration before anything runs: a missing
// tensor, a shape that disagrees with config.json or the GGUF metadata, an unsupported element type
// (quantised GGUF types until the kernels issue) are refused with the file and the tensor named.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "formats/hf_config.h"
#include "model/weights.h"

namespace medassist::formats {
class GgufFile;
}

namespace medassist::model {

// How RoPE pairs the dimensions of a head.
enum class RopeStyle {
  kRotateHalf,        // pairs (i, i + head_dim/2): Hugging Face Llama/Qwen2, GGUF qwen2
  kInterleavedPairs,  // pairs (2i, 2i+1): GGUF llama (q/k rows permuted by the converter)
};

enum class ModelFormat { kHfSafetensors, kGguf };

class Model {
 public:
  // path: a Hugging Face model folder or a .gguf file (see model_path.h for repo ids).
  static Result<Model> Open(const std::string& path);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const formats::ModelConfig& config() const { return config_; }
  // generation_config.json of a folder (all fields unset when absent, and for GGUF files).
  const formats::GenerationConfig& generation_config() const { return generation_config_; }
  const ModelWeights& weights() const { return weights_; }
  RopeStyle rope_style() const { return rope_style_; }
  ModelFormat format() const { return format_; }
  // The folder or file it was opened from.
  const std::string& path() const { return path_; }
  // The GGUF file when the model came from one (its tokenizer metadata), else nullptr.
  const formats::GgufFile* gguf() const;

 private:
  Model();
  struct Storage;  // the open files the weights point into
  friend Result<Model> OpenHfFolder(const std::string& dir);
  friend Result<Model> OpenGguf(const std::string& path);
  friend class WeightConverter;  // quantize on load (weight_convert.h) swaps in owned weights
  friend class LoraMerger;       // LoRA merge (lora_adapter.h) swaps in owned weights

  std::unique_ptr<Storage> storage_;
  formats::ModelConfig config_;
  formats::GenerationConfig generation_config_;
  ModelWeights weights_;
  RopeStyle rope_style_ = RopeStyle::kRotateHalf;
  ModelFormat format_ = ModelFormat::kHfSafetensors;
  std::string path_;
};

}  // namespace medassist::model
