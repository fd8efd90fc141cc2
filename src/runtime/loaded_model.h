// A model opened with the tokenizer that belongs to it, and the ids that end its sequences.
//
//   ASSIGN_OR_RETURN(LoadedModel m, LoadModelWithTokenizer("Qwen/Qwen2.5-0.5B-Instruct", ""));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace medassist::runtime {

struct LoadedModel {
  model::Model model;
  tokenizer::Tokenizer tokenizer;
  // Sorted, unique: generation_config.json eos_token_id, config.json eos_token_id and the
  // tokenizer's EOS, keeping only ids inside the model's vocabulary.
  std::vector<int32_t> eos_ids;
};

// model_spec: a folder, a .gguf file or a Hugging Face repo id in the local cache (model_path.h).
// tokenizer_path: a tokenizer folder, tokenizer.json or .gguf file; "" takes it from the model (its
// folder's tokenizer.json or vocab.json + merges.txt, or the .gguf file's metadata). Refuses a
// model folder without tokenizer files (NotFound, suggesting --tokenizer) and a tokenizer with
// more tokens than the model's embedding has rows (InvalidArgument: they do not belong together).
Result<LoadedModel> LoadModelWithTokenizer(const std::string& model_spec,
                                           const std::string& tokenizer_path);

}  // namespace medassist::runtime
