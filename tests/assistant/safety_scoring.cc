#include "safety_scoring.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

#include "support/test_support.h"

namespace medassist::assistant::testing {

std::vector<LabelledMessage> ReadLabelledSet(const std::string& path) {
  std::vector<LabelledMessage> set;
  std::istringstream lines(medassist::testing::ReadFileOrFail(path));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ADD_FAILURE() << path << ": not a JSON object: " << line;
      continue;
    }
    set.push_back({j.value("text", ""), j.value("category", ""), j.value("kind", "")});
  }
  return set;
}

double CategoryScore::precision() const {
  int flagged = true_positives + false_positives;
  return flagged == 0 ? 1.0 : static_cast<double>(true_positives) / flagged;
}

double CategoryScore::recall() const {
  int all = true_positives + false_negatives;
  return all == 0 ? 1.0 : static_cast<double>(true_positives) / all;
}

double SetScore::recall() const {
  return emergencies == 0 ? 1.0 : static_cast<double>(emergencies_flagged) / emergencies;
}

double SetScore::precision() const {
  return flagged == 0 ? 1.0 : static_cast<double>(emergencies_flagged) / flagged;
}

SetScore ScoreSet(const SafetyPolicy& policy, const std::vector<LabelledMessage>& set) {
  using Urgency = SafetyAssessment::Urgency;
  SetScore score;
  for (const LabelledMessage& m : set) {
    SafetyAssessment a = policy.AssessText(m.text);
    bool emergency = m.kind == "emergency";
    bool flagged = a.urgency == Urgency::kEmergency;
    score.flagged += flagged;
    if (emergency) {
      ++score.emergencies;
      score.emergencies_flagged += flagged;
      (a.category == m.category ? score.by_category[m.category].true_positives
                                : score.by_category[m.category].false_negatives)++;
    }
    if (flagged && !(emergency && a.category == m.category)) {
      score.by_category[a.category].false_positives++;
    }
    if (m.kind == "personal" || m.kind == "general") {
      ++score.urgency_checked;
      Urgency want = m.kind == "personal" ? Urgency::kPersonal : Urgency::kNone;
      score.urgency_right += a.urgency == want;
    }
    if (emergency != flagged || (flagged && a.category != m.category)) {
      std::string got = flagged ? a.category : std::string(UrgencyName(a.urgency));
      for (const auto& s : a.signals)
        got += " " + s.rule + ":" + s.signal + "[" + s.matched_text + "]";
      for (const auto& s : a.suppressed_by) got += " suppressed:" + s;
      score.misses.push_back(m.kind + "/" + m.category + " -> " + got + " : " + m.text);
    }
  }
  return score;
}

std::string FormatScore(const SetScore& score) {
  std::ostringstream out;
  char line[160];
  out << "| category | emergencies | flagged right | false alarms | precision | recall |\n"
         "|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [name, c] : score.by_category) {
    std::snprintf(line, sizeof line, "| %s | %d | %d | %d | %.1f%% | %.1f%% |\n", name.c_str(),
                  c.true_positives + c.false_negatives, c.true_positives, c.false_positives,
                  100 * c.precision(), 100 * c.recall());
    out << line;
  }
  std::snprintf(line, sizeof line,
                "| **any emergency** | %d | %d | %d | %.1f%% | %.1f%% |\n"
                "\npersonal/general urgency right: %d of %d\n",
                score.emergencies, score.emergencies_flagged,
                score.flagged - score.emergencies_flagged, 100 * score.precision(),
                100 * score.recall(), score.urgency_right, score.urgency_checked);
  out << line;
  return out.str();
}

}  // namespace medassist::assistant::testing
