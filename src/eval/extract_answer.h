// Protocol 2 (generate, then extract): which option a free-text answer chose.
//
// Rules, tried in order on the text after the last "## Final Response" (HuatuoGPT-o1's answer
// heading; the whole text when the model answered directly):
//   1. answer-is   the last "answer is X" / "answer: X" / "答案是X" / "答案：X" / "故选X" / "选X",
//                  the letter optionally in (), [], ** or quotes;
//   2. leading     the text opens with a letter: "C", "C.", "(C)", "**C.** Iron ...";
//   3. letter      exactly one distinct option letter stands alone in the text ("A" followed by a
//                  space and a lower-case letter is the article, not an option); several distinct
//                  letters and no rule above: ambiguous, no answer;
//   4. option-text exactly one option's text occurs in the text (case-insensitive; an option found
//                  only inside a longer option that also occurs is not counted);
//   5. none        no answer (scored wrong).
// Stricter than HuatuoGPT-o1's scorer.py, which falls back to the most similar option and so never
// reports "no answer"; here a model that does not answer is seen as such.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace medassist::eval {

enum class ExtractionRule { kAnswerIs, kLeading, kLetter, kOptionText, kAmbiguous, kNone };

const char* ExtractionRuleName(ExtractionRule rule);

struct ExtractedAnswer {
  int32_t index = -1;  // into the choices; -1: none
  ExtractionRule rule = ExtractionRule::kNone;
};

// The part of output after its last "## Final Response" heading, or all of it.
std::string_view FinalResponse(std::string_view output);

ExtractedAnswer ExtractAnswer(std::string_view output, std::span<const std::string> choices);

}  // namespace medassist::eval
