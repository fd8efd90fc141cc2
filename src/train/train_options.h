// Everything a training run is configured with. Defaults are the original recipe's (Qwen2.5-3B-
// Instruct + PEFT LoRA on medical-o1-reasoning-SFT): 1 epoch, per-device batch 8, gradient
// accumulation 4, learning rate 2e-4, warmup ratio 0.05, cosine schedule, bf16, AdamW.
// No LibTorch here: apps/ and the tests read it without the torch headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "datasets/sft_examples.h"
#include "datasets/sft_reader.h"
#include "train/lr_schedule.h"

namespace medassist::train {

inline const std::vector<std::string>& AllLoraTargets() {
  static const std::vector<std::string> kAll = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                "gate_proj", "up_proj", "down_proj"};
  return kAll;
}

struct LoraOptions {
  int64_t r = 16;
  double alpha = 32.0;
  double dropout = 0.05;
  std::vector<std::string> targets = AllLoraTargets();
  bool rslora = false;  // scale alpha / sqrt(r) instead of alpha / r
};

struct DistributedOptions {
  int world_size = 1;
  int rank = 0;
  // Rendezvous: a file both processes can reach (c10d FileStore), or host:port of rank 0's
  // TCPStore when init_file is empty.
  std::string init_file;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

struct TrainOptions {
  std::string model;      // Hugging Face folder (or cached repo id) of the base model
  std::string tokenizer;  // "" = the model's
  std::string data;       // medical-o1 SFT rows, JSON array or JSONL
  std::string output_dir;
  datasets::SftReadOptions read;
  datasets::SftMixOptions mix;
  LoraOptions lora;

  int64_t epochs = 1;
  int64_t max_steps = 0;  // > 0 overrides epochs
  int64_t per_device_batch = 8;
  int64_t grad_accum = 4;
  double learning_rate = 2e-4;
  double warmup_ratio = 0.05;
  LrSchedule schedule = LrSchedule::kCosine;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  bool bf16 = true;            // base weights stored in BF16 and matmuls autocast to BF16
  uint64_t seed = 42;

  int64_t logging_steps = 10;
  int64_t eval_steps = 0;  // 0: evaluate at the end only
  int64_t per_device_eval_batch = 8;
  int64_t save_steps = 0;        // 0: save at the end only
  int64_t save_total_limit = 2;  // checkpoints kept, the best (lowest eval_loss) always among them
  std::string resume;            // "" | "latest" | a checkpoint folder
  int threads = 0;               // intra-op threads per process; 0 = physical cores / world_size
  // "cpu", "cuda" (GPU LOCAL_RANK of each process) or "cuda:N"; CUDA needs a CUDA build of
  // LibTorch (Debian's is CPU-only).
  std::string device = "cpu";
  bool progress = true;  // the progress line on stderr (a TTY only)
  DistributedOptions dist;
};

// Checks ranges and combinations before anything is loaded (InvalidArgument naming the option).
Status ValidateTrainOptions(const TrainOptions& options);

}  // namespace medassist::train
