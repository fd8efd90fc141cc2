// Scoring the red-flag check on a labelled message set (tests/data/safety/*.jsonl): precision and
// recall per category, printed as a markdown table for docs/safety.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "assistant/safety.h"

namespace medassist::assistant::testing {

// One line of the set: {"text", "category", "kind": emergency|lookalike|personal|general, "note"}.
struct LabelledMessage {
  std::string text;
  std::string category;
  std::string kind;
};

// Reads a JSONL set or fails the current test.
std::vector<LabelledMessage> ReadLabelledSet(const std::string& path);

struct CategoryScore {
  int true_positives = 0;   // emergencies of this category flagged as this category
  int false_negatives = 0;  // emergencies of this category not flagged as this category
  int false_positives = 0;  // flagged as this category but not an emergency of it
  double precision() const;
  double recall() const;
};

struct SetScore {
  std::map<std::string, CategoryScore> by_category;
  int emergencies = 0;
  int emergencies_flagged = 0;      // flagged as an emergency, whatever the category
  int flagged = 0;                  // all messages flagged
  int urgency_checked = 0;          // personal and general messages
  int urgency_right = 0;            // ... given the urgency of their kind
  std::vector<std::string> misses;  // "kind/category -> got: text"
  double recall() const;            // emergencies_flagged / emergencies
  double precision() const;         // emergencies_flagged / flagged
};

SetScore ScoreSet(const SafetyPolicy& policy, const std::vector<LabelledMessage>& set);
// A markdown table: category, n, precision, recall; then the totals.
std::string FormatScore(const SetScore& score);

}  // namespace medassist::assistant::testing
