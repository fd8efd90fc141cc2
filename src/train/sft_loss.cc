#include "train/sft_loss.h"

#include <algorithm>

namespace medassist::train {

int64_t CountTargets(std::span<const datasets::SftExample> examples,
                     std::span<const int64_t> example_ids) {
  int64_t n = 0;
  for (int64_t id : example_ids) {
    const datasets::SftExample& e = examples[static_cast<size_t>(id)];
    n += std::ssize(e.ids) - std::max<int64_t>(1, e.n_prompt_tokens);
  }
  return n;
}

PackedBatch PackBatch(std::span<const datasets::SftExample> examples,
                      std::span<const int64_t> example_ids, int64_t pad_id) {
  PackedBatch batch;
  const int64_t B = std::ssize(example_ids);
  int64_t T = 1;
  for (int64_t id : example_ids)
    T = std::max<int64_t>(T, std::ssize(examples[static_cast<size_t>(id)].ids));
  batch.ids = torch::full({B, T}, pad_id, torch::kInt64);
  std::vector<int64_t> positions, targets;
  auto ids = batch.ids.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const datasets::SftExample& e = examples[static_cast<size_t>(example_ids[b])];
    const int64_t len = std::ssize(e.ids);
    for (int64_t t = 0; t < len; ++t) ids[b][t] = e.ids[static_cast<size_t>(t)];
    for (int64_t t = std::max<int64_t>(1, e.n_prompt_tokens); t < len; ++t) {
      positions.push_back(b * T + t - 1);
      targets.push_back(e.ids[static_cast<size_t>(t)]);
    }
    batch.keys.examples.push_back(example_ids[b]);
    batch.keys.lengths.push_back(len);
  }
  batch.n_targets = std::ssize(targets);
  batch.positions = torch::tensor(positions, torch::kInt64);
  batch.targets = torch::tensor(targets, torch::kInt64);
  return batch;
}

LossOutput SftLoss(const TorchQwen2& net, const PackedBatch& batch, uint64_t seed, int64_t step,
                   bool dropout) {
  LossOutput out;
  if (batch.n_targets == 0) return out;
  DropoutKeys keys = batch.keys;
  keys.seed = seed;
  keys.step = step;
  const torch::Tensor targets = batch.targets.to(net.device());
  torch::Tensor hidden = net.Hidden(batch.ids.to(net.device()), dropout ? &keys : nullptr);
  hidden = hidden.reshape({-1, hidden.size(-1)}).index_select(0, batch.positions.to(net.device()));
  torch::Tensor logits = net.Logits(hidden);  // (N, vocab) float32
  out.loss_sum = torch::nn::functional::cross_entropy(
      logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  torch::NoGradGuard no_grad;
  torch::Tensor logp = torch::log_softmax(logits.detach(), -1);
  out.stats.loss_sum = out.loss_sum.item<double>();
  out.stats.entropy_sum = (-(logp.exp() * logp).sum(-1)).sum().item<double>();
  out.stats.correct = (logp.argmax(-1) == targets).sum().item<double>();
  out.stats.n_tokens = static_cast<double>(batch.n_targets);
  return out;
}

}  // namespace medassist::train
