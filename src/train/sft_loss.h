// The supervised fine-tuning loss over the assistant's tokens, and the statistics Hugging Face's
// SFT trainer (TRL) logs with it: mean token accuracy and entropy of the predicted distribution,
// both over the same tokens the loss covers.
//
// A batch is right-padded; the row's position t - 1 predicts token t for every t past the prompt
// (t >= n_prompt_tokens, t >= 1). Only those positions' hidden states go through the output
// head, so the prompt's rows (often half the tokens) cost no vocabulary-sized work.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <span>
#include <vector>

#include "datasets/sft_examples.h"
#include "train/torch_qwen2.h"

namespace medassist::train {

struct PackedBatch {
  torch::Tensor ids;        // (B, T) int64, padded with pad_id
  torch::Tensor positions;  // (N) int64: flat indices b * T + t - 1 of the predicting rows
  torch::Tensor targets;    // (N) int64: the tokens they predict
  DropoutKeys keys;         // examples and real lengths per row
  int64_t n_targets = 0;
};

// example_ids index into `examples`; an empty list gives an empty batch (n_targets 0).
PackedBatch PackBatch(std::span<const datasets::SftExample> examples,
                      std::span<const int64_t> example_ids, int64_t pad_id);

// Number of loss tokens of these examples (without building the batch).
int64_t CountTargets(std::span<const datasets::SftExample> examples,
                     std::span<const int64_t> example_ids);

struct TokenStats {  // sums over loss tokens; divide by n_tokens for the means
  double loss_sum = 0;
  double correct = 0;
  double entropy_sum = 0;
  double n_tokens = 0;
  void Add(const TokenStats& o) {
    loss_sum += o.loss_sum, correct += o.correct, entropy_sum += o.entropy_sum,
        n_tokens += o.n_tokens;
  }
};

struct LossOutput {
  torch::Tensor loss_sum;  // scalar with the graph (undefined for an empty batch)
  TokenStats stats;
};

// Forward pass and summed cross-entropy. dropout: draw LoRA dropout masks (training).
LossOutput SftLoss(const TorchQwen2& net, const PackedBatch& batch, uint64_t seed, int64_t step,
                   bool dropout);

}  // namespace medassist::train
