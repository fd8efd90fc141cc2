// SFT examples on the real Qwen2.5 tokenizer: the SFT vectors' ids and prompt masks, the mixed
// targets on the 198 demo rows, truncation and dropping, the eval split, the per-epoch order.
#include "datasets/sft_examples.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace medassist::datasets {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using medassist::testing::TempDir;
using nlohmann::json;
using tokenizer::ChatTemplate;
using tokenizer::TokenId;
using tokenizer::Tokenizer;

const Tokenizer& Qwen() {
  static const Tokenizer t = [] {
    Result<Tokenizer> r = Tokenizer::Load(SharedDataPath("qwen-tokenizer"));
    CHECK(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }();
  return t;
}

const ChatTemplate& QwenChat() {
  static const ChatTemplate t = [] {
    Result<ChatTemplate> r = ChatTemplate::ForTokenizer(Qwen());
    CHECK(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }();
  return t;
}

// Figures of the 198 demo rows under the default options (seed 42, share 0.3, max_length 2048,
// eval_share 0.05); the reasoning count is also what an independent Python transcription of
// RowHash gives.
constexpr int64_t kDemoReasoning = 58;  // 29.3% of 198
constexpr int64_t kDemoTruncated = 0;   // the longest demo example is under 2048 tokens
constexpr int64_t kDemoTokens = 71448;
constexpr int64_t kDemoMasked = 14898;
// 16 of 198 (expected 9.9 +- 3.1 at 5%): also what the Python transcription gives.
const std::vector<int64_t> kDemoEvalRows = {26,  37,  42,  64,  65,  85,  102, 105,
                                            107, 119, 124, 127, 132, 146, 165, 189};
const std::vector<int64_t> kPinnedOrder = {0, 5, 7, 1, 8, 4, 9, 2, 3, 6};

std::string DemoPath() { return SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"); }

std::vector<SftRow> DemoRows() {
  std::vector<SftRow> rows;
  Result<SftReadStats> s = ReadSftRows(DemoPath(), {}, [&](SftRow r) {
    rows.push_back(std::move(r));
    return true;
  });
  CHECK(s.ok()) << s.status().ToString();
  return rows;
}

SftExampleEncoder Encoder(const SftMixOptions& o = {}) {
  Result<SftExampleEncoder> e = SftExampleEncoder::Create(o, Qwen(), QwenChat());
  CHECK(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

SftExampleSet Build(const std::string& path, const SftMixOptions& o,
                    const SftReadOptions& read = {}) {
  Result<SftExampleSet> set = BuildSftExamples(path, read, o, Qwen(), QwenChat());
  CHECK(set.ok()) << set.status().ToString();
  return std::move(set).value();
}

std::string AssistantText(const SftExample& e) {
  return Qwen().Decode(std::span<const TokenId>(e.ids).subspan(e.n_prompt_tokens));
}

std::vector<int64_t> RowIndices(const std::vector<SftExample>& v) {
  std::vector<int64_t> out;
  for (const SftExample& e : v) out.push_back(e.row_index);
  return out;
}

// The vectors are the first 5 demo rows with the reasoning target, no system message (so the
// template's default one), labels -100 for the prompt and the ids after it.
TEST(SftExamplesTest, ReasoningTargetGivesTheSftVectorsIdsAndMask) {
  json sft =
      json::parse(ReadFileOrFail(SharedDataPath("qwen-tokenizer/qwen2_5_sft_chat_vectors.json")));
  ASSERT_EQ(sft["cases"].size(), 5u);
  std::vector<SftRow> rows = DemoRows();
  SftExampleEncoder encoder = Encoder();
  for (const json& c : sft["cases"]) {
    const SftRow& row = rows.at(c["row_index"].get<size_t>());
    EXPECT_EQ(encoder.Target(row, true), c["assistant_content"].get<std::string>());
    Result<SftExample> e = encoder.Encode(row, /*with_reasoning=*/true);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    std::vector<TokenId> ids = c["input_ids"];
    EXPECT_EQ(e->ids, ids);
    EXPECT_EQ(e->n_prompt_tokens, c["num_prompt_tokens_masked"].get<int32_t>());
    EXPECT_EQ(e->ids.size(), c["num_tokens"].get<size_t>());
    std::vector<int32_t> labels = SftLabels(*e);
    ASSERT_EQ(labels.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      int32_t expected = i < static_cast<size_t>(e->n_prompt_tokens) ? -100 : ids[i];
      ASSERT_EQ(labels[i], expected) << "token " << i;
    }
    // The loss covers the closing <|im_end|> and the "\n" after it.
    EXPECT_EQ(labels[labels.size() - 2], 151645);
    EXPECT_EQ(labels.back(), 198);
  }
}

TEST(SftExamplesTest, TargetTextsDecodeBackExactly) {
  std::vector<SftRow> rows = DemoRows();
  SftExampleEncoder encoder = Encoder();
  const SftRow& row = rows[7];
  Result<SftExample> answer = encoder.Encode(row, false);
  Result<SftExample> reasoning = encoder.Encode(row, true);
  ASSERT_TRUE(answer.ok() && reasoning.ok());
  EXPECT_EQ(AssistantText(*answer), row.response + "<|im_end|>\n");
  EXPECT_EQ(AssistantText(*reasoning), "## Thinking\n\n" + row.reasoning +
                                           "\n\n## Final Response\n\n" + row.response +
                                           "<|im_end|>\n");
  // Same prompt either way: the system default, the question, the assistant header.
  EXPECT_EQ(answer->n_prompt_tokens, reasoning->n_prompt_tokens);
  EXPECT_EQ(Qwen().Decode(std::span<const TokenId>(answer->ids).first(answer->n_prompt_tokens)),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\n" +
                row.question + "<|im_end|>\n<|im_start|>assistant\n");
}

TEST(SftExamplesTest, TemplatesAndSystemPromptAreConfigurable) {
  SftMixOptions o;
  o.reasoning_template = "<think>{cot}</think>{response}";
  o.answer_template = "Q: {question} A: {response} {";
  o.system_prompt = "You are a careful medical assistant.";
  SftExampleEncoder encoder = Encoder(o);
  SftRow row{.line = 3, .index = 2, .question = "q?", .reasoning = "because", .response = "r."};
  EXPECT_EQ(encoder.Target(row, true), "<think>because</think>r.");
  EXPECT_EQ(encoder.Target(row, false), "Q: q? A: r. {");
  Result<SftExample> e = encoder.Encode(row, false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Qwen().Decode(e->ids),
            "<|im_start|>system\nYou are a careful medical assistant.<|im_end|>\n"
            "<|im_start|>user\nq?<|im_end|>\n<|im_start|>assistant\nQ: q? A: r. {<|im_end|>\n");
  EXPECT_EQ(e->row_index, 2);
  EXPECT_EQ(e->line, 3);
}

TEST(SftExamplesTest, BadOptionsAreRefusedNamingTheProblem) {
  SftMixOptions o;
  o.reasoning_template = "{cot}\n{answer}";
  Status s = ValidateSftMixOptions(o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("reasoning_template: unknown placeholder '{answer}'"),
            std::string::npos)
      << s.message();
  o = {};
  o.answer_template = "{Response}";
  EXPECT_NE(ValidateSftMixOptions(o).message().find("answer_template: unknown placeholder "
                                                    "'{Response}'"),
            std::string::npos);
  o = {};
  o.answer_template = "{}";
  EXPECT_NE(ValidateSftMixOptions(o).message().find("'{}'"), std::string::npos);
  o = {};
  o.reasoning_share = 1.5;
  EXPECT_NE(ValidateSftMixOptions(o).message().find("reasoning_share 1.5"), std::string::npos);
  o = {};
  o.eval_share = 1;
  EXPECT_EQ(ValidateSftMixOptions(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.max_length = 0;
  EXPECT_EQ(ValidateSftMixOptions(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.answer_template = "{question";  // not a placeholder: literal text
  EXPECT_TRUE(ValidateSftMixOptions(o).ok());
  // The builder refuses before reading.
  o = {};
  o.answer_template = "{reply}";
  Result<SftExampleSet> set = BuildSftExamples(DemoPath(), {}, o, Qwen(), QwenChat());
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("'{reply}'"), std::string::npos);
}

TEST(SftExamplesTest, ReasoningShareOverTenThousandRows) {
  SftMixOptions o;
  int n = 0;
  for (int64_t i = 0; i < 10000; ++i) n += PicksReasoning(o, i);
  EXPECT_NEAR(n / 10000.0, 0.3, 0.015);
  o.reasoning_share = 0;
  for (int64_t i = 0; i < 1000; ++i) ASSERT_FALSE(PicksReasoning(o, i));
  o.reasoning_share = 1;
  for (int64_t i = 0; i < 1000; ++i) ASSERT_TRUE(PicksReasoning(o, i));
  // Another seed picks other rows, about as many.
  SftMixOptions a, b;
  b.seed = 7;
  int n_b = 0, n_differ = 0;
  for (int64_t i = 0; i < 10000; ++i) {
    n_b += PicksReasoning(b, i);
    n_differ += PicksReasoning(a, i) != PicksReasoning(b, i);
  }
  EXPECT_NEAR(n_b / 10000.0, 0.3, 0.015);
  EXPECT_NEAR(n_differ / 10000.0, 2 * 0.3 * 0.7, 0.02);
}

TEST(SftExamplesTest, TenThousandSyntheticRowsThroughTheBuilder) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 10000; ++i) {
    text += json{{"Question", fmt::format("q{}", i)},
                 {"Complex_CoT", fmt::format("c{}", i)},
                 {"Response", fmt::format("r{}", i)}}
                .dump() +
            "\n";
  }
  SftMixOptions o;
  o.eval_share = 0.1;
  SftExampleSet set = Build(dir.WriteFile("rows.jsonl", text), o);
  EXPECT_EQ(set.stats.rows_read, 10000);
  EXPECT_EQ(set.train.size() + set.eval.size(), 10000u);
  EXPECT_NEAR(set.stats.with_reasoning / 10000.0, 0.3, 0.015);
  EXPECT_NEAR(set.eval.size() / 10000.0, 0.1, 0.01);
  for (const auto* part : {&set.train, &set.eval}) {
    for (const SftExample& e : *part) {
      ASSERT_EQ(e.with_reasoning, PicksReasoning(o, e.row_index));
      ASSERT_EQ(e.line, e.row_index + 1);
    }
  }
}

TEST(SftExamplesTest, DemoRowsFigures) {
  SftExampleSet set = Build(DemoPath(), {});
  const SftExampleStats& s = set.stats;
  EXPECT_EQ(s.rows_read, 198);
  EXPECT_EQ(s.rows_skipped, 0);
  EXPECT_EQ(s.dropped, 0);
  EXPECT_EQ(s.reasoning_without_cot, 0);
  // Recount from the examples themselves.
  int64_t n_reasoning = 0, n_tokens = 0, n_masked = 0, n_truncated = 0;
  for (const auto* part : {&set.train, &set.eval}) {
    for (const SftExample& e : *part) {
      n_reasoning += e.with_reasoning;
      n_tokens += static_cast<int64_t>(e.ids.size());
      n_masked += e.n_prompt_tokens;
      n_truncated += e.truncated;
      ASSERT_LE(e.ids.size(), 2048u);
      ASSERT_EQ(e.with_reasoning, PicksReasoning({}, e.row_index));
    }
  }
  EXPECT_EQ(s.with_reasoning, n_reasoning);
  EXPECT_EQ(s.n_tokens, n_tokens);
  EXPECT_EQ(s.n_tokens_masked, n_masked);
  EXPECT_EQ(s.truncated, n_truncated);
  // The figures for seed 42, share 0.3, max_length 2048, eval_share 0.05.
  EXPECT_EQ(s.with_reasoning, kDemoReasoning);
  EXPECT_EQ(s.truncated, kDemoTruncated);
  EXPECT_EQ(s.n_tokens, kDemoTokens);
  EXPECT_EQ(s.n_tokens_masked, kDemoMasked);
  EXPECT_EQ(RowIndices(set.eval), kDemoEvalRows);
}

// Each row's full length and prompt length at max_length 2048; a limit under most rows then
// truncates those whose prompt fits and drops those whose prompt alone fills it.
TEST(SftExamplesTest, TruncationKeepsThePromptAndCutsTheReply) {
  SftExampleSet full = Build(DemoPath(), {.eval_count = 0});
  ASSERT_EQ(full.train.size(), 198u);
  std::map<int64_t, const SftExample*> by_row;
  for (const SftExample& e : full.train) by_row[e.row_index] = &e;
  const int32_t limit = 120;
  int64_t want_truncated = 0, want_dropped = 0;
  for (const SftExample& e : full.train) {
    if (e.n_prompt_tokens >= limit) {
      ++want_dropped;
    } else if (e.ids.size() > static_cast<size_t>(limit)) {
      ++want_truncated;
    }
  }
  ASSERT_GT(want_dropped, 0);  // the demo rows have prompts on both sides of 120 tokens
  ASSERT_GT(want_truncated, 0);

  SftExampleSet cut = Build(DemoPath(), {.max_length = limit, .eval_count = 0});
  EXPECT_EQ(cut.stats.truncated, want_truncated);
  EXPECT_EQ(cut.stats.dropped, want_dropped);
  EXPECT_EQ(static_cast<int64_t>(cut.train.size()), 198 - want_dropped);
  for (const SftExample& e : cut.train) {
    const SftExample& whole = *by_row.at(e.row_index);
    ASSERT_LE(e.ids.size(), static_cast<size_t>(limit));
    EXPECT_EQ(e.truncated, whole.ids.size() > static_cast<size_t>(limit));
    EXPECT_EQ(e.n_prompt_tokens, whole.n_prompt_tokens);
    EXPECT_TRUE(std::equal(e.ids.begin(), e.ids.end(), whole.ids.begin()));
  }
  // Dropped rows are reported with their line.
  ASSERT_FALSE(cut.stats.problems.empty());
  EXPECT_NE(cut.stats.problems[0].find("(line "), std::string::npos);
  EXPECT_NE(cut.stats.problems[0].find("over max_length 120; dropped"), std::string::npos)
      << cut.stats.problems[0];

  SftExampleSet dropped =
      Build(DemoPath(), {.max_length = limit, .overlong = Overlong::kDrop, .eval_count = 0});
  EXPECT_EQ(dropped.stats.truncated, 0);
  EXPECT_EQ(dropped.stats.dropped, want_truncated + want_dropped);
  for (const SftExample& e : dropped.train) ASSERT_EQ(e.ids, by_row.at(e.row_index)->ids);
}

TEST(SftExamplesTest, FitToLengthEdges) {
  SftExample e{.ids = {1, 2, 3, 4, 5}, .n_prompt_tokens = 3};
  SftExample copy = e;
  EXPECT_EQ(FitToLength(copy, 5, Overlong::kTruncate), FitOutcome::kFits);
  EXPECT_EQ(FitToLength(copy, 4, Overlong::kTruncate), FitOutcome::kTruncated);
  EXPECT_EQ(copy.ids, (std::vector<TokenId>{1, 2, 3, 4}));
  EXPECT_TRUE(copy.truncated);
  copy = e;
  EXPECT_EQ(FitToLength(copy, 3, Overlong::kTruncate), FitOutcome::kDropped);  // no reply left
  EXPECT_EQ(FitToLength(copy, 4, Overlong::kDrop), FitOutcome::kDropped);
  EXPECT_EQ(copy.ids.size(), 5u);
}

TEST(SftExamplesTest, EvalSplitIsDisjointStableAndPerRow) {
  SftExampleSet a = Build(DemoPath(), {});
  SftExampleSet b = Build(DemoPath(), {});
  std::vector<int64_t> train = RowIndices(a.train), eval = RowIndices(a.eval);
  EXPECT_EQ(train, RowIndices(b.train));
  EXPECT_EQ(eval, RowIndices(b.eval));
  std::vector<int64_t> all = train;
  all.insert(all.end(), eval.begin(), eval.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(198);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);  // disjoint, and together every row
  for (int64_t i : eval) EXPECT_LT(RowUniform(42, kEvalStream, i), 0.05);
  for (int64_t i : train) EXPECT_GE(RowUniform(42, kEvalStream, i), 0.05);

  // A file of the first 100 rows: each row lands on the same side.
  std::string first_100;
  std::string demo = ReadFileOrFail(DemoPath());
  for (size_t pos = 0, n = 0; n < 100; ++n) {
    size_t eol = demo.find('\n', pos);
    first_100 += demo.substr(pos, eol + 1 - pos);
    pos = eol + 1;
  }
  TempDir dir;
  SftExampleSet part = Build(dir.WriteFile("first100.jsonl", first_100), {});
  std::vector<int64_t> eval_below_100;
  for (int64_t i : eval) {
    if (i < 100) eval_below_100.push_back(i);
  }
  EXPECT_EQ(RowIndices(part.eval), eval_below_100);

  // An absolute count: exactly that many, stable, and the smallest hashes.
  SftExampleSet c = Build(DemoPath(), {.eval_count = 20});
  SftExampleSet d = Build(DemoPath(), {.eval_count = 20});
  ASSERT_EQ(c.eval.size(), 20u);
  EXPECT_EQ(c.train.size(), 178u);
  EXPECT_EQ(RowIndices(c.eval), RowIndices(d.eval));
  uint64_t max_eval = 0, min_train = UINT64_MAX;
  for (const SftExample& e : c.eval)
    max_eval = std::max(max_eval, RowHash(42, kEvalStream, e.row_index));
  for (const SftExample& e : c.train) {
    min_train = std::min(min_train, RowHash(42, kEvalStream, e.row_index));
  }
  EXPECT_LT(max_eval, min_train);
  Result<SftExampleSet> too_many =
      BuildSftExamples(DemoPath(), {}, {.eval_count = 198}, Qwen(), QwenChat());
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("leaves no training examples"), std::string::npos);
}

TEST(SftExamplesTest, MalformedRowsAreCountedSkippedOrRefused) {
  TempDir dir;
  std::string good = R"({"Question":"q","Complex_CoT":"c","Response":"r"})";
  std::string path =
      dir.WriteFile("rows.jsonl", good + "\n" + R"({"Question":"q","Response":"r"})" + "\n" + good +
                                      "\n" + "not json\n" + good + "\n");
  SftExampleSet set = Build(path, {.eval_count = 0});
  EXPECT_EQ(set.stats.rows_read, 3);
  EXPECT_EQ(set.stats.rows_skipped, 2);
  ASSERT_EQ(set.stats.problems.size(), 2u);
  EXPECT_EQ(set.stats.problems[0], "row 2 (line 2): field 'Complex_CoT' is missing");
  EXPECT_EQ(set.stats.problems[1], "row 4 (line 4): the line is not valid JSON");
  EXPECT_EQ(RowIndices(set.train), (std::vector<int64_t>{0, 2, 4}));
  Result<SftExampleSet> refused =
      BuildSftExamples(path, {.on_malformed = MalformedRows::kRefuse}, {}, Qwen(), QwenChat());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("line 2"), std::string::npos);
}

TEST(SftExamplesTest, ReasoningRowWithoutCotFallsBackToTheAnswer) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text += json{{"Question", "q"}, {"Complex_CoT", ""}, {"Response", "r"}}.dump() + "\n";
  }
  SftExampleSet set = Build(dir.WriteFile("rows.jsonl", text), {.eval_count = 0});
  int64_t picked = 0;
  for (int64_t i = 0; i < 20; ++i) picked += PicksReasoning({}, i);
  ASSERT_GT(picked, 0);
  EXPECT_EQ(set.stats.reasoning_without_cot, picked);
  EXPECT_EQ(set.stats.with_reasoning, 0);
  for (const SftExample& e : set.train) EXPECT_EQ(AssistantText(e), "r<|im_end|>\n");
}

bool IsPermutation(std::vector<int64_t> order) {
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

TEST(SftExamplesTest, EpochOrderIsASeededPermutationPerEpoch) {
  std::vector<int64_t> e0 = EpochOrder(1000, 42, 0);
  std::vector<int64_t> e1 = EpochOrder(1000, 42, 1);
  EXPECT_TRUE(IsPermutation(e0));
  EXPECT_TRUE(IsPermutation(e1));
  EXPECT_EQ(e0, EpochOrder(1000, 42, 0));
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, EpochOrder(1000, 43, 0));
  EXPECT_TRUE(EpochOrder(0, 42, 0).empty());
  EXPECT_EQ(EpochOrder(1, 42, 5), std::vector<int64_t>{0});
  // Pinned: the same on every standard library (mt19937_64 is fixed by the standard; the draw
  // and the shuffle are ours). Also computed by an independent Python transcription.
  EXPECT_EQ(EpochOrder(10, 42, 0), kPinnedOrder);
  // The engine is the standard's: its 10000th output from the default seed.
  std::mt19937_64 gen;
  gen.discard(9999);
  EXPECT_EQ(gen(), 9981545732273789042ULL);
}

TEST(SftExamplesTest, EpochOrderIsUniformOverPermutations) {
  // 4 items, 2400 epochs: each of the 24 orders about 100 times (sd ~9.8).
  std::map<std::vector<int64_t>, int> counts;
  for (int64_t epoch = 0; epoch < 2400; ++epoch) ++counts[EpochOrder(4, 42, epoch)];
  EXPECT_EQ(counts.size(), 24u);
  for (const auto& [order, n] : counts) {
    EXPECT_GT(n, 55);
    EXPECT_LT(n, 145);
  }
}

}  // namespace
}  // namespace medassist::datasets
