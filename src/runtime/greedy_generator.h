// Greedy generation of one sequence on the reference forward pass, shaped the way the scheduler
// will work: the generator owns a paged KV cache sized for its context and one block table,
// prefills the prompt as batch rows in chunks (logits only on the last row), then runs one row per
// decode step. Nothing is allocated inside a decode step.
//
//   ASSIGN_OR_RETURN(GreedyGenerator gen, GreedyGenerator::Create(model, 2048));
//   ASSIGN_OR_RETURN(GenerateResult r, gen.Generate(prompt_ids, {.max_new_tokens = 64}));
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace medassist::runtime {

// Why generation stopped. None of these is an error (DESIGN §7: capacity outcomes are typed).
enum class FinishReason {
  kEos,        // the model produced an end-of-sequence id (not included in the ids)
  kLength,     // max_new_tokens were generated
  kContext,    // prompt + generated tokens filled the context
  kCancelled,  // the cancel flag was set, or the token callback returned false
  kError,      // the engine failed a step (a bug or a broken model file); see its log
  kStop,       // a stop string completed (TextStream); OpenAI's finish_reason "stop", as kEos
};

// "eos", "length", "context", "cancelled", "error", "stop".
const char* FinishReasonName(FinishReason reason);

struct GenerateOptions {
  int32_t max_new_tokens = 256;
  // Ids that end the sequence (tokenizer and config EOS ids); empty: never stop on a token.
  std::vector<int32_t> eos_ids = {};
  // Checked between steps (e.g. set by a SIGINT handler); may be nullptr.
  const std::atomic<bool>* cancel = nullptr;
  // Called with each new id as soon as it is chosen; returning false stops with kCancelled.
  std::function<bool(int32_t)> on_token = {};
};

struct GenerateResult {
  std::vector<int32_t> ids;  // the generated ids, without the prompt and without the EOS id
  FinishReason finish = FinishReason::kLength;
};

class GreedyGenerator {
 public:
  // context: the most tokens (prompt + generated) one Generate call may hold; capped at the
  // model's max_position_embeddings. forward runs the model (the fast path, or the reference);
  // nullptr: ForwardReference. The model and forward must outlive the generator and stay where
  // they are (they are held by address).
  static Result<GreedyGenerator> Create(const model::Model& model, int32_t context,
                                        model::Forward* forward = nullptr);

  int32_t context() const { return context_; }

  // Greedy decoding (argmax, ties to the lowest id) after prompt. Each call starts a fresh
  // sequence at position 0: a chat continues a conversation by passing the whole conversation
  // again and re-prefilling it (simple and correct; keeping the KV of earlier turns is the
  // scheduler's job later). InvalidArgument for an empty prompt or one longer than the context.
  Result<GenerateResult> Generate(std::span<const int32_t> prompt, const GenerateOptions& options);

 private:
  GreedyGenerator(const model::Model& model, model::Forward* forward, model::KvCache kv,
                  int32_t context);
  Status Run(std::span<float> logits);
  // Runs prompt through the model in chunks; leaves the last row's logits in logits_.
  Status Prefill(std::span<const int32_t> prompt);
  // One decode row: token at pos; leaves its logits in logits_.
  Status DecodeStep(int32_t token, int32_t pos);

  const model::Model* model_;
  model::Forward* forward_;  // nullptr: ForwardReference
  model::KvCache kv_;
  int32_t context_;
  model::Batch batch_;         // one sequence; block_tables[0] lists every block of kv_
  std::vector<float> logits_;  // vocab_size floats: the logits of the last computed row
};

// Index of the largest value, the lowest index among equals (reproducible greedy decoding).
int32_t Argmax(std::span<const float> logits);

}  // namespace medassist::runtime
