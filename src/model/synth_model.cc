#include "model/synth_model.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/file.h"
#include "model/synth_weights.h"
#include "model/weight_layout.h"

namespace medassist::model {
namespace {

namespace fs = std::filesystem;

// mkdtemp makes rwx------; the finished model folder is rwxr-xr-x like any other.
constexpr fs::perms kDirMode = fs::perms::owner_all | fs::perms::group_read |
                               fs::perms::group_exec | fs::perms::others_read |
                               fs::perms::others_exec;

constexpr const char* kTokenizerFiles[] = {"vocab.json", "merges.txt", "tokenizer_config.json"};

// Fills the temporary folder tmp with every file of the model folder.
Result<SynthModelSummary> FillFolder(const SynthModelOptions& o, const formats::ModelConfig& config,
                                     const std::string& generation_config, const std::string& tmp) {
  RETURN_IF_ERROR(CopyFileInto(o.config_path, tmp, "config.json"));
  if (!generation_config.empty()) {
    RETURN_IF_ERROR(CopyFileInto(generation_config, tmp, "generation_config.json"));
  }
  for (const char* name : kTokenizerFiles) {
    RETURN_IF_ERROR(CopyFileInto(o.tokenizer_dir + "/" + name, tmp, name));
  }
  const std::vector<WeightSpec> layout = HfWeightLayout(config);
  SynthModelSummary summary{config, layout.size(), formats::CountParameters(config), 0};
  ASSIGN_OR_RETURN(summary.weight_bytes,
                   WriteSynthSafetensors(tmp + "/model.safetensors", layout, o.dtype, o.seed));
  return summary;
}

}  // namespace

Result<formats::SafetensorsDtype> ParseSynthDtype(std::string_view name) {
  if (name == "bf16") return formats::SafetensorsDtype::kBF16;
  if (name == "f32") return formats::SafetensorsDtype::kF32;
  return InvalidArgument("unknown dtype '" + std::string(name) + "' (use bf16 or f32)");
}

Result<SynthModelSummary> SynthModelFolder(const SynthModelOptions& o) {
  ASSIGN_OR_RETURN(const formats::ModelConfig config, formats::ReadModelConfig(o.config_path));
  std::string generation_config =
      (fs::path(o.config_path).parent_path() / "generation_config.json").string();
  if (fs::exists(generation_config)) {
    RETURN_IF_ERROR(formats::ReadGenerationConfig(generation_config).status());
  } else {
    generation_config.clear();
  }
  for (const char* name : kTokenizerFiles) {
    const std::string path = o.tokenizer_dir + "/" + name;
    if (!fs::is_regular_file(path)) return NotFound(path + ": tokenizer file not found");
  }
  std::string out = o.out_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) return InvalidArgument("no output folder given");
  RETURN_IF_ERROR(CheckNewOutputFolder(out));

  // Build beside out (same file system, so the final rename is atomic), then rename into place.
  const fs::path out_path(out);
  fs::path parent = out_path.parent_path();
  if (parent.empty()) parent = ".";
  // Hidden name ".OUT.tmp-XXXXXX". (Built with append: GCC 12 misreports -Wrestrict for a + chain.)
  std::string tmp = parent.string();
  tmp.append("/.").append(out_path.filename().string()).append(".tmp-XXXXXX");
  if (::mkdtemp(tmp.data()) == nullptr) {
    return IoError(out + ": cannot create a folder in " + parent.string() + ": " +
                   std::strerror(errno));
  }
  Result<SynthModelSummary> summary = FillFolder(o, config, generation_config, tmp);
  std::error_code ec;
  if (summary.ok()) {
    fs::permissions(tmp, kDirMode, ec);
    fs::remove(out, ec);  // an empty folder that CheckNewOutputFolder accepted, or nothing
    fs::rename(tmp, out, ec);
    if (ec) summary = IoError(out + ": cannot rename " + tmp + " into place: " + ec.message());
  }
  if (!summary.ok()) fs::remove_all(tmp, ec);
  return summary;
}

}  // namespace medassist::model
