// What the generate and chat commands share: loading a model with its tokenizer and reporting
// failures, sizing the generator, and streaming one reply to stdout with a summary on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/forward.h"
#include "runtime/greedy_generator.h"
#include "runtime/loaded_model.h"
#include "tokenizer/tokenizer.h"

namespace medassist::apps {

// Loads model_spec (folder, .gguf or cached repo id) and its tokenizer; on failure prints
// "error: ..." to stderr and returns nullopt. Logs what was loaded and how long it took.
std::optional<runtime::LoadedModel> LoadModelOrReport(const std::string& model_spec,
                                                      const std::string& tokenizer_path);

// How the model is computed: --threads, --reference, --dtype and --lora.
struct ComputeArgs {
  int threads = 0;  // 0: DefaultThreadCount()
  bool reference = false;
  std::string dtype = "keep";  // model::ParseWeightMix; checked when the command line is parsed
  std::string lora;            // PEFT adapter folder merged after loading; "" = none
};
void AddComputeOptions(CLI::App& cmd, ComputeArgs& args);
// Adds --dtype alone (commands without the other compute options: logits).
void AddDtypeOption(CLI::App& cmd, std::string& dtype);
// Adds --lora alone (commands that add --dtype alone; AddComputeOptions adds it too).
void AddLoraOption(CLI::App& cmd, std::string& lora);

// --lora (model/lora_adapter.h): reads the PEFT adapter folder and merges it into m's weights on
// a pool of threads, logging the modules, r and scale. Nothing to do when lora is empty. On
// failure prints "error: ..." to stderr and returns false.
bool ApplyLoraOrReport(model::Model& m, const std::string& lora, int threads);
// What a command does between loading and computing: --lora, then --dtype (an adapter is merged
// into the stored weights before they are converted).
bool PrepareWeightsOrReport(model::Model& m, const ComputeArgs& args);

// Quantize on load (model/weight_convert.h): converts m's weight matrices to dtype on a pool of
// threads (0: one per physical core) and logs what changed and how long it took. On failure
// prints "error: ..." to stderr and returns false.
bool ConvertWeightsOrReport(model::Model& m, const std::string& dtype, int threads);

// The thread pool and forward pass for a model (which must outlive them).
struct Compute {
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<model::Forward> forward;
};
Compute MakeCompute(const model::Model& model, const ComputeArgs& args);

// A generator for m whose context is min(context, the model's max_position_embeddings), running
// on forward; on failure prints the error and returns nullopt. m and forward must outlive it.
std::optional<runtime::GreedyGenerator> CreateGeneratorOrReport(const runtime::LoadedModel& m,
                                                                int64_t context,
                                                                model::Forward* forward);

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
