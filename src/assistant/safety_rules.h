// The red-flag rules file (assets/safety/red_flags.json, or a deployment's own file): its compiled
// form and its loader. docs/safety.md describes the format; in short:
//
//   {"version": 1,
//    "extends": "default",          optional: add to the shipped rules instead of replacing them
//    "macros": {"S": "..."},        {{S}} in any pattern is replaced by this text
//    "normalize": [{"pattern": "\\bcant\\b", "replace": "can't"}, ...],   applied in order
//    "negation": {"cue": "...", "pseudo": "...", "clause_break": "...", "window_words": 6},
//    "personal": "...",             a personal health question (the short disclaimer)
//    "suppressors": [{"name": "...", "pattern": "...", "unless": "...", "not_personal": true,
//                     "categories": ["bleeding"]}],      categories: optional, default all
//    "signals": {"chest_pain": "...", ...},
//    "disclaimers": {"general": "", "personal": "..."},
//    "categories": [{"name": "stroke", "label": "...", "escalation": "...",
//                    "rules": [{"name": "...", "when": ["face_droop", ["speech", "arm_weak"]]}]}]}
//
// All patterns are PCRE2, case-insensitive, matched against the normalised text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "assistant/safety_regex.h"
#include "core/status.h"

namespace medassist::assistant {

struct SafetyNormalizeStep {
  SafetyRegex pattern;
  std::string replace;
};

// A signal match is negated when a cue stands among the window_words words before it, within its
// clause (the text after the last clause_break); pseudo matches ("not sure") are not cues.
struct SafetyNegation {
  SafetyRegex cue;
  SafetyRegex pseudo;  // may be invalid (none)
  SafetyRegex clause_break;
  int window_words = 6;
};

// A suppressor stops a red flag (exam vignette, past event, fiction, ...) when its pattern
// matches and its `unless` pattern (optional) does not. not_personal: the text is not a
// personal question either (no disclaimer). categories: the red flags it may stop (empty: all).
struct SafetySuppressor {
  std::string name;
  SafetyRegex pattern;
  SafetyRegex unless;  // may be invalid (none)
  bool not_personal = false;
  std::vector<std::string> categories;
};

struct SafetySignalRule {
  std::string name;
  SafetyRegex pattern;
};

// A rule fires when every group holds at least one present signal (an AND of ORs). Groups hold
// indices into SafetyRules::signals.
struct SafetyRule {
  std::string name;
  std::vector<std::vector<int>> when;
};

struct SafetyCategory {
  std::string name;
  std::string label;
  std::string escalation;
  std::vector<SafetyRule> rules;
};

struct SafetyRules {
  std::vector<SafetyNormalizeStep> normalize;
  SafetyNegation negation;
  SafetyRegex personal;
  std::vector<SafetySuppressor> suppressors;
  std::vector<SafetySignalRule> signals;
  std::vector<SafetyCategory> categories;  // in priority order: the first that fires is reported
  std::string general_disclaimer;
  std::string personal_disclaimer;
};

// The shipped assets/safety/red_flags.json, embedded in the library at build time.
std::string_view DefaultSafetyRulesJson();

// Parses and compiles a rules file's text; `source` names it in errors. A file with
// "extends": "default" is merged onto the shipped rules first: its macros and signals are added
// (or replace those of the same name), its normalize steps and suppressors are appended, a category
// of a known name gets its rules appended (and label/escalation replaced when given), new
// categories go last, and negation, personal and disclaimers replace the shipped ones when given.
// Errors name the file and the entry ("signal \"chest_pain\": regex does not compile ...").
Result<SafetyRules> ParseSafetyRules(std::string_view json_text, std::string_view source);

}  // namespace medassist::assistant
