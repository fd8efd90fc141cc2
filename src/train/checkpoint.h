// Checkpoints: everything needed to continue a run exactly where it stopped.
//
//   OUTPUT/checkpoint-<step>/adapter_config.json, adapter_model.safetensors   the adapter (PEFT)
//   OUTPUT/checkpoint-<step>/optimizer.pt        AdamW's moments and step counts (torch archive)
//   OUTPUT/checkpoint-<step>/trainer_state.json  step, epoch, best eval loss, the run's settings
//
// No random-generator state is needed: the data order (datasets::EpochOrder) and the LoRA dropout
// masks (DropoutKeys) are functions of (seed, step, example), and the learning rate of the step.
// A checkpoint is written under a temporary name and renamed, so a crash never leaves a partial one
// that resume would pick.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "train/torch_qwen2.h"

namespace medassist::train {

struct TrainerState {
  int64_t global_step = 0;  // optimizer steps done
  double epoch = 0;
  double best_eval_loss = 0;
  std::string best_checkpoint;  // "" when no eval yet
  // What the run must agree with on resume (a different value is refused).
  uint64_t seed = 0;
  int64_t global_batch = 0;
  int64_t n_train_examples = 0;
};

std::string CheckpointDir(const std::string& output_dir, int64_t step);

Status SaveCheckpoint(const std::string& dir, const TorchQwen2& net, torch::optim::Optimizer& opt,
                      const TrainerState& state, const std::string& base_model_name);

// Reads the state, then loads the adapter into net and the moments into opt.
Result<TrainerState> LoadCheckpoint(const std::string& dir, TorchQwen2& net,
                                    torch::optim::Optimizer& opt);

// "latest": the checkpoint of the highest step under output_dir (NotFound when none); otherwise
// the folder itself.
Result<std::string> ResolveResume(const std::string& output_dir, const std::string& resume);

// Deletes the oldest checkpoints beyond `keep`, never `protect` (the best).
void RotateCheckpoints(const std::string& output_dir, int64_t keep, const std::string& protect);

}  // namespace medassist::train
