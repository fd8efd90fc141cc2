#include "eval/prompts.h"

#include <fmt/format.h>

#include "eval/datasets.h"

namespace medassist::eval {
namespace {

enum class Style { kMedQa, kMedMcQa, kPubMedQa, kMmlu, kCEval };

Style StyleOf(const std::string& set) {
  if (set == "medmcqa") return Style::kMedMcQa;
  if (set == "pubmedqa") return Style::kPubMedQa;
  if (set.starts_with("mmlu_")) return Style::kMmlu;
  if (set == "medqa_zh_4op" || set == "cmexam") return Style::kCEval;
  return Style::kMedQa;
}

// Python's str.strip(): ASCII whitespace at both ends (enough for these files).
std::string Strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(ws);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

std::string LetteredOptions(const EvalItem& item) {
  std::string out;
  for (size_t i = 0; i < item.choices.size(); ++i) {
    out += fmt::format("{}. {}\n", OptionLetter(static_cast<int32_t>(i)), item.choices[i]);
  }
  return out;
}

int32_t CodePoints(const std::string& s) {
  int32_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Context(const EvalItem& item) {
  switch (StyleOf(item.set)) {
    case Style::kMedMcQa:
      return "Question: " + item.question + "\nChoices:\n" + LetteredOptions(item) + "Answer:";
    case Style::kPubMedQa:
      return "Abstract: " + item.context + "\nQuestion: " + item.question + "\nAnswer:";
    case Style::kMmlu: {
      const SetSpec* spec = FindSet(item.set);
      const std::string subject = spec != nullptr ? spec->subject : "";
      return "The following are multiple choice questions (with answers) about " + subject +
             ".\n\n" + Strip(item.question) + "\n" + LetteredOptions(item) + "Answer:";
    }
    case Style::kCEval:
      return "以下是中国关于临床医学的单项选择题，请选出其中的正确答案。\n\n" +
             Strip(item.question) + "\n" + LetteredOptions(item) + "答案：";
    case Style::kMedQa:
      break;
  }
  return "Question: " + item.question + "\n" + LetteredOptions(item) + "Answer:";
}

}  // namespace

std::string OptionLetter(int32_t index) { return std::string(1, static_cast<char>('A' + index)); }

LoglikelihoodPrompt BuildLoglikelihoodPrompt(const EvalItem& item) {
  LoglikelihoodPrompt p{.context = Context(item)};
  const bool words = StyleOf(item.set) == Style::kPubMedQa;  // lm-eval: ["yes", "no", "maybe"]
  for (size_t i = 0; i < item.choices.size(); ++i) {
    const std::string choice = words ? item.choices[i] : OptionLetter(static_cast<int32_t>(i));
    p.continuations.push_back(" " + choice);
    p.choice_lengths.push_back(CodePoints(choice));
  }
  return p;
}

std::string BuildGeneratePrompt(const EvalItem& item) {
  std::string question = item.context.empty() ? item.question : item.context + "\n" + item.question;
  std::string options = LetteredOptions(item);
  options.pop_back();  // HuatuoGPT-o1 joins the options with "\n": no newline after the last
  return "Please answer the following multiple-choice question:\n" + question + "\n" + options;
}

const char* PromptSource(const std::string& set) {
  if (set == "medqa_4op") return "lm-eval medqa_4options";
  if (set == "medqa_5op" || set == "medical_o1_demo") return "lm-eval medqa_4options, + E";
  switch (StyleOf(set)) {
    case Style::kMedMcQa:
      return "lm-eval medmcqa";
    case Style::kPubMedQa:
      return "lm-eval pubmedqa";
    case Style::kMmlu:
      return "lm-eval mmlu (default)";
    case Style::kCEval:
      return "lm-eval ceval-valid (clinical_medicine)";
    case Style::kMedQa:
      break;
  }
  return "lm-eval medqa_4options";
}

}  // namespace medassist::eval
