#include "apps/kl_divergence.h"

#include <algorithm>
#include <string>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"

namespace medassist::apps {
namespace {

// One chunk as one sequence at positions 0..ctx-1, with logits for the scored positions
// first..ctx-2 only; its first token replaced by bos when there is one.
model::Batch ChunkBatch(std::span<const int32_t> chunk, std::optional<int32_t> bos,
                        const KlChunking& plan) {
  model::Batch batch;
  const int32_t block = model::kDefaultKvBlockSize;
  batch.block_tables.emplace_back();
  for (int32_t b = 0; b < (plan.ctx + block - 1) / block; ++b) batch.block_tables[0].push_back(b);
  for (int32_t pos = 0; pos < plan.ctx; ++pos) {
    const int32_t token = pos == 0 && bos.has_value() ? *bos : chunk[static_cast<size_t>(pos)];
    const bool logits = pos >= plan.first && pos <= plan.ctx - 2;
    batch.rows.push_back({0, token, pos, logits});
  }
  return batch;
}

// Runs the chunk from an empty KV cache; logits gets one row per scored position.
Status RunChunk(const KlModel& m, const model::Batch& batch, const KlChunking& plan,
                std::span<float> logits) {
  const int32_t block = model::kDefaultKvBlockSize;
  ASSIGN_OR_RETURN(model::KvCache kv, model::KvCache::Create(model::KvCacheShape::ForModel(
                                          m.model.config(), (plan.ctx + block - 1) / block)));
  Status s = m.forward.Run(batch, kv, logits);
  return s.ok() ? s : s.WithContext(m.model.path());
}

}  // namespace

Result<KlChunking> PlanKlChunks(int64_t n_tokens, int32_t ctx, int32_t max_chunks,
                                int64_t max_context) {
  if (ctx < 4) {
    return InvalidArgument("--ctx " + std::to_string(ctx) +
                           " is too small: a chunk needs at least 4 tokens (half of them are "
                           "context, the rest are scored)");
  }
  if (ctx > max_context) {
    return InvalidArgument("--ctx " + std::to_string(ctx) + " exceeds the models' context of " +
                           std::to_string(max_context) + " tokens; give a smaller --ctx");
  }
  if (max_chunks < 0) {
    return InvalidArgument("--chunks must be >= 0 (0: every whole chunk of the text)");
  }
  if (n_tokens < ctx) {
    return InvalidArgument("the text has " + std::to_string(n_tokens) +
                           " tokens, fewer than one chunk of --ctx " + std::to_string(ctx) +
                           "; give a longer text or a smaller --ctx");
  }
  const int64_t whole = n_tokens / ctx;
  KlChunking plan;
  plan.ctx = ctx;
  plan.first = ctx / 2;
  plan.n_chunks =
      static_cast<int32_t>(max_chunks == 0 ? whole : std::min<int64_t>(whole, max_chunks));
  return plan;
}

Result<KlSummary> EvaluateKl(const KlModel& base, const KlModel& model, ThreadPool& pool,
                             std::span<const int32_t> tokens, std::optional<int32_t> bos,
                             const KlChunking& plan, const KlChunkCallback& on_chunk) {
  const int64_t vocab = base.model.config().vocab_size;
  if (model.model.config().vocab_size != vocab) {
    return InvalidArgument(model.model.path() + " has " +
                           std::to_string(model.model.config().vocab_size) + " logits per token, " +
                           base.model.path() + " has " + std::to_string(vocab) +
                           ": the models must share one vocabulary");
  }
  if (plan.ctx < 4 || plan.first != plan.ctx / 2 || plan.n_chunks < 1 ||
      static_cast<int64_t>(plan.n_chunks) * plan.ctx > static_cast<int64_t>(tokens.size())) {
    return InvalidArgument("the chunk plan does not fit the " + std::to_string(tokens.size()) +
                           " tokens given (make it with PlanKlChunks)");
  }
  const int32_t n_scored = plan.n_scored_per_chunk();
  const size_t row = static_cast<size_t>(vocab);
  std::vector<float> base_logits(n_scored * row), model_logits(n_scored * row);
  std::vector<TokenScore> scores(static_cast<size_t>(n_scored));
  KlAccumulator acc;
  for (int32_t c = 0; c < plan.n_chunks; ++c) {
    const std::span<const int32_t> chunk =
        tokens.subspan(static_cast<size_t>(c) * plan.ctx, static_cast<size_t>(plan.ctx));
    const model::Batch batch = ChunkBatch(chunk, bos, plan);
    RETURN_IF_ERROR(RunChunk(base, batch, plan, base_logits));
    RETURN_IF_ERROR(RunChunk(model, batch, plan, model_logits));
    // Scored row i holds the logits at position first + i, which predict token first + i + 1.
    pool.ParallelFor(n_scored, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t at = static_cast<size_t>(i) * row;
        scores[static_cast<size_t>(i)] =
            ScoreToken(std::span<const float>(base_logits).subspan(at, row),
                       std::span<const float>(model_logits).subspan(at, row),
                       chunk[static_cast<size_t>(plan.first + i + 1)]);
      }
    });
    for (const TokenScore& s : scores) acc.Add(s);
    if (on_chunk) on_chunk(c, acc);
  }
  return acc.Summarize();
}

}  // namespace medassist::apps
