// The red-flag safety check and urgency-scaled disclaimers (issue 9). It runs before generation on
// every request, local or remote backend, and looks at what the user wrote:
//
//   ASSIGN_OR_RETURN(SafetyPolicy policy, SafetyPolicy::Load(path));   // or ::Default()
//   SafetyAssessment a = policy.Assess(messages);
//   kEmergency: the chat answer begins with a.escalation; the response carries a `safety` object
//               (a.category, a.signals).
//   kPersonal:  a.disclaimer is the short line for personal health questions.
//   kNone:      general knowledge, exam questions: nothing added.
//
// Scope: someone describing a current or very recent situation, theirs or another person's ("my dad
// can't lift his arm", "I took 30 tablets"), not an educational or exam-style question ("A
// 45-year-old man presents with...", "what is the treatment of stroke"). The rules, texts and
// suppressors all live in one JSON file (safety_rules.h, docs/safety.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/safety_rules.h"
#include "core/status.h"
#include "tokenizer/chat_template.h"

namespace medassist::assistant {

struct SafetySignal {
  std::string category;      // the category whose rule used it ("stroke")
  std::string rule;          // the rule that fired ("arm_and_speech")
  std::string signal;        // the signal's name ("face_droop")
  std::string matched_text;  // what it matched, from the normalised text ("face is drooping")
};

struct SafetyAssessment {
  enum class Urgency {
    kNone,       // general knowledge, or an exam / educational question
    kPersonal,   // a personal health question: the short disclaimer
    kEmergency,  // a red flag: the escalation
  };
  Urgency urgency = Urgency::kNone;
  std::string category;               // the emergency category ("" unless kEmergency)
  std::vector<SafetySignal> signals;  // what matched for that category (empty unless kEmergency)
  std::string escalation;  // the text a chat answer must begin with ("" unless kEmergency)
  std::string disclaimer;  // the line for kPersonal (or the general one for kNone)
  // Suppressors that stopped a red flag that would otherwise have fired ("exam_vignette",
  // "resolved_past", ...): for logs and metrics; the urgency is then kPersonal or kNone.
  std::vector<std::string> suppressed_by;
};

std::string_view UrgencyName(SafetyAssessment::Urgency urgency);  // "none", "personal", "emergency"

class SafetyPolicy {
 public:
  // A rules file (see safety_rules.h). InvalidArgument naming the file and the entry for a wrong
  // field, an unknown signal or a regex that does not compile; DataLoss when the text is not JSON;
  // NotFound / IoError when the file is missing or unreadable.
  static Result<SafetyPolicy> Load(const std::string& path);
  // The shipped assets/safety/red_flags.json (embedded in the binary).
  static Result<SafetyPolicy> Default();
  // From a rules file's text; source names it in errors.
  static Result<SafetyPolicy> FromJson(std::string_view json_text, std::string_view source);

  // Looks at the latest user message. When that alone is no emergency, the previous user message
  // and the latest are assessed together, so that signals split over two turns ("crushing pain in
  // his chest" ... "now he can't catch his breath") are found; an emergency the previous message
  // held on its own is not repeated. System and assistant messages are never assessed. No user
  // message: kNone.
  SafetyAssessment Assess(std::span<const tokenizer::ChatMessage> conversation) const;
  SafetyAssessment AssessText(std::string_view text) const;

  // Lower-case, folded misspellings and contractions, single spaces: what the patterns see.
  std::string Normalize(std::string_view text) const;

  const SafetyRules& rules() const { return rules_; }

 private:
  class SignalCache;

  explicit SafetyPolicy(SafetyRules rules) : rules_(std::move(rules)) {}

  // The first category, in priority order, with a rule that fires; appends the signals of its
  // firing rules. nullptr when none fires.
  const SafetyCategory* FirstFiringCategory(std::string_view norm, SignalCache& cache,
                                            std::vector<SafetySignal>& signals) const;
  // The first match of signal `index` in norm that is not negated, or false.
  bool FindSignal(int index, std::string_view norm, std::string& matched) const;
  bool IsNegated(std::string_view norm, size_t match_begin) const;

  SafetyRules rules_;
};

}  // namespace medassist::assistant
