// synth-model: a Hugging Face model folder with random weights of a config's exact shapes, so that
// tests and benchmarks get real Qwen2.5 shapes without downloads:
//
//   OUT/config.json              the input config, copied byte for byte
//   OUT/generation_config.json   copied when one sits beside the input config
//   OUT/vocab.json, merges.txt, tokenizer_config.json   copied from tokenizer_dir
//   OUT/model.safetensors        every tensor of HfWeightLayout (synth_weights.h), one file
//
// One file even for models past the ~4 GB at which HF tooling shards: safetensors has no size
// limit, and the reader maps it whole. The folder is built beside OUT under a temporary name and
// renamed into place at the end, so a failure never leaves a partial OUT behind.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "formats/hf_config.h"
#include "formats/safetensors_types.h"

namespace medassist::model {

struct SynthModelOptions {
  std::string config_path;    // config.json of a Qwen2 / Llama checkpoint
  std::string out_dir;        // must not exist, or be an empty folder
  std::string tokenizer_dir;  // holds vocab.json, merges.txt, tokenizer_config.json
  formats::SafetensorsDtype dtype = formats::SafetensorsDtype::kBF16;  // kBF16 or kF32
  uint64_t seed = 0;
};

struct SynthModelSummary {
  formats::ModelConfig config;
  size_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t weight_bytes = 0;  // size of model.safetensors
};

// "bf16" -> kBF16, "f32" -> kF32; anything else is InvalidArgument.
Result<formats::SafetensorsDtype> ParseSynthDtype(std::string_view name);

// Builds the folder. Errors: the config parser's Status for a missing or invalid config (or
// generation_config.json), InvalidArgument when out_dir exists and is not an empty folder,
// NotFound for a missing tokenizer file, IoError when the folder cannot be written.
Result<SynthModelSummary> SynthModelFolder(const SynthModelOptions& options);

}  // namespace medassist::model
