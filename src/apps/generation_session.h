// What the generate and chat commands share: loading a model with its tokenizer and reporting
// failures, sizing the generator, and streaming one reply to stdout with a summary on stderr.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/status.h"
#include "runtime/greedy_generator.h"
#include "runtime/loaded_model.h"
#include "tokenizer/tokenizer.h"

namespace medassist::apps {

// Loads model_spec (folder, .gguf or cached repo id) and its tokenizer; on failure prints
// "error: ..." to stderr and returns nullopt. Logs what was loaded and how long it took.
std::optional<runtime::LoadedModel> LoadModelOrReport(const std::string& model_spec,
                                                      const std::string& tokenizer_path);

// A generator for m whose context is min(context, the model's max_position_embeddings); on
// failure prints the error and returns nullopt. m must outlive it.
std::optional<runtime::GreedyGenerator> CreateGeneratorOrReport(const runtime::LoadedModel& m,
                                                                int64_t context);

struct StreamSettings {
  int32_t max_new_tokens = 256;
  const std::atomic<bool>* cancel = nullptr;
  // True when the reply continues the prompt's text (generate without --chat): a SentencePiece
  // continuation keeps its leading space then. False for a chat reply, a text of its own.
  bool continues_prompt = false;
};

struct StreamedReply {
  runtime::GenerateResult result;
  std::string text;  // what was written to stdout (before the final newline)
};

// Generates after prompt, writing the text of each token to stdout as it arrives (never a broken
// UTF-8 character; flushed per token) and a newline at the end, then logs the prompt and generated
// token counts, tokens/s and the finish reason.
Result<StreamedReply> GenerateAndStream(runtime::GreedyGenerator& gen,
                                        const runtime::LoadedModel& m,
                                        std::span<const tokenizer::TokenId> prompt,
                                        const StreamSettings& settings);

}  // namespace medassist::apps
