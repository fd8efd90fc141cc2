#include "train/batch_plan.h"

#include <algorithm>

#include "core/check.h"
#include "datasets/sft_examples.h"

namespace medassist::train {

BatchPlan::BatchPlan(const BatchPlanOptions& options) : options_(options) {
  CHECK(options.n_examples > 0 && options.per_device_batch > 0 && options.grad_accum > 0 &&
        options.world_size > 0 && (options.n_epochs > 0 || options.max_steps > 0));
  global_batch_ = options.per_device_batch * options.grad_accum * options.world_size;
  steps_per_epoch_ = (options.n_examples + global_batch_ - 1) / global_batch_;
  n_steps_ = options.max_steps > 0 ? options.max_steps : steps_per_epoch_ * options.n_epochs;
}

double BatchPlan::EpochAfter(int64_t step) const {
  return static_cast<double>(step + 1) / static_cast<double>(steps_per_epoch_);
}

std::vector<int64_t> BatchPlan::StepExamples(int64_t step) const {
  const int64_t epoch = EpochOf(step);
  if (epoch != cached_epoch_) {
    cached_order_ = datasets::EpochOrder(options_.n_examples, options_.seed, epoch);
    cached_epoch_ = epoch;
  }
  const int64_t begin = (step % steps_per_epoch_) * global_batch_;
  const int64_t end = std::min(begin + global_batch_, options_.n_examples);
  return {cached_order_.begin() + begin, cached_order_.begin() + end};
}

std::span<const int64_t> BatchPlan::MicroBatch(std::span<const int64_t> step_examples, int64_t rank,
                                               int64_t micro) const {
  const int64_t n = std::ssize(step_examples);
  const int64_t begin =
      std::min(n, (micro * options_.world_size + rank) * options_.per_device_batch);
  const int64_t end = std::min(n, begin + options_.per_device_batch);
  return step_examples.subspan(begin, end - begin);
}

}  // namespace medassist::train
