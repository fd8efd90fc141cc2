// The set readers on hand-made rows, good and malformed, and the subset selection.
#include "eval/datasets.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace medassist::eval {
namespace {

constexpr const char* kGoodRow =
    R"({"problem_id": 3, "problem_text": "Q?", "choices": ["a", "b", "c"], "answer": ["b"]})";

TEST(ParseBenchmarkJsonlTest, ReadsRows) {
  int64_t multi = 0;
  const std::string text = std::string(kGoodRow) + "\n" +
                           R"({"problem_id": "x9", "problem_text": "P?", "context": "ctx",)"
                           R"( "choices": ["yes", "no"], "answer": ["A"], "points": 1})" +
                           "\n\n";
  Result<std::vector<EvalItem>> items = ParseBenchmarkJsonl(text, "s", "f.jsonl", &multi);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].id, "3");
  EXPECT_EQ((*items)[0].set, "s");
  EXPECT_EQ((*items)[0].question, "Q?");
  EXPECT_EQ((*items)[0].choices, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*items)[0].answer_index, 1);
  EXPECT_EQ((*items)[1].id, "x9");
  EXPECT_EQ((*items)[1].context, "ctx");
  EXPECT_EQ((*items)[1].answer_index, 0);
  EXPECT_EQ(multi, 0);
}

TEST(ParseBenchmarkJsonlTest, MultiAnswerRowsAreCountedAndLeftOut) {
  int64_t multi = 0;
  const std::string text = std::string(kGoodRow) + "\n" +
                           R"({"problem_id": 4, "problem_text": "Q?", "choices": ["a", "b"],)"
                           R"( "answer": ["a", "b"]})";
  Result<std::vector<EvalItem>> items = ParseBenchmarkJsonl(text, "s", "f.jsonl", &multi);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 1u);
  EXPECT_EQ(multi, 1);
}

TEST(ParseBenchmarkJsonlTest, MalformedRowsAreReportedWithLineNumbers) {
  struct Case {
    std::string row, expected;
  };
  const Case cases[] = {
      {"{not json", "line 2: "},
      {"[1, 2]", "line 2: a row must be a JSON object"},
      {R"({"problem_text": "Q", "choices": ["a", "b"], "answer": ["a"]})",
       "line 2: no 'problem_id'"},
      {R"({"problem_id": 1.5, "problem_text": "Q", "choices": ["a", "b"], "answer": ["a"]})",
       "line 2: 'problem_id' must be a string or an integer"},
      {R"({"problem_id": 1, "problem_text": "", "choices": ["a", "b"], "answer": ["a"]})",
       "line 2: 'problem_text' must be a non-empty string"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": "ab", "answer": ["a"]})",
       "line 2: 'choices' must be a list"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": ["a", 2], "answer": ["a"]})",
       "line 2: 'choices' must hold strings"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": ["a"], "answer": ["a"]})",
       "line 2: 'choices' must hold 2 to 26 options, not 1"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": ["a", "b"], "answer": []})",
       "line 2: 'answer' must be a non-empty list of letters"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": ["a", "b"], "answer": ["c"]})",
       "line 2: answer \"c\" is not one of the 2 options' letters"},
      {R"({"problem_id": 1, "problem_text": "Q", "choices": ["a", "b"], "answer": ["a"],)"
       R"( "context": 5})",
       "line 2: 'context' must be a string"},
  };
  for (const Case& c : cases) {
    int64_t multi = 0;
    const std::string text = std::string(kGoodRow) + "\n" + c.row + "\n";
    Result<std::vector<EvalItem>> items = ParseBenchmarkJsonl(text, "s", "f.jsonl", &multi);
    ASSERT_FALSE(items.ok()) << c.row;
    EXPECT_EQ(items.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(items.status().message().find("f.jsonl: 1 malformed row; " + c.expected),
              std::string::npos)
        << items.status().message();
  }
}

TEST(ParseBenchmarkJsonlTest, SeveralBadRowsAreAllCounted) {
  int64_t multi = 0;
  const std::string text = "x\n" + std::string(kGoodRow) + "\ny\nz\n";
  Result<std::vector<EvalItem>> items = ParseBenchmarkJsonl(text, "s", "f.jsonl", &multi);
  ASSERT_FALSE(items.ok());
  const std::string& m = items.status().message();
  EXPECT_NE(m.find("3 malformed rows"), std::string::npos) << m;
  EXPECT_NE(m.find("line 1:"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3:"), std::string::npos) << m;
  EXPECT_NE(m.find("line 4:"), std::string::npos) << m;
}

TEST(ParseMedicalO1JsonTest, ReadsRowsAndRefusesBadOnes) {
  const std::string good =
      R"([{"question": "Q?", "options": {"A": "x", "B": "y", "C": "z"}, "answer_idx": "C"}])";
  Result<std::vector<EvalItem>> items = ParseMedicalO1Json(good, "o1", "demo.json");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].id, "0");
  EXPECT_EQ((*items)[0].choices, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ((*items)[0].answer_index, 2);
  for (const char* bad :
       {R"([{"question": "Q?", "options": {"A": "x", "C": "z"}, "answer_idx": "A"}])",
        R"([{"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "D"}])",
        R"([{"options": {"A": "x", "B": "y"}, "answer_idx": "A"}])", R"([7])"}) {
    Result<std::vector<EvalItem>> r = ParseMedicalO1Json(bad, "o1", "demo.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("demo.json: 1 malformed row; row 0: needs"),
              std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(ParseMedicalO1Json(R"({"a": 1})", "o1", "demo.json").ok());
}

TEST(ExpandSetNamesTest, GroupsAndErrors) {
  Result<std::vector<std::string>> names = ExpandSetNames("pubmedqa,mmlu,pubmedqa");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names,
            (std::vector<std::string>{"pubmedqa", "mmlu_anatomy", "mmlu_clinical_knowledge",
                                      "mmlu_college_biology", "mmlu_college_medicine",
                                      "mmlu_medical_genetics", "mmlu_professional_medicine"}));
  Result<std::vector<std::string>> all = ExpandSetNames("all");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), AllSets().size());
  Result<std::vector<std::string>> en = ExpandSetNames("en");
  ASSERT_TRUE(en.ok());
  EXPECT_EQ(en->size(), AllSets().size() - 2);  // less medqa_zh_4op and cmexam
  Result<std::vector<std::string>> bad = ExpandSetNames("medqa");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown set 'medqa'; known: all, en, mmlu, medqa_4op"),
            std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(ExpandSetNames(",").ok());
}

TEST(SelectSubsetTest, SeededAndInFileOrder) {
  std::vector<EvalItem> items;
  for (int i = 0; i < 50; ++i) items.push_back({.id = std::to_string(i)});
  std::vector<EvalItem> a = SelectSubset(items, 5, 1);
  std::vector<EvalItem> b = SelectSubset(items, 5, 1);
  std::vector<EvalItem> c = SelectSubset(items, 5, 2);
  ASSERT_EQ(a.size(), 5u);
  std::vector<int> ids_a, ids_b, ids_c;
  for (size_t i = 0; i < 5; ++i) {
    ids_a.push_back(std::stoi(a[i].id));
    ids_b.push_back(std::stoi(b[i].id));
    ids_c.push_back(std::stoi(c[i].id));
  }
  EXPECT_EQ(ids_a, ids_b);
  EXPECT_NE(ids_a, ids_c);
  EXPECT_TRUE(std::is_sorted(ids_a.begin(), ids_a.end()));
  EXPECT_EQ(std::adjacent_find(ids_a.begin(), ids_a.end()), ids_a.end());  // no repeats
  EXPECT_EQ(SelectSubset(items, 0, 1).size(), 50u);
  EXPECT_EQ(SelectSubset(items, 80, 1).size(), 50u);
}

}  // namespace
}  // namespace medassist::eval
