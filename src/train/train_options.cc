#include "train/train_options.h"

#include <algorithm>

#include <fmt/format.h>

namespace medassist::train {
namespace {

Status Bad(const std::string& what) { return InvalidArgument(what); }

Status ValidateLora(const LoraOptions& lora) {
  if (lora.r < 1 || lora.r > 4096)
    return Bad(fmt::format("--lora-r {}: must be in [1, 4096]", lora.r));
  if (!(lora.alpha > 0)) return Bad("--lora-alpha must be > 0");
  if (!(lora.dropout >= 0 && lora.dropout < 1)) return Bad("--lora-dropout must be in [0, 1)");
  if (lora.targets.empty()) return Bad("--lora-targets: name at least one projection");
  for (const std::string& t : lora.targets) {
    const auto& all = AllLoraTargets();
    if (std::find(all.begin(), all.end(), t) == all.end()) {
      return Bad(
          fmt::format("--lora-targets: unknown projection '{}' (choose from q_proj, k_proj, "
                      "v_proj, o_proj, gate_proj, up_proj, down_proj)",
                      t));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTrainOptions(const TrainOptions& o) {
  if (o.model.empty()) return Bad("--model: the base model folder is required");
  if (o.data.empty()) return Bad("--data: the training rows (JSON or JSONL) are required");
  if (o.output_dir.empty()) return Bad("--output-dir is required");
  RETURN_IF_ERROR(ValidateLora(o.lora));
  RETURN_IF_ERROR(datasets::ValidateSftMixOptions(o.mix));
  if (o.epochs < 1 && o.max_steps < 1) return Bad("--epochs or --max-steps must be >= 1");
  if (o.per_device_batch < 1) return Bad("--batch-size must be >= 1");
  if (o.per_device_eval_batch < 1) return Bad("--eval-batch-size must be >= 1");
  if (o.grad_accum < 1) return Bad("--grad-accum must be >= 1");
  if (!(o.learning_rate > 0)) return Bad("--learning-rate must be > 0");
  if (!(o.warmup_ratio >= 0 && o.warmup_ratio <= 1)) return Bad("--warmup-ratio must be in [0, 1]");
  if (!(o.weight_decay >= 0)) return Bad("--weight-decay must be >= 0");
  if (o.logging_steps < 1) return Bad("--logging-steps must be >= 1");
  if (o.eval_steps < 0 || o.save_steps < 0) return Bad("--eval-steps / --save-steps must be >= 0");
  if (o.save_total_limit < 1) return Bad("--save-total-limit must be >= 1");
  if (o.device != "cpu" && o.device != "cuda" && !o.device.starts_with("cuda:")) {
    return Bad(fmt::format("--device {}: choose cpu, cuda or cuda:N", o.device));
  }
  if (o.dist.world_size < 1 || o.dist.rank < 0 || o.dist.rank >= o.dist.world_size) {
    return Bad(fmt::format("rank {} of world size {}: need 0 <= rank < world size", o.dist.rank,
                           o.dist.world_size));
  }
  return Status::Ok();
}

}  // namespace medassist::train
