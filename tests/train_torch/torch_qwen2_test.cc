// The LibTorch model against the inference engine's F32 reference forward pass (the oracle every
// fast path is checked against), LoRA's identity at step 0, the LoRA gradients against finite
// differences, and the SFT loss's masking.
#include "train/torch_qwen2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../model/forward_test_util.h"
#include "../model/synthetic_qwen2.h"
#include "support/test_support.h"
#include "train/sft_loss.h"

namespace medassist::train {
namespace {

using medassist::testing::SharedDataPath;

const std::vector<int32_t> kIds = {1, 403, 407, 261, 378, 11, 300, 42, 97, 5, 260, 311, 2, 17};

model::Model OpenOrDie(const std::string& path) {
  Result<model::Model> m = model::Model::Open(path);
  CHECK(m.ok()) << m.status().ToString();
  return std::move(m.value());
}

// Logits of every position of kIds from the engine's reference pass.
std::vector<float> ReferenceLogits(const model::Model& m) {
  model::testing::SequenceCache cache = model::testing::MakeSequenceCache(m, 64);
  return model::testing::Prefill(m, cache, kIds, 0, /*all_logits=*/true);
}

torch::Tensor TorchLogits(const TorchQwen2& net) {
  torch::Tensor ids = torch::tensor(std::vector<int64_t>(kIds.begin(), kIds.end())).view({1, -1});
  torch::Tensor hidden = net.Hidden(ids, nullptr);
  return net.Logits(hidden.view({-1, hidden.size(-1)}));
}

void ExpectMatchesReference(const std::string& path, double tolerance) {
  model::Model reference_model = OpenOrDie(path);
  const std::vector<float> want = ReferenceLogits(reference_model);
  Result<TorchQwen2> net = TorchQwen2::FromModel(OpenOrDie(path), torch::kFloat32);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  torch::NoGradGuard no_grad;
  torch::Tensor got = TorchLogits(*net).contiguous();
  ASSERT_EQ(got.numel(), std::ssize(want));
  double max_diff = 0, max_abs = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(double(got.data_ptr<float>()[i]) - want[size_t(i)]));
    max_abs = std::max(max_abs, std::abs(double(want[size_t(i)])));
  }
  EXPECT_GT(max_abs, 0.1);  // the logits are not degenerate
  EXPECT_LT(max_diff, tolerance) << path;
}

TEST(TorchQwen2Test, LogitsMatchTheEngineOnStoriesQwen2) {
  ExpectMatchesReference(SharedDataPath("tiny-models/stories260K/stories260K-hf-qwen2"), 2e-4);
}

TEST(TorchQwen2Test, LogitsMatchTheEngineOnStoriesLlama) {
  ExpectMatchesReference(SharedDataPath("tiny-models/stories260K/stories260K-hf-llama"), 2e-4);
}

TEST(TorchQwen2Test, LogitsMatchTheEngineOnSyntheticQwen2WithBiases) {
  const model::Model& synthetic = model::testing::SyntheticQwen2();
  ASSERT_TRUE(synthetic.config().attention_qkv_bias);
  ExpectMatchesReference(synthetic.path(), 2e-4);
}

TEST(TorchQwen2Test, GgufBaseIsRefused) {
  Result<TorchQwen2> net = TorchQwen2::FromModel(
      OpenOrDie(SharedDataPath("tiny-models/stories260K/stories260K.gguf")), torch::kFloat32);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("safetensors folder"), std::string::npos);
}

TEST(TorchQwen2Test, FreshLoraLeavesLogitsBitIdentical) {
  const std::string path = model::testing::SyntheticQwen2().path();
  Result<TorchQwen2> net = TorchQwen2::FromModel(OpenOrDie(path), torch::kFloat32);
  ASSERT_TRUE(net.ok());
  torch::NoGradGuard no_grad;
  torch::Tensor before = TorchLogits(*net);
  net->AddLora({.r = 8, .alpha = 16, .dropout = 0.0}, 1);
  ASSERT_EQ(net->LoraParameters().size(), 2u * 7u * 2u);  // A and B, 7 projections, 2 layers
  EXPECT_GT(net->LoraParameters()[0].abs().sum().item<double>(), 0);  // A random
  EXPECT_EQ(net->LoraParameters()[1].abs().sum().item<double>(), 0);  // B zero
  EXPECT_TRUE(torch::equal(before, TorchLogits(*net)));
}

TEST(TorchQwen2Test, SameSeedSameInitialisation) {
  const std::string path = model::testing::SyntheticQwen2().path();
  Result<TorchQwen2> a = TorchQwen2::FromModel(OpenOrDie(path), torch::kFloat32);
  Result<TorchQwen2> b = TorchQwen2::FromModel(OpenOrDie(path), torch::kFloat32);
  a->AddLora({.r = 4}, 9);
  b->AddLora({.r = 4}, 9);
  EXPECT_TRUE(torch::equal(a->LoraParameters()[0], b->LoraParameters()[0]));
}

// The SFT loss of one example, in float64 (B made nonzero so every LoRA matrix has a gradient).
struct GradFixture {
  std::vector<datasets::SftExample> examples;
  std::optional<TorchQwen2> net;
  PackedBatch batch;

  GradFixture() {
    Result<TorchQwen2> made =
        TorchQwen2::FromModel(OpenOrDie(model::testing::SyntheticQwen2().path()), torch::kFloat64);
    CHECK(made.ok());
    net.emplace(std::move(made.value()));
    net->AddLora({.r = 2, .alpha = 4, .dropout = 0.0}, 3);
    torch::NoGradGuard no_grad;
    for (size_t i = 1; i < net->LoraParameters().size(); i += 2) {
      net->LoraParameters()[i].normal_(0, 0.05);
    }
    datasets::SftExample e;
    e.ids = {1, 40, 41, 42, 43, 44, 45, 46};
    e.n_prompt_tokens = 3;
    examples.push_back(e);
    const int64_t id = 0;
    batch = PackBatch(examples, std::span<const int64_t>(&id, 1), 0);
  }
  double Loss() { return SftLoss(*net, batch, 0, 0, false).loss_sum.item<double>(); }
};

TEST(TorchQwen2Test, LoraGradientsMatchFiniteDifferences) {
  GradFixture f;
  LossOutput out = SftLoss(*f.net, f.batch, 0, 0, false);
  out.loss_sum.backward();
  const std::vector<torch::Tensor> params = f.net->LoraParameters();
  int checked = 0;
  for (size_t p = 0; p < params.size(); p += 5) {  // a spread of A and B matrices
    torch::Tensor grad = params[p].grad();
    ASSERT_TRUE(grad.defined());
    for (int64_t i = 0; i < params[p].numel(); i += std::max<int64_t>(1, params[p].numel() / 3)) {
      const double h = 1e-6;
      double* value = params[p].data_ptr<double>() + i;
      const double saved = *value;
      *value = saved + h;
      const double up = f.Loss();
      *value = saved - h;
      const double down = f.Loss();
      *value = saved;
      const double numeric = (up - down) / (2 * h);
      const double analytic = grad.data_ptr<double>()[i];
      EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-5 * std::abs(numeric))
          << "param " << p << " index " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(SftLossTest, OnlyTheReplyIsScoredAndTheLossIsItsCrossEntropy) {
  std::vector<datasets::SftExample> examples(2);
  examples[0].ids = {5, 6, 7, 8, 9};
  examples[0].n_prompt_tokens = 3;
  examples[1].ids = {10, 11, 12};
  examples[1].n_prompt_tokens = 1;
  const std::vector<int64_t> ids = {0, 1};
  PackedBatch batch = PackBatch(examples, ids, /*pad_id=*/0);
  EXPECT_EQ(batch.ids.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(batch.n_targets, 2 + 2);
  EXPECT_EQ(CountTargets(examples, ids), 4);
  // Row 0 predicts ids 8, 9 from positions 2, 3; row 1 predicts 11, 12 from positions 0, 1.
  EXPECT_EQ(std::vector<int64_t>(batch.positions.data_ptr<int64_t>(),
                                 batch.positions.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{2, 3, 5, 6}));
  EXPECT_EQ(std::vector<int64_t>(batch.targets.data_ptr<int64_t>(),
                                 batch.targets.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{8, 9, 11, 12}));
  EXPECT_EQ(batch.ids[1][4].item<int64_t>(), 0);  // padding

  Result<TorchQwen2> net =
      TorchQwen2::FromModel(OpenOrDie(model::testing::SyntheticQwen2().path()), torch::kFloat32);
  ASSERT_TRUE(net.ok());
  torch::NoGradGuard no_grad;
  LossOutput out = SftLoss(*net, batch, 0, 0, false);
  // By hand: each example alone, log-softmax at the predicting positions.
  double want = 0;
  for (int e = 0; e < 2; ++e) {
    const auto& ex = examples[size_t(e)];
    torch::Tensor in =
        torch::tensor(std::vector<int64_t>(ex.ids.begin(), ex.ids.end())).view({1, -1});
    torch::Tensor hidden = net->Hidden(in, nullptr);
    torch::Tensor logp = torch::log_softmax(net->Logits(hidden.view({-1, hidden.size(-1)})), -1);
    for (size_t t = size_t(ex.n_prompt_tokens); t < ex.ids.size(); ++t) {
      want -= logp[int64_t(t) - 1][ex.ids[t]].item<double>();
    }
  }
  EXPECT_NEAR(out.stats.loss_sum, want, 1e-4 * std::abs(want));
  EXPECT_EQ(out.stats.n_tokens, 4);
  EXPECT_GE(out.stats.correct, 0);
  EXPECT_LE(out.stats.correct, 4);
  EXPECT_GT(out.stats.entropy_sum, 0);
  EXPECT_LE(out.stats.entropy_sum / 4, std::log(double(net->config().vocab_size)) + 1e-4);
}

}  // namespace
}  // namespace medassist::train
