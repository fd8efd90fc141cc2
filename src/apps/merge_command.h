// The merge subcommand: a base model folder with a PEFT LoRA adapter merged into its weights,
// written as a new Hugging Face folder (and optionally a GGUF file):
//
//   medassist merge --base Qwen2.5-7B --adapter adapters/medical --out merged [--gguf m.gguf]
//
// OUT holds the merged weights in the base's stored types (lora_adapter.h: W + scale * B @ A,
// rounded once), sharded as transformers' save_pretrained does (model-00001-of-0000N.safetensors
// and model.safetensors.index.json, or one model.safetensors when everything fits in one shard),
// with config.json, generation_config.json and the tokenizer files copied. It is built under a
// temporary name beside OUT and renamed into place, so a failure leaves nothing.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/lora_adapter.h"

namespace medassist::apps {

struct MergeOptions {
  std::string base = {};     // HF folder or cached repo id (a .gguf base is refused)
  std::string adapter = {};  // PEFT adapter folder
  std::string out = {};      // must not exist, or be an empty folder
  std::string gguf = {};     // also write this GGUF file when not empty
  uint64_t max_shard_bytes = 5'000'000'000;
  int threads = 0;  // 0: DefaultThreadCount()
};

struct MergeSummary {
  model::LoraApplied applied = {};
  size_t n_shards = 0;
  uint64_t total_bytes = 0;  // tensor data, as index.json's metadata.total_size
};

// "5GB" -> 5e9, "500MB", "10KB", "2GiB" -> 2 * 2^30, "123" -> 123 bytes (transformers'
// convert_file_size_to_int); InvalidArgument otherwise.
Result<uint64_t> ParseShardSize(std::string_view text);

// Everything merge does; errors name the file and hint the fix.
Result<MergeSummary> MergeAdapterFolder(const MergeOptions& options);

// Registers merge on app; its callback sets *exit_code (0 on success, 1 on error).
void AddMergeCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
