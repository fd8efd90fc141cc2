// A real run on the tiny stories260K model (it knows no medicine: only that the harness completes
// on a small subset and writes well-formed results), through the runner and through the CLI.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "core/file.h"
#include "eval/datasets.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "formats/json_util.h"
#include "runtime/loaded_model.h"
#include "server/local_backend.h"
#include "support/test_support.h"

namespace medassist::eval {
namespace {

using medassist::testing::SharedDataPath;

std::string Gguf() { return SharedDataPath("tiny-models/stories260K/stories260K.gguf"); }

std::unique_ptr<server::LocalBackend> Stories() {
  Result<runtime::LoadedModel> m = runtime::LoadModelWithTokenizer(Gguf(), "");
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return nullptr;
  server::LocalBackendOptions options{
      .engine = {.n_kv_blocks = 512, .context = 2048, .max_batch_tokens = 256, .max_running = 16}};
  Result<std::unique_ptr<server::LocalBackend>> b = server::LocalBackend::Create(
      std::move(m).value(), std::make_unique<ThreadPool>(2), model::Forward::Options{}, options);
  EXPECT_TRUE(b.ok()) << b.status().message();
  return b.ok() ? std::move(b).value() : nullptr;
}

// The same backend seen as a remote one: no tokenizer, so the continuation is found by bytes.
class WithoutTokenizer : public server::Backend {
 public:
  explicit WithoutTokenizer(server::Backend& inner) : inner_(inner) {}
  Result<std::unique_ptr<server::BackendStream>> Start(const server::BackendRequest& r) override {
    return inner_.Start(r);
  }
  server::BackendHealth Health() const override { return inner_.Health(); }
  const char* kind() const override { return "remote"; }
  const tokenizer::Tokenizer* tokenizer() const override { return nullptr; }
  std::optional<runtime::EngineMetrics> engine_metrics() const override { return std::nullopt; }
  int32_t context_length() const override { return inner_.context_length(); }

 private:
  server::Backend& inner_;
};

std::vector<EvalItem> Subset() {
  std::vector<EvalItem> items;
  for (const char* set : {"medqa_4op", "pubmedqa"}) {
    Result<LoadedSet> s = LoadSet(SharedDataPath(""), set);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) continue;
    for (EvalItem& item : SelectSubset(std::move(s->items), 3, 0)) items.push_back(std::move(item));
  }
  return items;
}

TEST(TinyModelEvalTest, LoglikelihoodCompletesAndMatchesTheTextPath) {
  std::unique_ptr<server::LocalBackend> backend = Stories();
  ASSERT_NE(backend, nullptr);
  const std::vector<EvalItem> items = Subset();
  ASSERT_EQ(items.size(), 6u);
  medassist::testing::TempDir dir;
  RunnerOptions o{
      .results_path = dir.path() + "/items.jsonl", .model = "stories260K", .concurrency = 8};
  Result<RunOutcome> run = RunEval(*backend, items, o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->results.size(), 6u);
  for (const ItemResult& r : run->results) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    ASSERT_EQ(r.logprobs.size(), r.set == "pubmedqa" ? 3u : 4u);
    for (double lp : r.logprobs) {
      EXPECT_TRUE(std::isfinite(lp) && lp < 0.0) << r.set << " " << r.id << ": " << lp;
    }
    EXPECT_EQ(r.correct, r.pred == r.answer);
  }
  Result<std::vector<StoredRow>> rows = LoadResultRows(o.results_path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), 6u);
  EvalSummary s = Summarize(run->results, Protocol::kLoglikelihood, "stories260K");
  EXPECT_EQ(s.overall.acc.n, 6);
  ASSERT_EQ(s.sets.size(), 2u);

  // Scored through the text and prompt-token bytes (the remote path), each option gets the same
  // log-likelihood: both paths find the same continuation tokens.
  WithoutTokenizer remote_like(*backend);
  Result<RunOutcome> text_run = RunEval(remote_like, items, {.model = "stories260K"});
  ASSERT_TRUE(text_run.ok()) << text_run.status().ToString();
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(text_run->results[i].logprobs.size(), run->results[i].logprobs.size());
    for (size_t c = 0; c < run->results[i].logprobs.size(); ++c) {
      EXPECT_NEAR(text_run->results[i].logprobs[c], run->results[i].logprobs[c], 1e-3)
          << items[i].set << " " << items[i].id << " option " << c;
    }
  }
}

TEST(TinyModelEvalTest, GenerateCompletes) {
  std::unique_ptr<server::LocalBackend> backend = Stories();
  ASSERT_NE(backend, nullptr);
  const std::vector<EvalItem> items = Subset();
  RunnerOptions o{.protocol = Protocol::kGenerate,
                  .model = "stories260K",
                  .concurrency = 6,
                  .max_new_tokens = 24,
                  .seed = 3};
  Result<RunOutcome> run = RunEval(*backend, items, o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->results.size(), 6u);
  for (const ItemResult& r : run->results) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_FALSE(r.output.empty());
    EXPECT_FALSE(r.extraction.empty());
    EXPECT_EQ(r.correct, r.pred >= 0 && r.pred == r.answer);
  }
  // The same seed gives the same outputs (each item's seed derives from --seed and its id).
  Result<RunOutcome> again = RunEval(*backend, items, o);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(again->results[i].output, run->results[i].output);
  }
}

TEST(TinyModelEvalTest, CliWritesTheReport) {
  medassist::testing::TempDir dir;
  const std::string out = dir.path() + "/eval";
  const std::string cmd = std::string(MEDASSIST_BIN) + " eval --model '" + Gguf() +
                          "' --data-dir '" + SharedDataPath("") +
                          "' --sets pubmedqa,mmlu_anatomy --limit 3 --protocol loglikelihood "
                          "--threads 2 --out '" +
                          out + "' > '" + dir.path() + "/stdout' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0)
      << medassist::testing::ReadFileOrFail(dir.path() + "/stdout");
  const std::string md = medassist::testing::ReadFileOrFail(out + "/summary-loglikelihood.md");
  EXPECT_NE(md.find("| pubmedqa | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| mmlu_anatomy | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| overall | 6 |"), std::string::npos) << md;
  Result<nlohmann::json> summary = formats::ReadJsonFile(out + "/summary-loglikelihood.json");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ((*summary)["overall"]["acc"]["n"], 6);
  const std::string html = medassist::testing::ReadFileOrFail(out + "/report-loglikelihood.html");
  EXPECT_EQ(html.find("<!doctype html>"), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  Result<std::vector<StoredRow>> rows = LoadResultRows(out + "/items-loglikelihood.jsonl");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 6u);
  // Run again: everything is resumed, nothing is added.
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  rows = LoadResultRows(out + "/items-loglikelihood.jsonl");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 6u);
}

}  // namespace
}  // namespace medassist::eval
