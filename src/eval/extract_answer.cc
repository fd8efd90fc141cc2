#include "eval/extract_answer.h"

#include <algorithm>
#include <vector>

namespace medassist::eval {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The option index of text[i] when it is an upper-case option letter standing alone: no ASCII
// letter or digit on either side (CJK and punctuation are boundaries). -1 otherwise.
int32_t StandaloneLetter(std::string_view text, size_t i, int32_t n_choices, bool allow_lower) {
  char c = text[i];
  if (allow_lower && IsLower(c)) c = static_cast<char>(c - 'a' + 'A');
  if (c < 'A' || c >= 'A' + n_choices) return -1;
  if (i > 0 && IsAsciiAlnum(text[i - 1])) return -1;
  if (i + 1 < text.size() && IsAsciiAlnum(text[i + 1])) return -1;
  return c - 'A';
}

// "A patient", "A 45-year-old": the article.
bool IsArticle(std::string_view text, size_t i) {
  return text[i] == 'A' && i + 2 < text.size() && text[i + 1] == ' ' &&
         (IsLower(text[i + 2]) || (text[i + 2] >= '0' && text[i + 2] <= '9'));
}

// Skips what may sit between a phrase and its letter: spaces, "*", "(", "[", ":", quotes.
size_t SkipDecoration(std::string_view text, size_t i) {
  while (i < text.size() &&
         std::string_view(" \t\n*([:\"'`").find(text[i]) != std::string_view::npos) {
    ++i;
  }
  return i;
}

int32_t AnswerIs(std::string_view text, int32_t n_choices) {
  static constexpr std::string_view kPhrases[] = {
      "answer is", "answer:", "answer would be", "答案是", "答案为", "答案：", "答案:", "故选",
      "应选",      "选择"};
  const std::string lower = AsciiLower(text);
  size_t best_pos = std::string::npos;
  int32_t best = -1;
  for (std::string_view phrase : kPhrases) {
    for (size_t at = lower.find(phrase); at != std::string::npos; at = lower.find(phrase, at + 1)) {
      const size_t i = SkipDecoration(text, at + phrase.size());
      if (i >= text.size()) continue;
      const int32_t index = StandaloneLetter(text, i, n_choices, /*allow_lower=*/true);
      if (index >= 0 && (best_pos == std::string::npos || at > best_pos)) {
        best_pos = at;
        best = index;
      }
    }
  }
  return best;
}

int32_t Leading(std::string_view text, int32_t n_choices) {
  size_t i = 0;
  while (i < text.size() && std::string_view(" \t\n*#([").find(text[i]) != std::string_view::npos) {
    ++i;
  }
  if (i >= text.size() || IsArticle(text, i)) return -1;
  return StandaloneLetter(text, i, n_choices, /*allow_lower=*/false);
}

// Distinct standalone letters, in order of first appearance.
std::vector<int32_t> Letters(std::string_view text, int32_t n_choices) {
  std::vector<int32_t> found;
  for (size_t i = 0; i < text.size(); ++i) {
    const int32_t index = StandaloneLetter(text, i, n_choices, /*allow_lower=*/false);
    if (index < 0 || IsArticle(text, i)) continue;
    if (std::find(found.begin(), found.end(), index) == found.end()) found.push_back(index);
  }
  return found;
}

std::string NormalizedOption(const std::string& choice) {
  std::string s = AsciiLower(choice);
  while (!s.empty() && std::string_view(" \t\n.").find(s.back()) != std::string_view::npos) {
    s.pop_back();
  }
  const size_t first = s.find_first_not_of(" \t\n");
  return first == std::string::npos ? "" : s.substr(first);
}

// Whether word occurs in text with no ASCII letter or digit right before or after it ("no" is not
// found in "not").
bool ContainsWord(std::string_view text, std::string_view word) {
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at == 0 || !IsAsciiAlnum(text[at - 1])) &&
        (end == text.size() || !IsAsciiAlnum(text[end]))) {
      return true;
    }
  }
  return false;
}

// Options whose text occurs, less those that occur only as part of another occurring option.
std::vector<int32_t> OptionTexts(std::string_view text, std::span<const std::string> choices) {
  const std::string lower = AsciiLower(text);
  std::vector<std::string> found_text;
  std::vector<int32_t> found;
  for (size_t i = 0; i < choices.size(); ++i) {
    std::string option = NormalizedOption(choices[i]);
    if (option.empty() || !ContainsWord(lower, option)) continue;
    found_text.push_back(std::move(option));
    found.push_back(static_cast<int32_t>(i));
  }
  std::vector<int32_t> out;
  for (size_t i = 0; i < found.size(); ++i) {
    bool inside_other = false;
    for (size_t j = 0; j < found.size(); ++j) {
      inside_other |= j != i && found_text[j].size() > found_text[i].size() &&
                      found_text[j].find(found_text[i]) != std::string::npos;
    }
    if (!inside_other) out.push_back(found[i]);
  }
  return out;
}

}  // namespace

const char* ExtractionRuleName(ExtractionRule rule) {
  switch (rule) {
    case ExtractionRule::kAnswerIs:
      return "answer-is";
    case ExtractionRule::kLeading:
      return "leading";
    case ExtractionRule::kLetter:
      return "letter";
    case ExtractionRule::kOptionText:
      return "option-text";
    case ExtractionRule::kAmbiguous:
      return "ambiguous";
    case ExtractionRule::kNone:
      break;
  }
  return "none";
}

std::string_view FinalResponse(std::string_view output) {
  constexpr std::string_view kHeading = "## Final Response";
  const size_t at = output.rfind(kHeading);
  return at == std::string_view::npos ? output : output.substr(at + kHeading.size());
}

ExtractedAnswer ExtractAnswer(std::string_view output, std::span<const std::string> choices) {
  const std::string_view text = FinalResponse(output);
  const int32_t n = static_cast<int32_t>(std::min<size_t>(choices.size(), 26));
  if (int32_t i = AnswerIs(text, n); i >= 0) return {i, ExtractionRule::kAnswerIs};
  if (int32_t i = Leading(text, n); i >= 0) return {i, ExtractionRule::kLeading};
  const std::vector<int32_t> letters = Letters(text, n);
  if (letters.size() == 1) return {letters[0], ExtractionRule::kLetter};
  if (letters.size() > 1) return {-1, ExtractionRule::kAmbiguous};
  const std::vector<int32_t> options = OptionTexts(text, choices.first(static_cast<size_t>(n)));
  if (options.size() == 1) return {options[0], ExtractionRule::kOptionText};
  if (options.size() > 1) return {-1, ExtractionRule::kAmbiguous};
  return {-1, ExtractionRule::kNone};
}

}  // namespace medassist::eval
