#include "runtime/engine_core.h"

#include <algorithm>
#include <limits>
#include <string>

#include "model/forward_reference.h"

namespace medassist::runtime {

// Most prompt rows with logits one sequence feeds per step when it asks for prompt logprobs.
constexpr int32_t kMaxPromptLogprobRows = 32;

struct EngineCore::Sequence {
  int64_t id = 0;
  GenerationRequest request;
  Sampler sampler;
  std::vector<int32_t> tokens = {};  // prompt, then generated
  int32_t n_computed = 0;            // positions whose K and V are in the cache
  int32_t n_generated = 0;
  std::vector<int32_t> blocks = {};
  uint64_t chain_key = PrefixCache::kRoot;  // prefix-cache key after block n_offered - 1
  int32_t n_offered = 0;                    // leading blocks the prefix cache has seen
  int32_t prompt_logprobs_next = 1;         // index of the next prompt token whose logprob is due
  bool admitted_before = false;             // preempted once: its prompt was counted already
  bool cancelled = false;
  bool done = false;  // finished: its blocks are back in the pool
};

int32_t KvBlocksForBudget(const formats::ModelConfig& config, int64_t budget_bytes,
                          model::KvType kv_type) {
  const int64_t block_bytes =
      model::KvCacheShape::ForModel(config, 1, model::kDefaultKvBlockSize, kv_type).block_bytes();
  if (budget_bytes <= 0 || block_bytes <= 0) return 0;
  return static_cast<int32_t>(
      std::min<int64_t>(budget_bytes / block_bytes, std::numeric_limits<int32_t>::max()));
}

Result<EngineCore> EngineCore::Create(const model::Model& model, model::Forward* forward,
                                      const EngineConfig& config) {
  if (config.n_kv_blocks <= 0 || config.context <= 0 || config.max_batch_tokens <= 0 ||
      config.max_running <= 0) {
    return InvalidArgument(
        "engine: n_kv_blocks, context, max_batch_tokens and max_running must all be positive");
  }
  EngineConfig c = config;
  c.context =
      static_cast<int32_t>(std::min<int64_t>(c.context, model.config().max_position_embeddings));
  ASSIGN_OR_RETURN(model::KvCache kv,
                   model::KvCache::Create(model::KvCacheShape::ForModel(
                       model.config(), c.n_kv_blocks, model::kDefaultKvBlockSize, c.kv_type)));
  return EngineCore(model, forward, c, std::move(kv));
}

EngineCore::EngineCore(const model::Model& model, model::Forward* forward,
                       const EngineConfig& config, model::KvCache kv)
    : model_(&model),
      forward_(forward),
      config_(config),
      kv_(std::move(kv)),
      pool_(config.n_kv_blocks),
      prefix_cache_(kv_.shape().block_size) {}

EngineCore::EngineCore(EngineCore&&) noexcept = default;
EngineCore& EngineCore::operator=(EngineCore&&) noexcept = default;
EngineCore::~EngineCore() = default;

int32_t EngineCore::BlocksFor(const GenerationRequest& r) const {
  const int64_t positions = std::min<int64_t>(
      static_cast<int64_t>(r.prompt.size()) + std::max(r.max_new_tokens, 0), config_.context);
  const int32_t block = kv_.shape().block_size;
  return static_cast<int32_t>((positions + block - 1) / block);
}

Result<int64_t> EngineCore::Add(GenerationRequest request) {
  const int64_t vocab = model_->config().vocab_size;
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) return InvalidArgument("the prompt is empty (it needs at least one token)");
  if (n_prompt >= config_.context) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens, which leaves no room in the context of " +
                           std::to_string(config_.context) + "; shorten it");
  }
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= vocab) {
      return InvalidArgument("prompt token " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  if (request.max_new_tokens < 0) return InvalidArgument("max_new_tokens must be >= 0");
  ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(request.sampling, vocab));
  const int32_t blocks = BlocksFor(request);
  if (blocks > pool_.n_blocks()) {
    return ResourceExhausted(
        "the request needs " + std::to_string(blocks) + " KV blocks, more than the cache's " +
        std::to_string(pool_.n_blocks()) + "; lower max_new_tokens or enlarge the KV cache");
  }
  sampler.AddContext(request.prompt);
  auto s = std::make_unique<Sequence>(
      Sequence{.id = next_id_++, .request = std::move(request), .sampler = std::move(sampler)});
  s->tokens = s->request.prompt;
  waiting_.push_back(std::move(s));
  return waiting_.back()->id;
}

void EngineCore::Cancel(int64_t id) {
  for (auto& s : waiting_) s->cancelled |= s->id == id;
  for (auto& s : running_) s->cancelled |= s->id == id;
}

EngineStats EngineCore::stats() const {
  return {.waiting = static_cast<int32_t>(waiting_.size()),
          .running = static_cast<int32_t>(running_.size()),
          .kv_blocks_used = pool_.n_used(),
          .kv_blocks_free = pool_.n_free(),
          .prefix_cache_blocks = prefix_cache_.n_blocks(),
          .prefix_hit_blocks = prefix_hit_blocks_,
          .prefix_lookup_blocks = prefix_lookup_blocks_,
          .prompt_tokens = prompt_tokens_,
          .prompt_tokens_computed = prompt_tokens_computed_,
          .generated_tokens = generated_tokens_,
          .preemptions = preemptions_};
}

void EngineCore::Finish(Sequence& s, FinishReason reason, std::vector<TokenEvent>* events) {
  pool_.Release(s.blocks);
  s.blocks.clear();
  s.done = true;
  events->push_back({.id = s.id,
                     .finished = true,
                     .reason = reason,
                     .n_prompt_tokens = static_cast<int32_t>(s.request.prompt.size()),
                     .n_generated_tokens = s.n_generated});
}

int32_t EngineCore::BlocksForPositions(int64_t positions) const {
  const int32_t block = kv_.shape().block_size;
  return static_cast<int32_t>((positions + block - 1) / block);
}

// Arrival order, no overtaking: a big request at the head waits for room rather than starve. A
// sequence gets the blocks of the tokens it has (its prompt, or prompt and output after a
// preemption); the blocks of its output are taken as it grows (ReserveBlocks).
void EngineCore::Admit() {
  const int32_t block = kv_.shape().block_size;
  while (!waiting_.empty() && static_cast<int32_t>(running_.size()) < config_.max_running) {
    Sequence& s = *waiting_.front();
    const int32_t n_tokens = static_cast<int32_t>(s.tokens.size());
    std::vector<int32_t> reused;
    // Not the block of the last token: that row must run to give the next logits.
    // A request for prompt logprobs needs the logits of every prompt row: nothing is reused.
    const int32_t reusable =
        config_.prefix_cache && s.request.prompt_logprobs < 0 ? (n_tokens - 1) / block : 0;
    if (reusable > 0) reused = prefix_cache_.Match(pool_, s.tokens, reusable, &s.chain_key);
    const int32_t need = BlocksForPositions(n_tokens) - static_cast<int32_t>(reused.size());
    if (pool_.n_free() < need) prefix_cache_.Evict(pool_, need - pool_.n_free());
    std::vector<int32_t> fresh;
    if (!pool_.Allocate(need, &fresh)) {
      pool_.Release(reused);
      s.chain_key = PrefixCache::kRoot;
      return;
    }
    s.blocks = std::move(reused);
    s.n_offered = static_cast<int32_t>(s.blocks.size());
    s.n_computed = s.n_offered * block;
    if (!s.admitted_before) {  // counted once per request, not per attempt or readmission
      s.admitted_before = true;
      prefix_lookup_blocks_ += reusable;
      prefix_hit_blocks_ += s.n_offered;
      prompt_tokens_ += static_cast<int64_t>(s.request.prompt.size());
      prompt_tokens_computed_ += static_cast<int64_t>(s.request.prompt.size()) - s.n_computed;
    }
    s.blocks.insert(s.blocks.end(), fresh.begin(), fresh.end());
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

// Gives back a running sequence's blocks and puts it first in the queue: it is readmitted when
// there is room, and recomputes what the prefix cache no longer holds. Its sampler keeps its state,
// so the tokens it goes on to produce are the ones it would have produced (batch invariance).
void EngineCore::Preempt(Sequence& s) {
  pool_.Release(s.blocks);
  s.blocks.clear();
  s.n_computed = 0;
  s.n_offered = 0;
  s.chain_key = PrefixCache::kRoot;
  ++preemptions_;
}

// Before the batch is built: every running sequence gets the blocks its rows of this step need
// (oldest first). When the pool and the prefix cache have none left, the newest running sequence
// is preempted; the oldest always progresses, and Add refused requests that could not fit alone.
void EngineCore::ReserveBlocks() {
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence& s = *running_[i];
    const int32_t pending = static_cast<int32_t>(s.tokens.size()) - s.n_computed;
    const int32_t rows = std::min(pending, config_.max_batch_tokens);
    const int32_t need =
        BlocksForPositions(s.n_computed + rows) - static_cast<int32_t>(s.blocks.size());
    if (need <= 0) continue;
    std::vector<int32_t> fresh;
    for (;;) {
      if (pool_.n_free() < need) prefix_cache_.Evict(pool_, need - pool_.n_free());
      if (pool_.Allocate(need, &fresh)) break;
      Sequence& victim = *running_.back();
      Preempt(victim);
      waiting_.push_front(std::move(running_.back()));
      running_.pop_back();
      if (&victim == &s) return;  // it was the newest: it waits, and so do those after it
    }
    s.blocks.insert(s.blocks.end(), fresh.begin(), fresh.end());
  }
}

void EngineCore::OfferBlocks(Sequence& s) {
  if (!config_.prefix_cache) return;
  const int32_t block = kv_.shape().block_size;
  while ((s.n_offered + 1) * block <= s.n_computed) {
    const std::span<const int32_t> tokens(&s.tokens[static_cast<size_t>(s.n_offered * block)],
                                          static_cast<size_t>(block));
    prefix_cache_.Insert(pool_, tokens, s.blocks[static_cast<size_t>(s.n_offered)], &s.chain_key);
    ++s.n_offered;
  }
}

// Decode rows first (one per sequence whose prompt is in the cache), then prompt chunks in
// admission order, within max_batch_tokens rows.
void EngineCore::BuildBatch() {
  batch_.rows.clear();
  batch_.block_tables.clear();
  fed_.clear();
  int32_t budget = config_.max_batch_tokens;
  const auto feed = [&](Sequence& s, int32_t n) {
    const int32_t seq = static_cast<int32_t>(batch_.block_tables.size());
    batch_.block_tables.push_back(s.blocks);
    // Prompt logprobs: every prompt row's logits (bounded per step: each row is a vocab of floats).
    const bool prompt_rows = s.request.prompt_logprobs >= 0 && s.n_generated == 0;
    if (prompt_rows) n = std::min(n, kMaxPromptLogprobRows);
    const bool logits = s.n_computed + n == static_cast<int32_t>(s.tokens.size());
    for (int32_t i = 0; i < n; ++i) {
      const int32_t pos = s.n_computed + i;
      batch_.rows.push_back({.seq = seq,
                             .token = s.tokens[static_cast<size_t>(pos)],
                             .pos = pos,
                             .logits = prompt_rows || (logits && i == n - 1)});
    }
    fed_.push_back({&s, n, logits, prompt_rows});
    budget -= n;
  };
  for (auto& s : running_) {
    const int32_t pending = static_cast<int32_t>(s->tokens.size()) - s->n_computed;
    if (pending == 1 && budget > 0) feed(*s, 1);
  }
  for (auto& s : running_) {
    const int32_t pending = static_cast<int32_t>(s->tokens.size()) - s->n_computed;
    if (pending > 1 && budget > 0) feed(*s, std::min(pending, budget));
  }
}

Status EngineCore::RunForward() {
  const int64_t vocab = model_->config().vocab_size;
  const size_t need = static_cast<size_t>(batch_.n_logit_rows() * vocab);
  if (logits_.size() < need) logits_.resize(need);
  const std::span<float> out(logits_.data(), need);
  if (forward_ != nullptr) return forward_->Run(batch_, kv_, out);
  return model::ForwardReference(*model_, batch_, kv_, out);
}

// Row i of the chunk predicts prompt token n_computed + i + 1 (when that is still in the prompt).
void EngineCore::EmitPromptLogprobs(const Fed& f, int64_t first_logit_row,
                                    std::vector<TokenEvent>* events) {
  Sequence& s = *f.seq;
  const int64_t vocab = model_->config().vocab_size;
  const int32_t n_prompt = static_cast<int32_t>(s.request.prompt.size());
  TokenEvent e{.id = s.id};
  for (int32_t i = 0; i < f.n_rows; ++i) {
    const int32_t next = s.n_computed + i + 1;
    if (next >= n_prompt) break;
    if (next < s.prompt_logprobs_next) continue;  // sent before a preemption
    s.prompt_logprobs_next = next + 1;
    const std::span<const float> row(&logits_[static_cast<size_t>((first_logit_row + i) * vocab)],
                                     static_cast<size_t>(vocab));
    e.prompt_tokens.push_back(TokenLogprobs(row, s.request.prompt[static_cast<size_t>(next)],
                                            s.request.prompt_logprobs, &logprob_scratch_));
  }
  if (!e.prompt_tokens.empty()) events->push_back(std::move(e));
}

void EngineCore::SampleAndAdvance(std::vector<TokenEvent>* events) {
  const int64_t vocab = model_->config().vocab_size;
  int64_t logit_row = 0;
  for (const Fed& f : fed_) {
    Sequence& s = *f.seq;
    if (f.prompt_rows) {
      EmitPromptLogprobs(f, logit_row, events);
      logit_row += f.n_rows - (f.logits ? 1 : 0);  // the last row, if sampled, is read below
    }
    s.n_computed += f.n_rows;
    OfferBlocks(s);  // before the sequence can finish and give its blocks back
    if (!f.logits) continue;
    const std::span<const float> row(&logits_[static_cast<size_t>(logit_row++ * vocab)],
                                     static_cast<size_t>(vocab));
    const SampledToken t = s.sampler.Sample(row);
    const std::vector<int32_t>& eos = s.request.eos_ids;
    if (std::find(eos.begin(), eos.end(), t.id) != eos.end()) {
      Finish(s, FinishReason::kEos, events);
      continue;
    }
    s.tokens.push_back(t.id);
    s.sampler.Accept(t.id);
    ++s.n_generated;
    ++generated_tokens_;
    events->push_back({.id = s.id, .has_token = true, .token = t});
    if (s.n_generated >= s.request.max_new_tokens) {
      Finish(s, FinishReason::kLength, events);
    } else if (static_cast<int32_t>(s.tokens.size()) >= config_.context) {
      Finish(s, FinishReason::kContext, events);
    }
  }
}

Status EngineCore::Step(std::vector<TokenEvent>* events) {
  // Cancelled requests, and those that asked for no token, end before any work is spent.
  for (auto& s : running_) {
    if (s->cancelled) Finish(*s, FinishReason::kCancelled, events);
  }
  for (auto& s : waiting_) {
    if (s->cancelled || s->request.max_new_tokens == 0) {
      Finish(*s, s->cancelled ? FinishReason::kCancelled : FinishReason::kLength, events);
      s->done = true;
    }
  }
  std::erase_if(waiting_, [](const auto& s) { return s->done; });
  std::erase_if(running_, [](const auto& s) { return s->done; });
  Admit();
  ReserveBlocks();
  BuildBatch();
  if (batch_.rows.empty()) return Status::Ok();
  RETURN_IF_ERROR(RunForward());
  SampleAndAdvance(events);
  std::erase_if(running_, [](const auto& s) { return s->done; });
  return Status::Ok();
}

}  // namespace medassist::runtime
