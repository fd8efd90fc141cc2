// Each set's zero-shot prompts, written down with the task definition they follow.
//
// Log-likelihood (lm-evaluation-harness, commit 4e7e0d47f33b): the context ends with "Answer:"
// (C-Eval's "答案：" for the Chinese sets) and each option is scored as the continuation
// target_delimiter + choice, the delimiter being lm-eval's default " ":
//   medqa_4op, medqa_5op, medical_o1_demo   lm_eval/tasks/medqa (medqa_4options, preprocess_medqa):
//       "Question: {q}\nA. {a}\nB. {b}\n...Answer:"          choices " A", " B", ...
//   medmcqa   lm_eval/tasks/medmcqa (utils_medmcqa.doc_to_text):
//       "Question: {q}\nChoices:\nA. {a}\n...Answer:"        choices " A", ...
//   pubmedqa  lm_eval/tasks/pubmedqa (preprocess_pubmedqa.doc_to_text):
//       "Abstract: {contexts joined by \n}\nQuestion: {q}\nAnswer:"   choices " yes", " no", "
//       maybe"
//   mmlu_*    lm_eval/tasks/mmlu/default (_default_template_yaml + the subject's description):
//       "The following are multiple choice questions (with answers) about {subject}.\n\n"
//       "{q.strip()}\nA. {a}\n...D. {d}\nAnswer:"              choices " A", ...
//   medqa_zh_4op, cmexam   no lm-eval task; C-Eval's (lm_eval/tasks/ceval, _default_ceval_yaml and
//       ceval-valid_clinical_medicine's description), extended to five options:
//       "以下是中国关于临床医学的单项选择题，请选出其中的正确答案。\n\n{q.strip()}\nA.
//       {a}\n...答案："
// The 5-option sets extend the 4-option formats with "E. ...".
//
// Generate (HuatuoGPT-o1 evaluation/eval.py, the default non-strict query prompt), one user turn:
//   "Please answer the following multiple-choice question:\n{q}\nA. {a}\nB. {b}..."
// PubMedQA puts its abstract before the question ("{context}\n{q}").
#pragma once

#include <string>
#include <vector>

#include "eval/datasets.h"

namespace medassist::eval {

struct LoglikelihoodPrompt {
  std::string context = {};
  std::vector<std::string> continuations = {};  // one per choice, with the leading " "
  // lm-eval's acc_norm divides each choice's log-likelihood by the length in characters of the
  // choice without the delimiter ("A": 1, "maybe": 5); Unicode code points, as Python's len.
  std::vector<int32_t> choice_lengths = {};
};

LoglikelihoodPrompt BuildLoglikelihoodPrompt(const EvalItem& item);

// The user message of the generate protocol.
std::string BuildGeneratePrompt(const EvalItem& item);

// The letters a set's options are called by: "A", "B", ... (PubMedQA's "yes"/"no"/"maybe" are
// still lettered A-C in the generate prompt, as HuatuoGPT-o1's data does).
std::string OptionLetter(int32_t index);

// Where a set's log-likelihood prompt comes from, for reports ("lm-eval medqa_4options").
const char* PromptSource(const std::string& set);

}  // namespace medassist::eval
