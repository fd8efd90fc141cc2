// Each set's prompts, written out in full, as the lm-evaluation-harness task and HuatuoGPT-o1's
// eval.py build them (see prompts.h for the sources).
#include "eval/prompts.h"

#include <gtest/gtest.h>

namespace medassist::eval {
namespace {

EvalItem Item(const std::string& set, std::vector<std::string> choices, std::string context = "") {
  return {.id = "7",
          .set = set,
          .question = " What is it? ",
          .context = std::move(context),
          .choices = std::move(choices),
          .answer_index = 1};
}

TEST(PromptsTest, MedQa) {
  LoglikelihoodPrompt p = BuildLoglikelihoodPrompt(Item("medqa_4op", {"w", "x", "y", "z"}));
  EXPECT_EQ(p.context, "Question:  What is it? \nA. w\nB. x\nC. y\nD. z\nAnswer:");
  EXPECT_EQ(p.continuations, (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(p.choice_lengths, (std::vector<int32_t>{1, 1, 1, 1}));
  p = BuildLoglikelihoodPrompt(Item("medqa_5op", {"v", "w", "x", "y", "z"}));
  EXPECT_EQ(p.context, "Question:  What is it? \nA. v\nB. w\nC. x\nD. y\nE. z\nAnswer:");
  EXPECT_EQ(p.continuations.back(), " E");
}

TEST(PromptsTest, MedMcQa) {
  LoglikelihoodPrompt p = BuildLoglikelihoodPrompt(Item("medmcqa", {"w", "x", "y", "z"}));
  EXPECT_EQ(p.context, "Question:  What is it? \nChoices:\nA. w\nB. x\nC. y\nD. z\nAnswer:");
}

TEST(PromptsTest, PubMedQaScoresTheWords) {
  LoglikelihoodPrompt p =
      BuildLoglikelihoodPrompt(Item("pubmedqa", {"yes", "no", "maybe"}, "First.\nSecond."));
  EXPECT_EQ(p.context, "Abstract: First.\nSecond.\nQuestion:  What is it? \nAnswer:");
  EXPECT_EQ(p.continuations, (std::vector<std::string>{" yes", " no", " maybe"}));
  EXPECT_EQ(p.choice_lengths, (std::vector<int32_t>{3, 2, 5}));
}

TEST(PromptsTest, MmluHasTheSubjectDescription) {
  LoglikelihoodPrompt p =
      BuildLoglikelihoodPrompt(Item("mmlu_college_medicine", {"w", "x", "y", "z"}));
  EXPECT_EQ(p.context,
            "The following are multiple choice questions (with answers) about college "
            "medicine.\n\nWhat is it?\nA. w\nB. x\nC. y\nD. z\nAnswer:");
}

TEST(PromptsTest, ChineseSetsFollowCEval) {
  LoglikelihoodPrompt p = BuildLoglikelihoodPrompt(Item("cmexam", {"甲", "乙", "丙", "丁", "戊"}));
  EXPECT_EQ(p.context,
            "以下是中国关于临床医学的单项选择题，请选出其中的正确答案。\n\nWhat is it?\nA. 甲\nB. "
            "乙\nC. 丙\nD. 丁\nE. 戊\n答案：");
  EXPECT_EQ(p.continuations[4], " E");
}

TEST(PromptsTest, GeneratePromptIsHuatuoGptO1s) {
  EXPECT_EQ(BuildGeneratePrompt(Item("medqa_4op", {"w", "x", "y", "z"})),
            "Please answer the following multiple-choice question:\n What is it? \nA. w\nB. x\nC. "
            "y\nD. z");
  EXPECT_EQ(BuildGeneratePrompt(Item("pubmedqa", {"yes", "no", "maybe"}, "Abstract text.")),
            "Please answer the following multiple-choice question:\nAbstract text.\n What is it? "
            "\nA. yes\nB. no\nC. maybe");
}

TEST(PromptsTest, SourcesAreNamed) {
  EXPECT_STREQ(PromptSource("medqa_4op"), "lm-eval medqa_4options");
  EXPECT_STREQ(PromptSource("mmlu_anatomy"), "lm-eval mmlu (default)");
  EXPECT_STREQ(PromptSource("medqa_zh_4op"), "lm-eval ceval-valid (clinical_medicine)");
}

}  // namespace
}  // namespace medassist::eval
