// The readers on the real files of ../shared/data: row counts from SOURCES.md section 5, the MMLU
// subject ranges, and exact scores of the scripted stand-in on a whole set.
#include <gtest/gtest.h>

#include "eval/datasets.h"
#include "eval/prompts.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "scripted_backend.h"
#include "support/test_support.h"

namespace medassist::eval {
namespace {

std::string DataDir() { return medassist::testing::SharedDataPath(""); }

LoadedSet Load(const std::string& name) {
  Result<LoadedSet> s = LoadSet(DataDir(), name);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : LoadedSet{};
}

TEST(DatasetsGoldenTest, RowCountsMatchSources) {
  const std::pair<const char*, size_t> expected[] = {{"medqa_4op", 1273},
                                                     {"medqa_5op", 1273},
                                                     {"medmcqa", 4183},
                                                     {"pubmedqa", 500},
                                                     {"mmlu_anatomy", 135},
                                                     {"mmlu_clinical_knowledge", 265},
                                                     {"mmlu_college_biology", 144},
                                                     {"mmlu_college_medicine", 173},
                                                     {"mmlu_medical_genetics", 100},
                                                     {"mmlu_professional_medicine", 272},
                                                     {"medqa_zh_4op", 3426},
                                                     {"cmexam", 6811 - 204},
                                                     {"medical_o1_demo", 198}};
  for (const auto& [name, rows] : expected) {
    LoadedSet s = Load(name);
    EXPECT_EQ(s.items.size(), rows) << name;
    for (const EvalItem& item : s.items) {
      ASSERT_EQ(item.set, name);
      ASSERT_GE(item.answer_index, 0);
      ASSERT_LT(item.answer_index, static_cast<int32_t>(item.choices.size()));
    }
  }
  EXPECT_EQ(Load("cmexam").n_multi_answer_skipped, 204);
}

TEST(DatasetsGoldenTest, FirstRowsAndRanges) {
  LoadedSet medqa = Load("medqa_4op");
  ASSERT_FALSE(medqa.items.empty());
  EXPECT_EQ(medqa.items[0].id, "0");
  EXPECT_TRUE(medqa.items[0].question.starts_with("A junior orthopaedic surgery resident"));
  EXPECT_EQ(medqa.items[0].choices.size(), 4u);
  // MMLU: anatomy starts the file, professional medicine ends it (problem ids are row numbers).
  LoadedSet anatomy = Load("mmlu_anatomy");
  EXPECT_EQ(anatomy.items.front().id, "0");
  EXPECT_EQ(anatomy.items.back().id, "134");
  LoadedSet genetics = Load("mmlu_medical_genetics");
  EXPECT_EQ(genetics.items.front().id, "717");
  EXPECT_EQ(genetics.items.back().id, "816");
  LoadedSet pro = Load("mmlu_professional_medicine");
  EXPECT_EQ(pro.items.front().id, "817");
  EXPECT_EQ(pro.items.back().id, "1088");
  // PubMedQA's abstract comes from ori_pqal.json, its sections joined by "\n" as in lm-eval.
  LoadedSet pubmed = Load("pubmedqa");
  ASSERT_FALSE(pubmed.items.empty());
  EXPECT_EQ(pubmed.items[0].id, "24507422");
  EXPECT_EQ(pubmed.items[0].choices, (std::vector<std::string>{"yes", "no", "maybe"}));
  EXPECT_NE(pubmed.items[0].context.find("morphometric analysis can be performed. The objective"),
            std::string::npos);
  EXPECT_NE(pubmed.items[0].context.find("plaque.\nWe collected 23"), std::string::npos);
  LoadedSet o1 = Load("medical_o1_demo");
  ASSERT_FALSE(o1.items.empty());
  EXPECT_EQ(o1.items[0].choices.size(), 5u);
  EXPECT_EQ(o1.items[0].answer_index, 3);  // "D": Parvovirus B19 infection
  EXPECT_EQ(o1.items[0].choices[3], "Parvovirus B19 infection");
}

TEST(DatasetsGoldenTest, StandInScoresMedQaExactly) {
  // The answer letters of medqa_en_4op.jsonl: a 353, b 309, c 346, d 265.
  const std::vector<EvalItem> items = Load("medqa_4op").items;
  ASSERT_EQ(items.size(), 1273u);
  for (Protocol protocol : {Protocol::kLoglikelihood, Protocol::kGenerate}) {
    ScriptedBackend always_a(items, Policy::kAlwaysA);
    Result<RunOutcome> run = RunEval(always_a, items, {.protocol = protocol, .model = "a"});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    EvalSummary s = Summarize(run->results, protocol, "a");
    EXPECT_EQ(s.overall.acc.k, 353) << ProtocolName(protocol);
    EXPECT_EQ(s.overall.acc.n, 1273);
    EXPECT_NEAR(s.overall.acc.lo, 0.253404018853, 1e-9);
    EXPECT_NEAR(s.overall.acc.hi, 0.302531452945, 1e-9);
  }
}

}  // namespace
}  // namespace medassist::eval
