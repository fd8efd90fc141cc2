// Protocol 2's extraction rules on hand-written model outputs.
#include "eval/extract_answer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace medassist::eval {
namespace {

const std::vector<std::string> kChoices = {"Benign genetic carrier condition", "Folate deficiency",
                                           "Iron deficiency", "Parvovirus B19 infection",
                                           "Iron deficiency anemia"};

void ExpectAnswer(const std::string& output, int32_t index, ExtractionRule rule) {
  ExtractedAnswer a = ExtractAnswer(output, kChoices);
  EXPECT_EQ(a.index, index) << output;
  EXPECT_STREQ(ExtractionRuleName(a.rule), ExtractionRuleName(rule)) << output;
}

TEST(ExtractAnswerTest, AnswerIsPhrases) {
  ExpectAnswer("The answer is (C).", 2, ExtractionRule::kAnswerIs);
  ExpectAnswer("So the answer is D", 3, ExtractionRule::kAnswerIs);
  ExpectAnswer("Answer: **B**", 1, ExtractionRule::kAnswerIs);
  ExpectAnswer("the answer is [e] because", 4, ExtractionRule::kAnswerIs);
  ExpectAnswer("综上，答案是C。", 2, ExtractionRule::kAnswerIs);
  ExpectAnswer("故选B", 1, ExtractionRule::kAnswerIs);
  // Several phrases: the last one is the model's final word.
  ExpectAnswer("At first the answer is A, but on reflection the answer is D.", 3,
               ExtractionRule::kAnswerIs);
}

TEST(ExtractAnswerTest, FinalResponseSectionWins) {
  const std::string out =
      "## Thinking\n\nOption A is tempting, and C and D too; the answer is A? No.\n\n"
      "## Final Response\n\nParvovirus B19 infection (D) is most likely.";
  EXPECT_EQ(FinalResponse(out), "\n\nParvovirus B19 infection (D) is most likely.");
  ExpectAnswer(out, 3, ExtractionRule::kLetter);
}

TEST(ExtractAnswerTest, LeadingLetter) {
  ExpectAnswer("C", 2, ExtractionRule::kLeading);
  ExpectAnswer("B. Folate deficiency, not A or C.", 1, ExtractionRule::kLeading);
  ExpectAnswer("(D) Parvovirus B19 infection", 3, ExtractionRule::kLeading);
  ExpectAnswer("**E.** Iron deficiency anemia", 4, ExtractionRule::kLeading);
}

TEST(ExtractAnswerTest, OneStandaloneLetter) {
  ExpectAnswer("I would pick option B here.", 1, ExtractionRule::kLetter);
  // "A" before a lower-case word is the article; B19 is not a letter on its own.
  ExpectAnswer("A patient with anemia after B19: choose D", 3, ExtractionRule::kLetter);
}

TEST(ExtractAnswerTest, SeveralLettersAreAmbiguous) {
  ExpectAnswer("It could be B or C.", -1, ExtractionRule::kAmbiguous);
  ExpectAnswer("Both (B) and (D) fit.", -1, ExtractionRule::kAmbiguous);
}

TEST(ExtractAnswerTest, OptionText) {
  ExpectAnswer("This is a folate deficiency.", 1, ExtractionRule::kOptionText);
  // "iron deficiency" occurs only inside the longer option E, which counts alone.
  ExpectAnswer("Most likely iron deficiency anemia.", 4, ExtractionRule::kOptionText);
  ExpectAnswer("Either folate deficiency or parvovirus b19 infection.", -1,
               ExtractionRule::kAmbiguous);
}

TEST(ExtractAnswerTest, OptionTextNeedsWholeWords) {
  const std::vector<std::string> yes_no = {"yes", "no", "maybe"};
  ExtractedAnswer a = ExtractAnswer("I do not know, nothing is certain.", yes_no);
  EXPECT_EQ(a.index, -1);
  EXPECT_EQ(a.rule, ExtractionRule::kNone);
  a = ExtractAnswer("Yes, it can.", yes_no);
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.rule, ExtractionRule::kOptionText);
}

TEST(ExtractAnswerTest, NoAnswer) {
  ExpectAnswer("", -1, ExtractionRule::kNone);
  ExpectAnswer("I cannot tell without more information.", -1, ExtractionRule::kNone);
  // Letters beyond the options are not answers: F with five options.
  ExpectAnswer("The answer is F.", -1, ExtractionRule::kNone);
}

}  // namespace
}  // namespace medassist::eval
