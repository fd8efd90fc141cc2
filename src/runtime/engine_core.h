// The scheduler and its step, without threads (the engine thread drives it; tests drive it
// directly). Continuous batching: requests wait in a queue, are admitted between steps when their
// KV blocks are free, and every step runs one forward pass over a batch that mixes the decode
// token of each running sequence with chunks of the prompts being prefilled, so each step reads
// the weights once for all of them. The model's batch invariance (DESIGN §2b) and one sampler per
// sequence make a request's tokens the same whatever runs beside it.
//
//   ASSIGN_OR_RETURN(EngineCore core, EngineCore::Create(model, &forward, {.n_kv_blocks = 256}));
//   ASSIGN_OR_RETURN(int64_t id, core.Add({.prompt = ids, .max_new_tokens = 64}));
//   std::vector<TokenEvent> events;
//   while (!core.idle()) { events.clear(); RETURN_IF_ERROR(core.Step(&events)); ... }
//
// Memory: at admission a sequence gets the blocks of its prompt, and then the blocks of its output
// as it grows; when none are left (after evicting what only the prefix cache holds), the newest
// running sequence is preempted: its blocks go back and it waits first in the queue, to be
// recomputed (largely from the prefix cache) when there is room, with the same tokens as if it had
// never stopped. A request waits, in arrival order, until its prompt fits; one that could not fit
// the whole cache even alone (prompt + max_new_tokens, capped at the context) is refused at Add.
// The prefix cache (prefix_cache.h) lends a new request the blocks of a prefix computed before (its
// prompt's full blocks, but never the one holding its last token, which must run to give logits);
// blocks only the cache holds are evicted, least recently used first, when an admission needs room.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "runtime/greedy_generator.h"  // FinishReason
#include "runtime/kv_block_pool.h"
#include "runtime/prefix_cache.h"
#include "runtime/sampler.h"

namespace medassist::runtime {

struct EngineConfig {
  int32_t n_kv_blocks = 0;         // KV cache blocks (of model::kDefaultKvBlockSize positions)
  int32_t context = 2048;          // most tokens one sequence holds (prompt + generated)
  int32_t max_batch_tokens = 256;  // rows per forward step: decode rows first, then prompt chunks
  int32_t max_running = 16;        // sequences admitted at once
  bool prefix_cache = true;        // reuse the KV blocks of earlier requests' common prefixes
  model::KvType kv_type = model::KvType::kF32;  // F16 halves the cache (serve and bench use it)
};

struct GenerationRequest {
  std::vector<int32_t> prompt = {};
  SamplingParams sampling = {};
  int32_t max_new_tokens = 256;
  std::vector<int32_t> eos_ids = {};  // generating one ends the sequence (not reported as a token)
  // >= 0: report the logprob of every prompt token after the first (given the ones before it)
  // with this many alternatives, as OpenAI's legacy echo + logprobs does; the prompt is then
  // computed in full (no prefix-cache reuse). -1: off.
  int32_t prompt_logprobs = -1;
};

// What one step did for one request: a new token, and/or the end.
struct TokenEvent {
  int64_t id = 0;
  bool has_token = false;
  SampledToken token = {};
  bool finished = false;
  FinishReason reason = FinishReason::kLength;
  // Prompt logprobs (GenerationRequest::prompt_logprobs), in prompt order, as the prompt is read;
  // the first prompt token has none and is not listed.
  std::vector<SampledToken> prompt_tokens = {};
  // On the finishing event: the request's token counts (OpenAI's usage).
  int32_t n_prompt_tokens = 0;
  int32_t n_generated_tokens = 0;
};

struct EngineStats {
  int32_t waiting = 0, running = 0;
  int32_t kv_blocks_used = 0, kv_blocks_free = 0;
  int32_t prefix_cache_blocks = 0;     // blocks the prefix cache holds (some also in use)
  int64_t prefix_hit_blocks = 0;       // prompt blocks found in the cache, since the start
  int64_t prefix_lookup_blocks = 0;    // prompt blocks looked up, since the start
  int64_t prompt_tokens = 0;           // of admitted requests, since the start
  int64_t prompt_tokens_computed = 0;  // of those, run through the model (the rest reused)
  int64_t generated_tokens = 0;        // since the start
  int64_t preemptions = 0;             // sequences sent back to the queue to free KV blocks
};

// The number of KV blocks a memory budget holds for this model (keys and values of every layer
// in kv_type, kDefaultKvBlockSize positions a block); at least 0.
int32_t KvBlocksForBudget(const formats::ModelConfig& config, int64_t budget_bytes,
                          model::KvType kv_type = model::KvType::kF32);

class EngineCore {
 public:
  // forward: the fast path; nullptr runs ForwardReference. model and forward must outlive the
  // engine. InvalidArgument for a configuration that cannot run a single token.
  static Result<EngineCore> Create(const model::Model& model, model::Forward* forward,
                                   const EngineConfig& config);
  EngineCore(EngineCore&&) noexcept;
  EngineCore& operator=(EngineCore&&) noexcept;
  ~EngineCore();

  // Queues a request; returns its id. InvalidArgument for an empty prompt, token ids outside the
  // vocabulary, bad sampling parameters or a prompt that fills the context; ResourceExhausted for
  // one that needs more KV blocks than the whole cache has.
  Result<int64_t> Add(GenerationRequest request);
  // Ends a waiting or running request at the next step (a kCancelled event); unknown ids are
  // ignored (it may have finished already).
  void Cancel(int64_t id);
  // One step: cancellations, admissions, one forward pass, one sampled token per sequence whose
  // logits it computed. Appends this step's events.
  Status Step(std::vector<TokenEvent>* events);

  bool idle() const { return waiting_.empty() && running_.empty(); }
  EngineStats stats() const;

 private:
  struct Sequence;
  EngineCore(const model::Model& model, model::Forward* forward, const EngineConfig& config,
             model::KvCache kv);
  int32_t BlocksFor(const GenerationRequest& r) const;
  int32_t BlocksForPositions(int64_t positions) const;
  void ReserveBlocks();
  void Preempt(Sequence& s);
  void Finish(Sequence& s, FinishReason reason, std::vector<TokenEvent>* events);
  void Admit();
  // Offers the sequence's newly completed blocks to the prefix cache.
  void OfferBlocks(Sequence& s);
  void BuildBatch();
  void SampleAndAdvance(std::vector<TokenEvent>* events);
  Status RunForward();

  const model::Model* model_;
  model::Forward* forward_;
  EngineConfig config_;
  model::KvCache kv_;
  KvBlockPool pool_;
  PrefixCache prefix_cache_;
  int64_t next_id_ = 0;
  int64_t prompt_tokens_ = 0, prompt_tokens_computed_ = 0, generated_tokens_ = 0;
  int64_t prefix_hit_blocks_ = 0, prefix_lookup_blocks_ = 0, preemptions_ = 0;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  // The step being built: the batch, which running sequences it feeds and how many rows each.
  model::Batch batch_;
  struct Fed {
    Sequence* seq;
    int32_t n_rows;
    bool logits;       // the last row's logits are sampled
    bool prompt_rows;  // every row has logits (prompt logprobs)
  };
  void EmitPromptLogprobs(const Fed& f, int64_t first_logit_row, std::vector<TokenEvent>* events);
  std::vector<int32_t> logprob_scratch_;
  std::vector<Fed> fed_;
  std::vector<float> logits_;
};

}  // namespace medassist::runtime
