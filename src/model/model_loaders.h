// Internal to the model layer: what the two file loaders (model_hf.cc, model_gguf.cc) share.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf_reader.h"
#include "formats/hf_config.h"
#include "formats/safetensors_model.h"
#include "model/model.h"
#include "model/weights.h"

namespace medassist::model {

// A buffer from std::aligned_alloc.
struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using OwnedBytes = std::unique_ptr<uint8_t, FreeDeleter>;

// The open files a Model's weight views point into, and the buffers of weights converted on load
// (weight_convert.h), 64-byte aligned.
struct Model::Storage {
  std::optional<formats::SafetensorsModel> safetensors;
  std::optional<formats::GgufFile> gguf;
  std::vector<OwnedBytes> owned;
};

// The field of weights that the layout tensor hf_name fills ("model.layers.3.mlp.up_proj.weight");
// CHECKs that the name is one of the layout's.
Weight* FieldFor(ModelWeights& weights, const std::string& hf_name);

// Finds the tensor that Hugging Face calls hf_name, or NotFound / DataLoss (wrong type) naming the
// file. The shape is checked by the caller.
using TensorLookup = std::function<Result<Weight>(const std::string& hf_name)>;

// Binds every tensor of the config's HF layout (weight_layout.h) through lookup, checking each
// shape against the config: a missing tensor or a disagreeing shape is DataLoss naming source.
Result<ModelWeights> BindModelWeights(const formats::ModelConfig& config,
                                      const TensorLookup& lookup, const std::string& source);

Result<Model> OpenHfFolder(const std::string& dir);
Result<Model> OpenGguf(const std::string& path);

}  // namespace medassist::model
