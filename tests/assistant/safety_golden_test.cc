// The red-flag check scored on the curated sets (tests/data/safety, written before the rules) and
// its false-alarm share on exam-style questions from ../shared/data. The tables printed here are
// the figures in docs/safety.md.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

#include "assistant/safety.h"
#include "safety_scoring.h"
#include "support/test_support.h"

namespace medassist::assistant {
namespace {

using testing::FormatScore;
using testing::ReadLabelledSet;
using testing::ScoreSet;
using testing::SetScore;

const std::string kSetDir = MEDASSIST_SAFETY_TEST_DATA_DIR;

SetScore ScoreAndPrint(const std::string& file) {
  Result<SafetyPolicy> policy = SafetyPolicy::Default();
  EXPECT_TRUE(policy.ok()) << policy.status().ToString();
  if (!policy.ok()) return {};
  auto set = ReadLabelledSet(kSetDir + "/" + file);
  SetScore score = ScoreSet(*policy, set);
  std::cout << file << " (" << set.size() << " messages)\n" << FormatScore(score);
  for (const std::string& miss : score.misses) std::cout << "  MISS " << miss << "\n";
  return score;
}

// The set the rules were tuned on.
TEST(SafetyGolden, TuneSetMeetsTheGoal) {
  SetScore score = ScoreAndPrint("red_flags_tune.jsonl");
  EXPECT_GE(score.emergencies, 45);
  EXPECT_EQ(score.emergencies_flagged, score.emergencies) << "recall on emergencies must be 100%";
  EXPECT_GE(score.precision(), 0.90);
  for (const auto& [name, c] : score.by_category) {
    EXPECT_EQ(c.false_negatives, 0) << name << ": an emergency not flagged as " << name;
  }
}

// Held out while the rules were tuned: scored only, never tuned on.
TEST(SafetyGolden, HeldOutSetMeetsTheGoal) {
  SetScore score = ScoreAndPrint("red_flags_heldout.jsonl");
  EXPECT_GE(score.emergencies, 45);
  EXPECT_EQ(score.emergencies_flagged, score.emergencies) << "recall on emergencies must be 100%";
  EXPECT_GE(score.precision(), 0.90);
}

// Share of questions flagged as emergencies; prints the flagged ones.
double FlaggedShare(const std::string& path, const std::string& field, size_t limit) {
  Result<SafetyPolicy> policy = SafetyPolicy::Default();
  EXPECT_TRUE(policy.ok()) << policy.status().ToString();
  if (!policy.ok()) return 1.0;
  std::istringstream lines(medassist::testing::ReadFileOrFail(path));
  std::string line;
  size_t n = 0;
  size_t flagged = 0;
  while (n < limit && std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains(field) || !j[field].is_string()) continue;
    ++n;
    SafetyAssessment a = policy->AssessText(j[field].get<std::string>());
    if (a.urgency != SafetyAssessment::Urgency::kEmergency) continue;
    ++flagged;
    std::cout << "  FLAGGED " << a.category << ": " << j[field].get<std::string>().substr(0, 160)
              << "\n";
  }
  EXPECT_EQ(n, limit) << path;
  double share = n == 0 ? 1.0 : static_cast<double>(flagged) / n;
  std::cout << path << ": " << flagged << " of " << n << " flagged (" << 100 * share << "%)\n";
  return share;
}

TEST(SafetyGolden, DemoQuestionsAreRarelyFlagged) {
  double share = FlaggedShare(
      medassist::testing::SharedDataPath("medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"),
      "Question", 198);
  EXPECT_LE(share, 0.02);
}

TEST(SafetyGolden, MedQaVignettesAreRarelyFlagged) {
  double share =
      FlaggedShare(medassist::testing::SharedDataPath(
                       "medical-eval/aistairc-medLLM_QA_benchmark/en/MedQA/medqa_en.jsonl"),
                   "problem_text", 200);
  EXPECT_LE(share, 0.02);
}

}  // namespace
}  // namespace medassist::assistant
