// The learning rate of each optimizer step, as Hugging Face's schedulers compute it
// (transformers/optimization.py: get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup,
// get_constant_schedule_with_warmup), so a run here and a run there follow the same curve:
//
//   warmup (step < n_warmup):  peak * step / max(1, n_warmup)            (so step 0 uses 0)
//   cosine:   peak * max(0, 0.5 * (1 + cos(pi * progress)))
//   linear:   peak * max(0, 1 - progress)
//   constant: peak
//   progress = (step - n_warmup) / max(1, n_steps - n_warmup)
//
// n_warmup = ceil(warmup_ratio * n_steps), as TrainingArguments.get_warmup_steps.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace medassist::train {

enum class LrSchedule { kCosine, kLinear, kConstant };

// "cosine" | "linear" | "constant"; nullopt for anything else.
std::optional<LrSchedule> ParseLrSchedule(std::string_view name);
std::string_view LrScheduleName(LrSchedule schedule);

struct LrPlan {
  LrSchedule schedule = LrSchedule::kCosine;
  double peak = 2e-4;
  int64_t n_steps = 1;
  int64_t n_warmup = 0;
};

int64_t WarmupSteps(double warmup_ratio, int64_t n_steps);

// The rate optimizer step `step` (0-based) uses.
double LearningRate(const LrPlan& plan, int64_t step);

}  // namespace medassist::train
