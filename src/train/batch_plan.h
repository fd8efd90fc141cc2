// Which training examples each optimizer step, gradient-accumulation micro-step and data-parallel
// rank takes. A pure function of the options and the step, so a resumed run and a run on another
// number of processes see exactly the same global batches:
//
//   global batch  = per_device_batch * world_size * grad_accum examples, consecutive in the
//                   epoch's order (datasets::EpochOrder(n, seed, epoch)); an epoch's last batch
//                   takes what is left (nothing is dropped);
//   micro-step m of rank r takes the global batch's slice
//                   [(m * world_size + r) * per_device_batch, ... + per_device_batch)  (may be
//                   empty)
//   n_steps       = max_steps when set, else steps_per_epoch * n_epochs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace medassist::train {

struct BatchPlanOptions {
  int64_t n_examples = 0;
  int64_t per_device_batch = 8;
  int64_t grad_accum = 4;
  int64_t world_size = 1;
  int64_t n_epochs = 1;
  int64_t max_steps = 0;  // > 0 overrides n_epochs
  uint64_t seed = 42;
};

class BatchPlan {
 public:
  explicit BatchPlan(const BatchPlanOptions& options);

  int64_t global_batch() const { return global_batch_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t n_steps() const { return n_steps_; }
  int64_t EpochOf(int64_t step) const { return step / steps_per_epoch_; }
  // Epochs completed after `step` (fractional, as Hugging Face logs `epoch`).
  double EpochAfter(int64_t step) const;

  // The examples (indices into the training set) of optimizer step `step`, in order.
  std::vector<int64_t> StepExamples(int64_t step) const;
  // The part of step_examples that rank `rank` computes in micro-step `micro`.
  std::span<const int64_t> MicroBatch(std::span<const int64_t> step_examples, int64_t rank,
                                      int64_t micro) const;

 private:
  BatchPlanOptions options_;
  int64_t global_batch_ = 1;
  int64_t steps_per_epoch_ = 1;
  int64_t n_steps_ = 1;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace medassist::train
