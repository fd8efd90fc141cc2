// The reference forward pass against the outside world: Karpathy's stories260K (llama2.c), loaded
// from its GGUF file (interleaved-pair RoPE), the Hugging Face Llama folder and the Qwen2 folder
// (rotate-half RoPE, q/k/v biases), must reproduce the published 200-token greedy story and the
// reference logits of ../shared/data/tiny-models/stories260K/stories260K_reference.json.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "forward_test_util.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace medassist::model {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using testing::GreedyDecode;
using testing::MakeSequenceCache;
using testing::Prefill;

std::string StoriesPath(const std::string& name) {
  return SharedDataPath("tiny-models/stories260K/" + name);
}

const nlohmann::json& Reference() {
  static const nlohmann::json kReference =
      nlohmann::json::parse(ReadFileOrFail(StoriesPath("stories260K_reference.json")));
  return kReference;
}

// The same weights in three layouts.
class StoriesForwardTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    Result<Model> model = Model::Open(StoriesPath(GetParam()));
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::make_unique<Model>(std::move(model.value()));
  }
  std::unique_ptr<Model> model_;
};

float MaxAbsDiff(const std::vector<float>& got, const nlohmann::json& want) {
  EXPECT_EQ(got.size(), want.size());
  float max_diff = 0.0f;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(got[i] - want[i].get<float>()));
  }
  return max_diff;
}

TEST_P(StoriesForwardTest, ConfigMatchesTheTinyModel) {
  const formats::ModelConfig& c = model_->config();
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.vocab_size, 512);
  const bool gguf = model_->format() == ModelFormat::kGguf;
  EXPECT_EQ(model_->rope_style(), gguf ? RopeStyle::kInterleavedPairs : RopeStyle::kRotateHalf);
}

TEST_P(StoriesForwardTest, LogitsAfterBosMatchReference) {
  testing::SequenceCache cache = MakeSequenceCache(*model_, 1);
  const std::vector<float> logits = Prefill(*model_, cache, {1}, 0, false);
  // The reference file rounds to 6 significant digits (4.4e-5 at these magnitudes).
  EXPECT_LT(MaxAbsDiff(logits, Reference()["bos_greedy_200"]["logits_pos0_after_BOS"]), 1e-4f);
}

TEST_P(StoriesForwardTest, GreedyStoryFromBosMatchesLlama2c) {
  const nlohmann::json& ref = Reference()["bos_greedy_200"];
  const auto want = ref["generated_ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(want.size(), 200u);
  const std::vector<int32_t> got =
      GreedyDecode(*model_, ref["prompt_ids"].get<std::vector<int32_t>>(), 200);
  EXPECT_EQ(got, want);

  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(StoriesPath("stories260K.gguf"));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Decode(got), ref["text"].get<std::string>());
}

TEST_P(StoriesForwardTest, OnceUponATimePromptMatchesReference) {
  const nlohmann::json& ref = Reference()["once_upon_a_time_greedy_16"];
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  testing::SequenceCache cache = MakeSequenceCache(*model_, static_cast<int32_t>(prompt.size()));
  const std::vector<float> logits = Prefill(*model_, cache, prompt, 0, false);
  EXPECT_LT(MaxAbsDiff(logits, ref["logits_last_prompt_pos"]), 1e-4f);

  const auto want = ref["generated_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> got = GreedyDecode(*model_, prompt, static_cast<int32_t>(want.size()));
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Layouts, StoriesForwardTest,
                         ::testing::Values("stories260K.gguf", "stories260K-hf-llama",
                                           "stories260K-hf-qwen2"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           std::string name = param.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace medassist::model
