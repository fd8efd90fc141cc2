// GreedyGenerator on stories260K against llama2.c's greedy reference generations.
#include "runtime/greedy_generator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>

#include "formats/json_util.h"
#include "runtime/loaded_model.h"
#include "support/test_support.h"

namespace medassist::runtime {
namespace {

using medassist::testing::SharedDataPath;

std::string StoriesGguf() { return SharedDataPath("tiny-models/stories260K/stories260K.gguf"); }

std::vector<int32_t> ReferenceIds(const std::string& key) {
  Result<nlohmann::json> ref =
      formats::ReadJsonFile(SharedDataPath("tiny-models/stories260K/stories260K_reference.json"));
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  if (!ref.ok()) return {};
  return (*ref)[key]["generated_ids"].get<std::vector<int32_t>>();
}

class StoriesGenerator : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<model::Model> m = model::Model::Open(StoriesGguf());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_.emplace(std::move(m).value());
  }
  GreedyGenerator MakeGenerator(int32_t context) {
    Result<GreedyGenerator> gen = GreedyGenerator::Create(*model_, context);
    EXPECT_TRUE(gen.ok()) << gen.status().ToString();
    return std::move(gen).value();
  }
  // llama2.c stops on BOS (1) and EOS (2).
  GenerateOptions Options(int32_t max_new_tokens) {
    return {.max_new_tokens = max_new_tokens, .eos_ids = {1, 2}};
  }

  std::optional<model::Model> model_;
  const std::vector<int32_t> bos_ = {1};
};

TEST_F(StoriesGenerator, GreedyFromBosMatchesReference) {
  const std::vector<int32_t> expected = ReferenceIds("bos_greedy_200");
  ASSERT_EQ(expected.size(), 200u);
  GreedyGenerator gen = MakeGenerator(512);
  std::vector<int32_t> streamed;
  GenerateOptions options = Options(200);
  options.on_token = [&](int32_t id) {
    streamed.push_back(id);
    return true;
  };
  Result<GenerateResult> r = gen.Generate(bos_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ids, expected);
  EXPECT_EQ(streamed, expected);
  EXPECT_EQ(r->finish, FinishReason::kLength);
}

TEST_F(StoriesGenerator, PromptContinuationMatchesReferenceAndIsRepeatable) {
  const std::vector<int32_t> expected = ReferenceIds("once_upon_a_time_greedy_16");
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  GreedyGenerator gen = MakeGenerator(64);
  for (int round = 0; round < 2; ++round) {  // a second call starts a fresh sequence
    Result<GenerateResult> r = gen.Generate(prompt, Options(static_cast<int32_t>(expected.size())));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->ids, expected) << "round " << round;
  }
}

TEST_F(StoriesGenerator, MaxNewTokensStopsWithLength) {
  const std::vector<int32_t> expected = ReferenceIds("bos_greedy_200");
  GreedyGenerator gen = MakeGenerator(512);
  Result<GenerateResult> r = gen.Generate(bos_, Options(5));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ids, std::vector<int32_t>(expected.begin(), expected.begin() + 5));
  EXPECT_EQ(r->finish, FinishReason::kLength);
}

TEST_F(StoriesGenerator, LongPromptIsPrefilledInChunks) {
  // 340 tokens decoded one by one from BOS; then BOS + the first 300 of them as a prompt, which is
  // prefilled in two chunks (256 + 45 rows), must continue with the same 40 (batch invariance).
  GreedyGenerator gen = MakeGenerator(512);
  GenerateOptions no_eos = {.max_new_tokens = 340};
  Result<GenerateResult> one_by_one = gen.Generate(bos_, no_eos);
  ASSERT_TRUE(one_by_one.ok()) << one_by_one.status().ToString();
  const std::vector<int32_t>& ids = one_by_one->ids;
  ASSERT_EQ(ids.size(), 340u);
  std::vector<int32_t> prompt = bos_;
  prompt.insert(prompt.end(), ids.begin(), ids.begin() + 300);
  no_eos.max_new_tokens = 40;
  Result<GenerateResult> r = gen.Generate(prompt, no_eos);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ids, std::vector<int32_t>(ids.begin() + 300, ids.end()));
}

TEST_F(StoriesGenerator, CancelFlagStopsBetweenSteps) {
  std::atomic<bool> cancel{true};
  GreedyGenerator gen = MakeGenerator(512);
  GenerateOptions options = Options(200);
  options.cancel = &cancel;
  Result<GenerateResult> r = gen.Generate(bos_, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kCancelled);
  EXPECT_TRUE(r->ids.empty());
  // Set from the callback after the third token: the generator stops before computing a fourth.
  cancel = false;
  int n_seen = 0;
  options.on_token = [&](int32_t) {
    if (++n_seen == 3) cancel = true;
    return true;
  };
  r = gen.Generate(bos_, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kCancelled);
  EXPECT_EQ(r->ids.size(), 3u);
}

TEST_F(StoriesGenerator, CallbackReturningFalseStops) {
  GreedyGenerator gen = MakeGenerator(512);
  GenerateOptions options = Options(200);
  options.on_token = [](int32_t id) { return id != 261; };  // 261 is the 3rd token ("▁a")
  Result<GenerateResult> r = gen.Generate(bos_, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kCancelled);
  EXPECT_EQ(r->ids, (std::vector<int32_t>{403, 407, 261}));
}

TEST_F(StoriesGenerator, ContextLimitIsATypedOutcome) {
  const std::vector<int32_t> expected = ReferenceIds("bos_greedy_200");
  GreedyGenerator gen = MakeGenerator(20);
  EXPECT_EQ(gen.context(), 20);
  Result<GenerateResult> r = gen.Generate(bos_, Options(200));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->finish, FinishReason::kContext);
  // The sequence (1 prompt token + 19 generated) fills the 20 positions exactly.
  EXPECT_EQ(r->ids, std::vector<int32_t>(expected.begin(), expected.begin() + 19));
}

TEST_F(StoriesGenerator, ContextIsCappedAtTheModelsMaximum) {
  EXPECT_EQ(MakeGenerator(1 << 20).context(), model_->config().max_position_embeddings);
}

TEST_F(StoriesGenerator, EosStopsAndIsNotReturned) {
  GreedyGenerator gen = MakeGenerator(512);
  GenerateOptions options = Options(200);
  options.eos_ids = {261};  // pretend "▁a" ends the sequence
  Result<GenerateResult> r = gen.Generate(bos_, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kEos);
  EXPECT_EQ(r->ids, (std::vector<int32_t>{403, 407}));
}

TEST_F(StoriesGenerator, BadPromptsAreErrors) {
  GreedyGenerator gen = MakeGenerator(20);
  std::vector<int32_t> long_prompt(21, 403);
  Result<GenerateResult> r = gen.Generate(long_prompt, Options(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("21 tokens, more than the context of 20"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(gen.Generate({}, Options(5)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(gen.Generate(std::vector<int32_t>{1, 99999}, Options(5)).ok());
  EXPECT_EQ(GreedyGenerator::Create(*model_, 0).status().code(), StatusCode::kInvalidArgument);
  // A prompt that fills the context exactly leaves no room: no token, no error.
  Result<GenerateResult> full = gen.Generate(std::vector<int32_t>(20, 403), Options(5));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->finish, FinishReason::kContext);
  EXPECT_TRUE(full->ids.empty());
}

TEST(ArgmaxTest, TiesGoToTheLowestId) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(Argmax(logits), 1);
  EXPECT_EQ(Argmax(std::vector<float>{3.0f}), 0);
}

TEST(LoadModelWithTokenizerTest, GgufBringsItsTokenizerAndEos) {
  Result<LoadedModel> m = LoadModelWithTokenizer(StoriesGguf(), "");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->tokenizer.vocab_size(), 512);
  EXPECT_EQ(m->tokenizer.Encode("Once upon a time", {.add_bos = m->tokenizer.add_bos()}),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(m->eos_ids, std::vector<int32_t>{2});
}

TEST(LoadModelWithTokenizerTest, HfFolderWithoutTokenizerFilesSaysUseTokenizerFlag) {
  const std::string folder = SharedDataPath("tiny-models/stories260K/stories260K-hf-qwen2");
  Result<LoadedModel> none = LoadModelWithTokenizer(folder, "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("--tokenizer"), std::string::npos)
      << none.status().message();
  Result<LoadedModel> with = LoadModelWithTokenizer(folder, StoriesGguf());
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->eos_ids, std::vector<int32_t>{2});
}

TEST(LoadModelWithTokenizerTest, RefusesATokenizerLargerThanTheModel) {
  Result<LoadedModel> m = LoadModelWithTokenizer(StoriesGguf(), SharedDataPath("qwen-tokenizer"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("do not belong together"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace medassist::runtime
