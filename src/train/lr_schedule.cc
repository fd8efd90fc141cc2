#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace medassist::train {

std::optional<LrSchedule> ParseLrSchedule(std::string_view name) {
  if (name == "cosine") return LrSchedule::kCosine;
  if (name == "linear") return LrSchedule::kLinear;
  if (name == "constant") return LrSchedule::kConstant;
  return std::nullopt;
}

std::string_view LrScheduleName(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::kCosine:
      return "cosine";
    case LrSchedule::kLinear:
      return "linear";
    case LrSchedule::kConstant:
      return "constant";
  }
  return "cosine";
}

int64_t WarmupSteps(double warmup_ratio, int64_t n_steps) {
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(n_steps)));
}

double LearningRate(const LrPlan& plan, int64_t step) {
  if (step < plan.n_warmup) {
    return plan.peak * static_cast<double>(step) /
           static_cast<double>(std::max<int64_t>(1, plan.n_warmup));
  }
  const double progress = static_cast<double>(step - plan.n_warmup) /
                          static_cast<double>(std::max<int64_t>(1, plan.n_steps - plan.n_warmup));
  switch (plan.schedule) {
    case LrSchedule::kCosine:
      return plan.peak * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
    case LrSchedule::kLinear:
      return plan.peak * std::max(0.0, 1.0 - progress);
    case LrSchedule::kConstant:
      return plan.peak;
  }
  return plan.peak;
}

}  // namespace medassist::train
