// The training run: SFT examples from the medical-o1 rows (datasets/sft_examples.h), the base model
// in LibTorch with a LoRA adapter (torch_qwen2.h), AdamW with a warmup + decay schedule, gradient
// accumulation and clipping, BF16 autocast, data parallel over processes (distributed.h),
// evaluation, metrics (metrics_log.h), checkpoints and resume (checkpoint.h), and the final
// adapter in PEFT's layout:
//
//   OUTPUT/adapter/                  the trained adapter (adapter_config.json + safetensors)
//   OUTPUT/checkpoint-<step>/        checkpoints (--save-steps), the last and best kept
//   OUTPUT/metrics.jsonl, tensorboard/, run_config.json
//
// No LibTorch in this header: apps/ calls RunTraining without the torch headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "train/train_options.h"

namespace medassist::train {

struct TrainSummary {
  int64_t n_steps = 0;  // optimizer steps this process ran (after a resume: the rest)
  int64_t n_train_examples = 0;
  int64_t n_eval_examples = 0;
  std::vector<double> step_losses;  // the mean loss of each step run, in order
  double final_eval_loss = 0;       // NaN without eval examples
  double tokens_per_second = 0;     // input tokens (prompt included) per second, all ranks
  double runtime_seconds = 0;
  std::string adapter_dir;
};

Result<TrainSummary> RunTraining(const TrainOptions& options);

}  // namespace medassist::train
