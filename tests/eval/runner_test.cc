// The harness against a scripted stand-in model: exact scores, intervals, resume, refusals.
#include "eval/runner.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "core/file.h"
#include "eval/loglikelihood.h"
#include "eval/prompts.h"
#include "eval/report.h"
#include "scripted_backend.h"
#include "support/test_support.h"

namespace medassist::eval {
namespace {

// 8 four-option items whose answers run A, B, C, D, A, ... and 3 PubMedQA-style ones.
std::vector<EvalItem> Items() {
  std::vector<EvalItem> items;
  for (int i = 0; i < 8; ++i) {
    items.push_back({.id = std::to_string(i),
                     .set = "medqa_4op",
                     .question = std::string("Question number ") + std::to_string(i) + "?",
                     .choices = {std::string("w") + std::to_string(i), "x", "y", "z"},
                     .answer_index = i % 4});
  }
  for (int i = 0; i < 3; ++i) {
    items.push_back({.id = std::string("p") + std::to_string(i),
                     .set = "pubmedqa",
                     .question = std::string("Does ") + std::to_string(i) + " work?",
                     .context = "Abstract.",
                     .choices = {"yes", "no", "maybe"},
                     .answer_index = i});
  }
  return items;
}

RunnerOptions Options(Protocol protocol, const std::string& path = "") {
  return {.protocol = protocol, .results_path = path, .model = "scripted", .concurrency = 4};
}

const SetSummary* FindSetSummary(const EvalSummary& s, const std::string& set) {
  for (const SetSummary& x : s.sets) {
    if (x.set == set) return &x;
  }
  return nullptr;
}

class RunnerProtocolTest : public ::testing::TestWithParam<Protocol> {};

TEST_P(RunnerProtocolTest, AlwaysAScoresTheShareOfAAnswers) {
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kAlwaysA);
  Result<RunOutcome> run = RunEval(backend, items, Options(GetParam()));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->results.size(), items.size());
  EvalSummary s = Summarize(run->results, GetParam(), "scripted");
  const SetSummary* medqa = FindSetSummary(s, "medqa_4op");
  ASSERT_NE(medqa, nullptr);
  EXPECT_EQ(medqa->acc.k, 2);  // items 0 and 4
  EXPECT_EQ(medqa->acc.n, 8);
  EXPECT_DOUBLE_EQ(medqa->acc.p, 0.25);
  const SetSummary* pubmed = FindSetSummary(s, "pubmedqa");
  ASSERT_NE(pubmed, nullptr);
  EXPECT_EQ(pubmed->acc.k, 1);
  EXPECT_EQ(s.overall.acc.k, 3);
  EXPECT_EQ(s.overall.acc.n, 11);
  // The interval is Wilson's for 3 of 11.
  Proportion expected = WilsonInterval(3, 11);
  EXPECT_DOUBLE_EQ(s.overall.acc.lo, expected.lo);
  EXPECT_DOUBLE_EQ(s.overall.acc.hi, expected.hi);
  for (const ItemResult& r : run->results) {
    EXPECT_EQ(r.pred, 0) << r.set << " " << r.id;
    EXPECT_EQ(r.correct, r.answer == 0);
  }
  if (GetParam() == Protocol::kLoglikelihood) {
    ASSERT_TRUE(medqa->acc_norm.has_value());
    EXPECT_EQ(medqa->acc_norm->k, 2);
    EXPECT_EQ(s.overall.acc_norm->k, 3);
  } else {
    EXPECT_FALSE(medqa->acc_norm.has_value());
    EXPECT_EQ(run->results[0].extraction, "answer-is");
  }
}

TEST_P(RunnerProtocolTest, OracleScoresEverything) {
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kOracle);
  Result<RunOutcome> run = RunEval(backend, items, Options(GetParam()));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EvalSummary s = Summarize(run->results, GetParam(), "scripted");
  EXPECT_EQ(s.overall.acc.k, 11);
  EXPECT_EQ(s.overall.acc.n, 11);
  EXPECT_DOUBLE_EQ(s.overall.acc.p, 1.0);
  EXPECT_NEAR(s.overall.acc.lo, 0.741167033032, 1e-9);  // Wilson, 11 of 11
  EXPECT_DOUBLE_EQ(s.overall.acc.hi, 1.0);
}

TEST_P(RunnerProtocolTest, SeededRandomScoresItsOwnMatches) {
  const std::vector<EvalItem> items = Items();
  for (uint64_t seed : {1u, 2u, 3u}) {
    ScriptedBackend backend(items, Policy::kRandom, seed);
    int64_t expected = 0;
    for (const EvalItem& item : items) expected += backend.Choice(item) == item.answer_index;
    Result<RunOutcome> run = RunEval(backend, items, Options(GetParam()));
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    EvalSummary s = Summarize(run->results, GetParam(), "scripted");
    EXPECT_EQ(s.overall.acc.k, expected) << "seed " << seed;
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(run->results[i].pred, backend.Choice(items[i]));
    }
  }
}

TEST_P(RunnerProtocolTest, ResumesWithoutScoringAnItemTwice) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/items.jsonl";
  const std::vector<EvalItem> items = Items();
  ScriptedBackend first(items, Policy::kRandom, 7);
  RunnerOptions o = Options(GetParam(), path);
  o.stop_after = 4;
  Result<RunOutcome> part = RunEval(first, items, o);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_TRUE(part->interrupted);
  EXPECT_EQ(part->n_new, 4);
  EXPECT_EQ(part->results.size(), 4u);
  Result<std::vector<StoredRow>> rows = LoadResultRows(path);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 4u);

  ScriptedBackend second(items, Policy::kRandom, 7);
  o.stop_after = -1;
  Result<RunOutcome> rest = RunEval(second, items, o);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_FALSE(rest->interrupted);
  EXPECT_EQ(rest->n_resumed, 4);
  EXPECT_EQ(rest->n_new, 7);
  // The second run asked only about the 7 items the first did not finish.
  std::map<std::string, int64_t> asked = second.requests_per_item();
  EXPECT_EQ(asked.size(), 7u);
  for (const StoredRow& row : *rows)
    EXPECT_FALSE(asked.contains(row.result.set + "/" + row.result.id));
  for (const auto& [key, n] : asked) EXPECT_EQ(n, 1) << key;

  rows = LoadResultRows(path);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), items.size());
  std::set<std::string> keys;
  for (const StoredRow& row : *rows) keys.insert(row.result.set + "/" + row.result.id);
  EXPECT_EQ(keys.size(), items.size());

  ScriptedBackend whole(items, Policy::kRandom, 7);
  Result<RunOutcome> once = RunEval(whole, items, Options(GetParam()));
  ASSERT_TRUE(once.ok());
  EvalSummary a = Summarize(rest->results, GetParam(), "scripted");
  EvalSummary b = Summarize(once->results, GetParam(), "scripted");
  EXPECT_EQ(a.overall.acc.k, b.overall.acc.k);
  EXPECT_EQ(SummaryMarkdown(a), SummaryMarkdown(b));
  // A third run finds everything done and asks nothing.
  ScriptedBackend third(items, Policy::kRandom, 7);
  Result<RunOutcome> none = RunEval(third, items, o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->n_new, 0);
  EXPECT_EQ(third.n_requests(), 0);
}

INSTANTIATE_TEST_SUITE_P(Protocols, RunnerProtocolTest,
                         ::testing::Values(Protocol::kLoglikelihood, Protocol::kGenerate),
                         [](const auto& param_info) {
                           return std::string(ProtocolName(param_info.param));
                         });

TEST(RunnerTest, CutShortLastRowIsDroppedAndRedone) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/items.jsonl";
  const std::vector<EvalItem> items = Items();
  ScriptedBackend first(items, Policy::kOracle);
  RunnerOptions o = Options(Protocol::kGenerate, path);
  o.stop_after = 3;
  ASSERT_TRUE(RunEval(first, items, o).ok());
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"set": "medqa_4op", "id": "9", "pro)";  // the process died mid-write
  }
  o.stop_after = -1;
  ScriptedBackend second(items, Policy::kOracle);
  Result<RunOutcome> rest = RunEval(second, items, o);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->n_resumed, 3);
  EXPECT_EQ(rest->n_new, 8);
  Result<std::vector<StoredRow>> rows = LoadResultRows(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), items.size());
}

TEST(RunnerTest, BadRowInTheMiddleIsRefused) {
  medassist::testing::TempDir dir;
  const std::string path = dir.WriteFile("items.jsonl", "{oops\n{\"set\": \"s\", \"id\": \"1\"}\n");
  Result<std::vector<StoredRow>> rows = LoadResultRows(path);
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(rows.status().message().find("items.jsonl:1:"), std::string::npos);
}

TEST(RunnerTest, AnotherModelsResultsAreRefused) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/items.jsonl";
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kOracle);
  RunnerOptions o = Options(Protocol::kGenerate, path);
  o.stop_after = 1;
  ASSERT_TRUE(RunEval(backend, items, o).ok());
  o.model = "other";
  Result<RunOutcome> run = RunEval(backend, items, o);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("holds generate results of model 'scripted'"),
            std::string::npos)
      << run.status().message();
}

TEST(RunnerTest, EndpointWithoutEchoIsRefusedClearly) {
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kOracle, 0, /*echo=*/false);
  Result<RunOutcome> run = RunEval(backend, items, Options(Protocol::kLoglikelihood));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(run.status().message().find(
                "this endpoint does not return prompt logprobs (echo); use --protocol generate"),
            std::string::npos)
      << run.status().message();
}

TEST(RunnerTest, RefusedItemIsRecordedAndScoredWrong) {
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kOracle);
  backend.Refuse("medqa_4op/3");
  Result<RunOutcome> run = RunEval(backend, items, Options(Protocol::kGenerate));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EvalSummary s = Summarize(run->results, Protocol::kGenerate, "scripted");
  EXPECT_EQ(s.overall.acc.k, 10);
  EXPECT_EQ(s.overall.acc.n, 11);
  EXPECT_EQ(s.overall.n_errors, 1);
  EXPECT_EQ(s.overall.n_no_answer, 0);
  const ItemResult& refused = run->results[3];
  EXPECT_EQ(refused.id, "3");
  EXPECT_FALSE(refused.correct);
  EXPECT_EQ(refused.error, "the prompt is longer than the context");
  EXPECT_EQ(refused.prompt, BuildGeneratePrompt(items[3]));
  EXPECT_NE(SummaryMarkdown(s).find("1 item(s) were refused by the backend"), std::string::npos);
}

TEST(RunnerTest, RefusingEveryItemStopsTheRun) {
  const std::vector<EvalItem> items = Items();
  ScriptedBackend backend(items, Policy::kOracle);
  backend.Refuse("*");
  Result<RunOutcome> run = RunEval(backend, items, Options(Protocol::kLoglikelihood));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.status().message().find("the backend refused the first 8 items"), std::string::npos)
      << run.status().message();
}

TEST(RunnerTest, RowsRoundTrip) {
  ItemResult r{.set = "pubmedqa",
               .id = "12",
               .prompt = "p",
               .output = " no",
               .answer = 2,
               .pred = 1,
               .pred_norm = 2,
               .logprobs = {-1.5, -0.25, -0.5},
               .correct = false,
               .correct_norm = true};
  Result<StoredRow> row = ParseItemResultLine(ItemResultLine(r, Protocol::kLoglikelihood, "m"));
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->protocol, "loglikelihood");
  EXPECT_EQ(row->model, "m");
  EXPECT_EQ(row->result.pred, 1);
  EXPECT_EQ(row->result.pred_norm, 2);
  EXPECT_EQ(row->result.answer, 2);
  EXPECT_EQ(row->result.logprobs, r.logprobs);
  EXPECT_TRUE(row->result.correct_norm);
  EXPECT_EQ(ItemResultLine(r, Protocol::kGenerate, "m"),
            R"({"answer":"C","correct":false,"extraction":"","id":"12","model":"m",)"
            R"("output":" no","pred":"B","prompt":"p","protocol":"generate","set":"pubmedqa"})");
}

TEST(ContinuationLogprobTest, ByBytesFromTheEnd) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<server::PromptToken> t = {{.bytes = "<s>", .logprob = nan},
                                        {.bytes = "Answer", .logprob = -1.0f},
                                        {.bytes = ":", .logprob = -2.0f},
                                        {.bytes = " ma", .logprob = -0.5f},
                                        {.bytes = "ybe", .logprob = -0.25f}};
  Result<double> lp = ContinuationLogprob(t, -1, " maybe");
  ASSERT_TRUE(lp.ok());
  EXPECT_DOUBLE_EQ(*lp, -0.75);
  lp = ContinuationLogprob(t, 3, " maybe");  // counted: the last three tokens
  ASSERT_TRUE(lp.ok());
  EXPECT_DOUBLE_EQ(*lp, -2.75);
  EXPECT_EQ(ContinuationLogprob(t, 5, " x").status().code(), StatusCode::kDataLoss);  // NaN
  EXPECT_EQ(ContinuationLogprob({}, -1, " x").status().code(), StatusCode::kUnimplemented);
}

TEST(PickChoicesTest, AccNormDividesByCharacters) {
  const std::vector<int32_t> lengths = {3, 2, 5};
  ChoiceScores s = PickChoices({-3.0, -2.5, -4.0}, lengths);
  EXPECT_EQ(s.pred, 1);       // -2.5 is the largest
  EXPECT_EQ(s.pred_norm, 2);  // -0.8 beats -1.0 and -1.25
  s = PickChoices({-1.0, -1.0, -1.0}, std::vector<int32_t>{1, 1, 1});
  EXPECT_EQ(s.pred, 0);  // ties: the first, as numpy's argmax
  EXPECT_EQ(s.pred_norm, 0);
}

}  // namespace
}  // namespace medassist::eval
