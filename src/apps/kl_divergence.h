// Teacher-forced comparison of a model with a base model over one token stream (the
// kl-divergence command; see docs/performance.md, "Quantization quality"). Scored the way
// llama-perplexity --kl-divergence scores it, so that the figures are comparable:
//
//   the stream is cut into n_chunks = min(--chunks, n_tokens / ctx) chunks of ctx tokens (the
//   tail is dropped); each chunk runs from an empty KV cache; when the tokenizer adds a BOS
//   token, each chunk's first token is replaced by BOS; the logits at positions
//   first = ctx / 2 .. ctx - 2 are scored against the token that follows each, so a chunk scores
//   ctx - 1 - ctx / 2 tokens.
//
//   ASSIGN_OR_RETURN(KlChunking plan, PlanKlChunks(tokens.size(), 512, 8, max_context));
//   ASSIGN_OR_RETURN(KlSummary s, EvaluateKl({base, base_forward}, {model, model_forward}, pool,
//                                            tokens, bos, plan));
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "apps/kl_divergence_stats.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "model/forward.h"
#include "model/model.h"

namespace medassist::apps {

struct KlChunking {
  int32_t ctx = 0;  // tokens per chunk
  int32_t n_chunks = 0;
  int32_t first = 0;  // first scored position: ctx / 2
  int32_t n_scored_per_chunk() const { return ctx - 1 - first; }
  int64_t n_scored() const { return static_cast<int64_t>(n_chunks) * n_scored_per_chunk(); }
};

// max_chunks 0: every whole chunk. InvalidArgument, with the fix, for ctx < 4, ctx past
// max_context (the models' context), max_chunks < 0, and a stream shorter than one chunk.
Result<KlChunking> PlanKlChunks(int64_t n_tokens, int32_t ctx, int32_t max_chunks,
                                int64_t max_context);

struct KlModel {
  const model::Model& model;
  model::Forward& forward;  // runs model on the pool passed to EvaluateKl
};

// Called after each chunk with its index (from 0) and the totals so far.
using KlChunkCallback = std::function<void(int32_t chunk, const KlAccumulator& so_far)>;

// Runs both models over every chunk of plan and scores them. bos: the id that replaces each
// chunk's first token (the tokenizer's BOS when it adds one; nullopt otherwise). Memory: one
// chunk's scored logits per model (n_scored_per_chunk x vocab floats each), and the KV caches of
// one chunk. InvalidArgument for models of different vocabulary sizes, a plan that needs more
// tokens than given, or a token id outside the vocabulary.
Result<KlSummary> EvaluateKl(const KlModel& base, const KlModel& model, ThreadPool& pool,
                             std::span<const int32_t> tokens, std::optional<int32_t> bos,
                             const KlChunking& plan, const KlChunkCallback& on_chunk = {});

}  // namespace medassist::apps
