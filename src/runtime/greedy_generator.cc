#include "runtime/greedy_generator.h"

#include <algorithm>
#include <string>

#include "model/forward_reference.h"

namespace medassist::runtime {
namespace {

// Prompt rows per forward call: bounds the activations of one prefill step.
constexpr size_t kPrefillChunk = 256;

bool IsEos(const std::vector<int32_t>& eos_ids, int32_t id) {
  return std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end();
}

bool Cancelled(const GenerateOptions& options) {
  return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kContext:
      return "context";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
    case FinishReason::kStop:
      return "stop";
  }
  return "unknown";
}

int32_t Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

Result<GreedyGenerator> GreedyGenerator::Create(const model::Model& model, int32_t context,
                                                model::Forward* forward) {
  if (context <= 0) {
    return InvalidArgument("context must be at least 1 token, got " + std::to_string(context));
  }
  const int64_t max_positions = model.config().max_position_embeddings;
  const int32_t n_ctx = static_cast<int32_t>(std::min<int64_t>(context, max_positions));
  const int32_t block = model::kDefaultKvBlockSize;
  const int32_t n_blocks = (n_ctx + block - 1) / block;
  ASSIGN_OR_RETURN(model::KvCache kv,
                   model::KvCache::Create(model::KvCacheShape::ForModel(model.config(), n_blocks)));
  return GreedyGenerator(model, forward, std::move(kv), n_ctx);
}

GreedyGenerator::GreedyGenerator(const model::Model& model, model::Forward* forward,
                                 model::KvCache kv, int32_t context)
    : model_(&model), forward_(forward), kv_(std::move(kv)), context_(context) {
  std::vector<int32_t> table(static_cast<size_t>(kv_.shape().n_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  batch_.block_tables.push_back(std::move(table));
  batch_.rows.reserve(kPrefillChunk);
  logits_.resize(static_cast<size_t>(model.config().vocab_size));
}

Status GreedyGenerator::Prefill(std::span<const int32_t> prompt) {
  for (size_t start = 0; start < prompt.size(); start += kPrefillChunk) {
    const size_t end = std::min(prompt.size(), start + kPrefillChunk);
    batch_.rows.clear();
    for (size_t i = start; i < end; ++i) {
      batch_.rows.push_back({.seq = 0,
                             .token = prompt[i],
                             .pos = static_cast<int32_t>(i),
                             .logits = i + 1 == prompt.size()});
    }
    const bool last = end == prompt.size();
    std::span<float> out = last ? std::span<float>(logits_) : std::span<float>();
    RETURN_IF_ERROR(Run(out));
  }
  return Status::Ok();
}

Status GreedyGenerator::DecodeStep(int32_t token, int32_t pos) {
  batch_.rows.clear();
  batch_.rows.push_back({.seq = 0, .token = token, .pos = pos, .logits = true});
  return Run(logits_);
}

Status GreedyGenerator::Run(std::span<float> logits) {
  if (forward_ != nullptr) return forward_->Run(batch_, kv_, logits);
  return model::ForwardReference(*model_, batch_, kv_, logits);
}

Result<GenerateResult> GreedyGenerator::Generate(std::span<const int32_t> prompt,
                                                 const GenerateOptions& options) {
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt == 0) return InvalidArgument("the prompt is empty (it needs at least one token)");
  if (n_prompt > context_) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens, more than the context of " + std::to_string(context_) +
                           " tokens; shorten it or raise the context");
  }
  GenerateResult result;
  result.ids.reserve(static_cast<size_t>(std::max(options.max_new_tokens, 0)));
  // Stop checks that need no forward pass come first, so no step is computed for nothing.
  auto stop = [&]() -> bool {
    const int64_t n_generated = static_cast<int64_t>(result.ids.size());
    if (n_generated >= options.max_new_tokens) {
      result.finish = FinishReason::kLength;
    } else if (n_prompt + n_generated >= context_) {
      result.finish = FinishReason::kContext;
    } else if (Cancelled(options)) {
      result.finish = FinishReason::kCancelled;
    } else {
      return false;
    }
    return true;
  };
  if (stop()) return result;
  RETURN_IF_ERROR(Prefill(prompt));
  while (true) {
    const int32_t next = Argmax(logits_);
    if (IsEos(options.eos_ids, next)) {
      result.finish = FinishReason::kEos;
      return result;
    }
    result.ids.push_back(next);
    if (options.on_token && !options.on_token(next)) {
      result.finish = FinishReason::kCancelled;
      return result;
    }
    if (stop()) return result;
    // The token just chosen sits at position n_prompt + n_generated - 1.
    const int64_t pos = n_prompt + static_cast<int64_t>(result.ids.size()) - 1;
    RETURN_IF_ERROR(DecodeStep(next, static_cast<int32_t>(pos)));
  }
}

}  // namespace medassist::runtime
