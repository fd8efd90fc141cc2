// The trainer's torch-free arithmetic: the learning-rate schedule (Hugging Face's formulas), the
// batch plan (every example once per epoch, the same global batches whatever the number of
// processes) and the option checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "train/batch_plan.h"
#include "train/lr_schedule.h"
#include "train/train_options.h"

namespace medassist::train {
namespace {

TEST(LrScheduleTest, CosineWithWarmupFollowsTransformers) {
  // get_cosine_schedule_with_warmup(num_warmup_steps=3, num_training_steps=20), peak 2e-4.
  const LrPlan plan{LrSchedule::kCosine, 2e-4, 20, WarmupSteps(0.15, 20)};
  EXPECT_EQ(plan.n_warmup, 3);
  EXPECT_DOUBLE_EQ(LearningRate(plan, 0), 0.0);
  EXPECT_DOUBLE_EQ(LearningRate(plan, 1), 2e-4 / 3);
  EXPECT_DOUBLE_EQ(LearningRate(plan, 3), 2e-4);
  EXPECT_NEAR(LearningRate(plan, 11), 2e-4 * 0.5 * (1 + std::cos(std::numbers::pi * 8.0 / 17.0)),
              1e-18);
  EXPECT_NEAR(LearningRate(plan, 19), 2e-4 * 0.5 * (1 + std::cos(std::numbers::pi * 16.0 / 17.0)),
              1e-18);
  EXPECT_GT(LearningRate(plan, 19), 0);
}

TEST(LrScheduleTest, WarmupStepsRoundUpAsTrainingArguments) {
  EXPECT_EQ(WarmupSteps(0.05, 10), 1);  // ceil(0.5)
  EXPECT_EQ(WarmupSteps(0.05, 100), 5);
  EXPECT_EQ(WarmupSteps(0.0, 100), 0);
}

TEST(LrScheduleTest, LinearAndConstant) {
  const LrPlan linear{LrSchedule::kLinear, 1.0, 10, 0};
  EXPECT_DOUBLE_EQ(LearningRate(linear, 0), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(linear, 5), 0.5);
  const LrPlan constant{LrSchedule::kConstant, 0.3, 10, 2};
  EXPECT_DOUBLE_EQ(LearningRate(constant, 1), 0.15);
  EXPECT_DOUBLE_EQ(LearningRate(constant, 9), 0.3);
  EXPECT_EQ(ParseLrSchedule("cosine"), LrSchedule::kCosine);
  EXPECT_FALSE(ParseLrSchedule("cosine_with_restarts").has_value());
}

TEST(BatchPlanTest, EachEpochTakesEveryExampleOnce) {
  const BatchPlan plan({.n_examples = 37, .per_device_batch = 4, .grad_accum = 2, .n_epochs = 2});
  EXPECT_EQ(plan.global_batch(), 8);
  EXPECT_EQ(plan.steps_per_epoch(), 5);  // the last batch takes the 5 left
  EXPECT_EQ(plan.n_steps(), 10);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::multiset<int64_t> seen;
    for (int64_t s = epoch * 5; s < epoch * 5 + 5; ++s) {
      for (int64_t e : plan.StepExamples(s)) seen.insert(e);
    }
    EXPECT_EQ(seen.size(), 37u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 37u);
  }
  EXPECT_NE(plan.StepExamples(0), plan.StepExamples(5));  // reshuffled per epoch
  EXPECT_DOUBLE_EQ(plan.EpochAfter(4), 1.0);
}

TEST(BatchPlanTest, RanksAndMicroStepsPartitionTheGlobalBatch) {
  // One process with accumulation 4 and two processes with accumulation 2: same global batches.
  const BatchPlan one({.n_examples = 50, .per_device_batch = 3, .grad_accum = 4, .world_size = 1});
  const BatchPlan two({.n_examples = 50, .per_device_batch = 3, .grad_accum = 2, .world_size = 2});
  ASSERT_EQ(one.n_steps(), two.n_steps());
  for (int64_t s = 0; s < one.n_steps(); ++s) {
    const std::vector<int64_t> step = one.StepExamples(s);
    EXPECT_EQ(step, two.StepExamples(s));
    std::vector<int64_t> joined;
    for (int64_t m = 0; m < 2; ++m) {
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t e : two.MicroBatch(step, r, m)) joined.push_back(e);
      }
    }
    EXPECT_EQ(joined, step);
  }
}

TEST(BatchPlanTest, MaxStepsContinuesIntoLaterEpochs) {
  const BatchPlan plan({.n_examples = 10, .per_device_batch = 5, .grad_accum = 1, .max_steps = 7});
  EXPECT_EQ(plan.n_steps(), 7);
  EXPECT_EQ(plan.EpochOf(6), 3);
  EXPECT_EQ(plan.StepExamples(6).size(), 5u);
}

TEST(TrainOptionsTest, RefusesBadValuesByName) {
  TrainOptions o;
  o.model = "m";
  o.data = "d";
  o.output_dir = "out";
  EXPECT_TRUE(ValidateTrainOptions(o).ok());
  TrainOptions bad = o;
  bad.lora.targets = {"q_proj", "lm_head"};
  EXPECT_NE(ValidateTrainOptions(bad).message().find("lm_head"), std::string::npos);
  bad = o;
  bad.lora.dropout = 1.0;
  EXPECT_NE(ValidateTrainOptions(bad).message().find("--lora-dropout"), std::string::npos);
  bad = o;
  bad.grad_accum = 0;
  EXPECT_NE(ValidateTrainOptions(bad).message().find("--grad-accum"), std::string::npos);
  bad = o;
  bad.dist.rank = 2;
  bad.dist.world_size = 2;
  EXPECT_FALSE(ValidateTrainOptions(bad).ok());
  bad = o;
  bad.device = "gpu";
  EXPECT_NE(ValidateTrainOptions(bad).message().find("--device gpu"), std::string::npos);
  bad.device = "cuda:1";
  EXPECT_TRUE(ValidateTrainOptions(bad).ok());
  bad = o;
  bad.data.clear();
  EXPECT_NE(ValidateTrainOptions(bad).message().find("--data"), std::string::npos);
}

}  // namespace
}  // namespace medassist::train
