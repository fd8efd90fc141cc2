// kl-divergence on stories260K (a trained model, so its perplexity means something): a model
// against itself, the scored positions checked against a forward pass run by hand, F32 against
// the same weights exported to Q8_0, and the command run as the real executable, bad input
// included.
#include "apps/kl_divergence.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "apps/kl_divergence_command.h"
#include "model/gguf_export.h"
#include "model/synth_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace medassist::apps {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using medassist::testing::TempDir;

constexpr char kStory[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
    "with her friends. One day, she saw a big red ball under a tree. She ran to the ball and "
    "picked it up. It was shiny and new. Lily wanted to keep the ball, but she knew it was not "
    "hers. She looked around and saw a little boy who was sad. \"Is this your ball?\" Lily asked. "
    "The boy nodded and smiled. \"Thank you for finding it!\" he said. Lily gave him the ball and "
    "they played together all day. They threw the ball high in the sky and laughed. When the sun "
    "went down, Lily's mom called her home. Lily waved goodbye to her new friend. She was happy "
    "because she did the right thing. The next day, Lily went to the park again. The boy was "
    "there with his dog. The dog was big and brown and very friendly. It wagged its tail and "
    "licked Lily's hand. Lily laughed and hugged the dog. The boy said, \"His name is Max. He "
    "likes you!\" Lily and the boy and Max played in the park until it was time to eat. Lily's "
    "mom made a big cake for everyone. They ate the cake and drank milk. It was the best day "
    "ever. From that day on, Lily and the boy were best friends. They played together every day "
    "and shared their toys. Lily learned that being kind and honest makes everyone happy.";

std::string Stories(const std::string& rel) {
  return SharedDataPath("tiny-models/stories260K/" + rel);
}

// stories260K.gguf (all F32) is the base; the test models are written once per test binary.
class KlDivergenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    Result<model::GgufExportSummary> q8 =
        model::ExportGguf({.model_dir = Stories("stories260K-hf-llama"),
                           .out_path = Q8Path(),
                           .tokenizer_path = Stories("stories260K.gguf"),
                           .out_type = model::GgufExportType::kQ8_0});
    ASSERT_TRUE(q8.ok()) << q8.status().ToString();
    // A synthetic Qwen2 with 1024 logits per token (stories260K has 512), with the stories
    // tokenizer padded to 1024 tokens.
    const std::string config = dir_->WriteFile("config.json", R"({
      "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
      "num_key_value_heads": 2, "vocab_size": 1024, "max_position_embeddings": 256,
      "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true,
      "hidden_act": "silu", "torch_dtype": "bfloat16"})");
    Result<model::SynthModelSummary> synth =
        model::SynthModelFolder({.config_path = config,
                                 .out_dir = dir_->path() + "/synth",
                                 .tokenizer_dir = MEDASSIST_TOKENIZER_ASSETS_DIR,
                                 .seed = 1});
    ASSERT_TRUE(synth.ok()) << synth.status().ToString();
    Result<model::GgufExportSummary> other =
        model::ExportGguf({.model_dir = dir_->path() + "/synth",
                           .out_path = OtherVocabPath(),
                           .tokenizer_path = Stories("stories260K.gguf"),
                           .out_type = model::GgufExportType::kF32});
    ASSERT_TRUE(other.ok()) << other.status().ToString();
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Q8Path() { return dir_->path() + "/stories260K-q8_0.gguf"; }
  static std::string OtherVocabPath() { return dir_->path() + "/synth-1024.gguf"; }

  void SetUp() override {
    Result<model::Model> base = model::Model::Open(Stories("stories260K.gguf"));
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::make_unique<model::Model>(std::move(base.value()));
    Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(Stories("stories260K.gguf"));
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    ASSERT_TRUE(tok->add_bos());
    bos_ = *tok->bos_id();
    tokens_ = tok->Encode(kStory, {.add_bos = true});
  }

  static TempDir* dir_;
  std::unique_ptr<model::Model> base_;
  std::vector<int32_t> tokens_;
  int32_t bos_ = 0;
  ThreadPool pool_{2};
};
TempDir* KlDivergenceTest::dir_ = nullptr;

TEST_F(KlDivergenceTest, AModelAgainstItselfIsExactlyZero) {
  model::Forward a(*base_, pool_), b(*base_, pool_);
  Result<KlChunking> plan = PlanKlChunks(static_cast<int64_t>(tokens_.size()), 32, 0, 2048);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_GE(plan->n_chunks, 5);
  Result<KlSummary> s = EvaluateKl({*base_, a}, {*base_, b}, pool_, tokens_, bos_, *plan);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->n_tokens, plan->n_chunks * (32 - 1 - 16));
  EXPECT_EQ(s->kld.mean, 0.0);
  EXPECT_EQ(s->kld_max, 0.0);
  EXPECT_EQ(s->same_top.mean, 1.0);
  EXPECT_EQ(s->ppl_base.mean, s->ppl_model.mean);
  // A trained model on a story of its kind: far better than the uniform 512.
  EXPECT_GT(s->ppl_base.mean, 1.0);
  EXPECT_LT(s->ppl_base.mean, 50.0);
}

// The summed NLL of a chunk's scored tokens computed by hand: the whole chunk with BOS first,
// logits for every row, from an empty cache.
double HandNll(const model::Model& m, model::Forward& forward, std::vector<int32_t> chunk,
               int32_t bos, int32_t first) {
  const int32_t ctx = static_cast<int32_t>(chunk.size());
  const int64_t vocab = m.config().vocab_size;
  chunk[0] = bos;
  Result<model::KvCache> kv =
      model::KvCache::Create(model::KvCacheShape::ForModel(m.config(), (ctx + 15) / 16));
  EXPECT_TRUE(kv.ok());
  model::Batch batch{{}, {{}}};
  for (int32_t b = 0; b < kv->shape().n_blocks; ++b) batch.block_tables[0].push_back(b);
  for (int32_t p = 0; p < ctx; ++p) batch.rows.push_back({0, chunk[p], p, true});
  std::vector<float> logits(static_cast<size_t>(ctx * vocab));
  EXPECT_TRUE(forward.Run(batch, *kv, logits).ok());
  double nll = 0;
  std::vector<double> lp;
  for (int32_t p = first; p <= ctx - 2; ++p) {
    LogSoftmax(std::span<const float>(logits).subspan(p * vocab, vocab), lp);
    nll -= lp[chunk[p + 1]];  // p + 1 >= 1: never the replaced first token
  }
  return nll;
}

TEST_F(KlDivergenceTest, ScoresTheSecondHalfOfEachChunkWithBosFirst) {
  model::Forward a(*base_, pool_), b(*base_, pool_), hand(*base_, pool_);
  const int32_t ctx = 11;  // odd: positions 5..9 predict tokens 6..10
  Result<KlChunking> plan = PlanKlChunks(static_cast<int64_t>(tokens_.size()), ctx, 3, 2048);
  ASSERT_TRUE(plan.ok());
  Result<KlSummary> s = EvaluateKl({*base_, a}, {*base_, b}, pool_, tokens_, bos_, *plan);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->n_tokens, 3 * (ctx - 1 - ctx / 2));
  double nll = 0;
  for (int32_t c = 0; c < 3; ++c) {
    nll += HandNll(*base_, hand,
                   std::vector<int32_t>(tokens_.begin() + c * ctx, tokens_.begin() + (c + 1) * ctx),
                   bos_, ctx / 2);
  }
  EXPECT_NEAR(std::log(s->ppl_base.mean), nll / 15, 1e-9);
  // Without BOS the later chunks start mid-sentence: the figures must differ.
  Result<KlSummary> no_bos =
      EvaluateKl({*base_, a}, {*base_, b}, pool_, tokens_, std::nullopt, *plan);
  ASSERT_TRUE(no_bos.ok());
  EXPECT_NE(no_bos->ppl_base.mean, s->ppl_base.mean);
}

TEST_F(KlDivergenceTest, Q8ZeroAgainstF32IsSmallButPositive) {
  Result<model::Model> q8 = model::Model::Open(Q8Path());
  ASSERT_TRUE(q8.ok()) << q8.status().ToString();
  model::Forward a(*base_, pool_), b(*q8, pool_);
  Result<KlChunking> plan = PlanKlChunks(static_cast<int64_t>(tokens_.size()), 64, 0, 2048);
  ASSERT_TRUE(plan.ok());
  Result<KlSummary> s = EvaluateKl({*base_, a}, {*q8, b}, pool_, tokens_, bos_, *plan);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->n_tokens, plan->n_chunks * 31);
  EXPECT_GT(s->kld.mean, 0.0);
  EXPECT_LT(s->kld.mean, 0.01);
  EXPECT_GE(s->kld_p99, s->kld_median);
  EXPECT_GT(s->same_top.mean, 0.9);
  EXPECT_NEAR(s->ppl_model.mean / s->ppl_base.mean, 1.0, 0.05);
}

TEST_F(KlDivergenceTest, RefusesModelsOfDifferentVocabularySizes) {
  Result<model::Model> other = model::Model::Open(OtherVocabPath());
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  model::Forward a(*base_, pool_), b(*other, pool_);
  Result<KlChunking> plan = PlanKlChunks(static_cast<int64_t>(tokens_.size()), 32, 1, 256);
  ASSERT_TRUE(plan.ok());
  Result<KlSummary> s = EvaluateKl({*base_, a}, {*other, b}, pool_, tokens_, bos_, *plan);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("share one vocabulary"), std::string::npos);
}

TEST(SftJsonlTextTest, JoinsFieldsAndRowsWithBlankLines) {
  TempDir dir;
  const std::string path = dir.WriteFile(
      "rows.jsonl",
      "{\"Question\": \"Q1\", \"Complex_CoT\": \"C1\", \"Response\": \"R1\", \"x\": 1}\n\n"
      "{\"Question\": \"Q2\\nmore\", \"Complex_CoT\": \"C2\", \"Response\": \"R2\"}\n");
  Result<std::string> text = SftJsonlText(path);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "Q1\n\nC1\n\nR1\n\nQ2\nmore\n\nC2\n\nR2");
  Result<std::string> missing =
      SftJsonlText(dir.WriteFile("bad.jsonl", "{\"Question\": \"Q\", \"Response\": \"R\"}\n"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("bad.jsonl:1"), std::string::npos);
  EXPECT_NE(missing.status().message().find("Complex_CoT"), std::string::npos);
  EXPECT_FALSE(SftJsonlText(dir.WriteFile("broken.jsonl", "{\"Question\": ")).ok());
  EXPECT_FALSE(SftJsonlText(dir.WriteFile("empty.jsonl", "\n\n")).ok());
  EXPECT_FALSE(SftJsonlText(dir.path() + "/absent.jsonl").ok());
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ProcessRun {
  int code;  // -1 when the process did not exit normally (a crash)
  std::string out, err;
};

ProcessRun Medassist(const std::vector<std::string>& args) {
  TempDir dir;
  std::string cmd = ShellQuote(MEDASSIST_BIN);
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  cmd += " > " + dir.path() + "/out 2> " + dir.path() + "/err";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFileOrFail(dir.path() + "/out"),
          ReadFileOrFail(dir.path() + "/err")};
}

TEST_F(KlDivergenceTest, CommandPrintsJsonAndMarkdown) {
  const std::string text = dir_->WriteFile("story.txt", kStory);
  ProcessRun run = Medassist({"kl-divergence", "--base", Stories("stories260K.gguf"), "--model",
                              Q8Path(), "--text", text, "--ctx", "32", "--chunks", "3", "--threads",
                              "2", "--output", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json out = nlohmann::json::parse(run.out);
  EXPECT_EQ(out["ctx"], 32);
  EXPECT_EQ(out["chunks"], 3);
  EXPECT_EQ(out["tokens_scored"], 3 * 15);
  EXPECT_GT(out["kld_mean"].get<double>(), 0.0);
  EXPECT_GT(out["same_top_p"].get<double>(), 0.8);

  const std::string rows = dir_->WriteFile(
      "rows.jsonl",
      nlohmann::json(
          {{"Question", "What happened?"}, {"Complex_CoT", kStory}, {"Response", "Lily was kind."}})
              .dump() +
          "\n");
  run = Medassist({"kl-divergence", "--base", Stories("stories260K.gguf"), "--model", Q8Path(),
                   "--sft-jsonl", rows, "--ctx", "64", "--threads", "1"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("| base | model | ctx |"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("| 64 |"), std::string::npos) << run.out;
}

TEST_F(KlDivergenceTest, CommandRefusesBadInputClearly) {
  const std::string base = Stories("stories260K.gguf");
  const std::string text = dir_->WriteFile("story2.txt", kStory);
  const std::string short_text = dir_->WriteFile("short.txt", "Once upon a time");
  struct Case {
    std::vector<std::string> args;
    const char* expected;  // in stderr
  };
  const std::vector<Case> cases = {
      {{"--model", dir_->path() + "/absent.gguf", "--text", text}, "absent.gguf"},
      {{"--model", Q8Path(), "--text", dir_->path() + "/absent.txt"}, "absent.txt"},
      {{"--model", Q8Path(), "--text", text, "--ctx", "3"}, "too small"},
      {{"--model", Q8Path(), "--text", text, "--ctx", "4096"}, "exceeds the models' context"},
      {{"--model", Q8Path(), "--text", short_text, "--ctx", "64"}, "fewer than one chunk"},
      {{"--model", Q8Path(), "--text", text, "--sft-jsonl", text}, "exactly one of"},
      {{"--model", Q8Path()}, "exactly one of"},
      {{"--model", Q8Path(), "--text", text, "--output", "csv"}, "md or json"},
      {{"--model", OtherVocabPath(), "--text", text}, "different vocabularies"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"kl-divergence", "--base", base};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const ProcessRun run = Medassist(args);
    EXPECT_EQ(run.code, 1) << c.expected << "\n" << run.err;
    EXPECT_NE(run.err.find(c.expected), std::string::npos) << run.err;
  }
}

}  // namespace
}  // namespace medassist::apps
