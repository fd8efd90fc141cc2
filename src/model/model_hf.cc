// Hugging Face model folders: config.json, generation_config.json (optional) and safetensors
// weights (single file or sharded), bound as views into the mapped files.
#include <filesystem>

#include "core/log.h"
#include "formats/safetensors_model.h"
#include "model/model_loaders.h"

namespace medassist::model {
namespace {

Result<WeightType> WeightTypeOf(const formats::SafetensorsTensor& t, const std::string& dir) {
  switch (t.dtype) {
    case formats::SafetensorsDtype::kF32:
      return WeightType::kF32;
    case formats::SafetensorsDtype::kF16:
      return WeightType::kF16;
    case formats::SafetensorsDtype::kBF16:
      return WeightType::kBF16;
    default:
      return Unimplemented(dir + ": tensor '" + t.name + "' has dtype " +
                           std::string(formats::SafetensorsDtypeName(t.dtype)) +
                           "; weights must be F32, F16 or BF16");
  }
}

// A safetensors tensor as a Weight: 1-D tensors are (1, n), 2-D (rows, cols). Other ranks are
// refused here; the caller checks the sizes against the config.
Result<Weight> ToWeight(const formats::SafetensorsTensor& t, const std::string& dir) {
  ASSIGN_OR_RETURN(WeightType type, WeightTypeOf(t, dir));
  Weight w;
  w.name = t.name;
  w.type = type;
  if (t.shape.size() == 1) {
    w.rows = 1;
    w.cols = static_cast<int64_t>(t.shape[0]);
  } else if (t.shape.size() == 2) {
    w.rows = static_cast<int64_t>(t.shape[0]);
    w.cols = static_cast<int64_t>(t.shape[1]);
  } else {
    return DataLoss(dir + ": tensor '" + t.name + "' has " + std::to_string(t.shape.size()) +
                    " dimensions; model weights have 1 or 2");
  }
  w.data = t.data.data();
  return w;
}

}  // namespace

Result<Model> OpenHfFolder(const std::string& dir) {
  const std::filesystem::path folder(dir);
  const std::string config_path = (folder / "config.json").string();
  if (!std::filesystem::exists(config_path)) {
    return NotFound(dir + ": no config.json; a model folder holds config.json and *.safetensors");
  }
  Model model;
  model.path_ = dir;
  model.format_ = ModelFormat::kHfSafetensors;
  model.rope_style_ = RopeStyle::kRotateHalf;
  ASSIGN_OR_RETURN(model.config_, formats::ReadModelConfig(config_path));
  const std::string generation_path = (folder / "generation_config.json").string();
  if (std::filesystem::exists(generation_path)) {
    ASSIGN_OR_RETURN(model.generation_config_, formats::ReadGenerationConfig(generation_path));
  }
  ASSIGN_OR_RETURN(formats::SafetensorsModel files, formats::SafetensorsModel::OpenFolder(dir));
  model.storage_->safetensors.emplace(std::move(files));
  const formats::SafetensorsModel& st = *model.storage_->safetensors;
  const TensorLookup lookup = [&](const std::string& name) -> Result<Weight> {
    const formats::SafetensorsTensor* t = st.Find(name);
    if (t == nullptr) {
      return DataLoss(dir + ": tensor '" + name + "' is missing from the safetensors files");
    }
    return ToWeight(*t, dir);
  };
  ASSIGN_OR_RETURN(model.weights_, BindModelWeights(model.config_, lookup, dir));
  return model;
}

}  // namespace medassist::model
