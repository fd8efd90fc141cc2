#include "eval/datasets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <random>

#include "core/check.h"
#include "core/file.h"
#include "formats/json_util.h"

namespace medassist::eval {
namespace {

constexpr const char* kMmluFile =
    "medical-eval/aistairc-medLLM_QA_benchmark/en/MMLU/mmlu_en_medical.jsonl";

// Row counts and MMLU ranges from ../shared/data/SOURCES.md section 5.
constexpr SetSpec kSets[] = {
    {"medqa_4op", "medical-eval/aistairc-medLLM_QA_benchmark/en/MedQA-4op/medqa_en_4op.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 1273, "", "MedQA USMLE test, 4 options"},
    {"medqa_5op", "medical-eval/aistairc-medLLM_QA_benchmark/en/MedQA/medqa_en.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 1273, "", "MedQA USMLE test, 5 options"},
    {"medmcqa", "medical-eval/aistairc-medLLM_QA_benchmark/en/MedMCQA/medmcqa.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 4183, "", "MedMCQA dev"},
    {"pubmedqa", "medical-eval/aistairc-medLLM_QA_benchmark/en/PubMedQA/pubmedqa.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 500, "", "PubMedQA PQA-L test, with the abstract"},
    {"mmlu_anatomy", kMmluFile, SetFormat::kBenchmarkJsonl, 0, 135, 1089, "anatomy",
     "MMLU anatomy test"},
    {"mmlu_clinical_knowledge", kMmluFile, SetFormat::kBenchmarkJsonl, 135, 265, 1089,
     "clinical knowledge", "MMLU clinical knowledge test"},
    {"mmlu_college_biology", kMmluFile, SetFormat::kBenchmarkJsonl, 400, 144, 1089,
     "college biology", "MMLU college biology test"},
    {"mmlu_college_medicine", kMmluFile, SetFormat::kBenchmarkJsonl, 544, 173, 1089,
     "college medicine", "MMLU college medicine test"},
    {"mmlu_medical_genetics", kMmluFile, SetFormat::kBenchmarkJsonl, 717, 100, 1089,
     "medical genetics", "MMLU medical genetics test"},
    {"mmlu_professional_medicine", kMmluFile, SetFormat::kBenchmarkJsonl, 817, 272, 1089,
     "professional medicine", "MMLU professional medicine test"},
    {"medqa_zh_4op", "medical-eval/aistairc-medLLM_QA_benchmark/zh/MedQA-4op/medqa_zh_4op.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 3426, "", "MedQA Mainland China test, 4 options"},
    {"cmexam", "medical-eval/aistairc-medLLM_QA_benchmark/zh/CMExam/cmexam.jsonl",
     SetFormat::kBenchmarkJsonl, 0, -1, 6811, "", "CMExam test (single-answer questions)"},
    {"medical_o1_demo", "medical-o1-sft/huatuogpt-o1_demo_data.json", SetFormat::kMedicalO1Json, 0,
     -1, 198, "", "HuatuoGPT-o1 demo rows (MedQA questions, 4-5 options)"},
};

// An answer letter "a".."z" (any case) -> 0..25, or -1.
int32_t LetterIndex(const nlohmann::json& v) {
  if (!v.is_string()) return -1;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != 1) return -1;
  const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return c >= 'a' && c <= 'z' ? c - 'a' : -1;
}

Result<std::string> IdText(const nlohmann::json& row) {
  auto it = row.find("problem_id");
  if (it == row.end()) return InvalidArgument("no 'problem_id'");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return InvalidArgument("'problem_id' must be a string or an integer");
}

Result<std::vector<std::string>> StringList(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_array()) {
    return InvalidArgument(fmt::format("'{}' must be a list", key));
  }
  std::vector<std::string> out;
  for (const nlohmann::json& v : *it) {
    if (!v.is_string()) return InvalidArgument(fmt::format("'{}' must hold strings", key));
    out.push_back(v.get<std::string>());
  }
  return out;
}

// One benchmark row; answers gets every answer index.
Result<EvalItem> ParseBenchmarkRow(std::string_view line, std::string_view set,
                                   std::vector<int32_t>* answers) {
  ASSIGN_OR_RETURN(nlohmann::json row, formats::ParseJson(line, "row", 16));
  if (!row.is_object()) return InvalidArgument("a row must be a JSON object");
  EvalItem item;
  item.set = std::string(set);
  ASSIGN_OR_RETURN(item.id, IdText(row));
  auto text = row.find("problem_text");
  if (text == row.end() || !text->is_string() || text->get_ref<const std::string&>().empty()) {
    return InvalidArgument("'problem_text' must be a non-empty string");
  }
  item.question = text->get<std::string>();
  if (auto ctx = row.find("context"); ctx != row.end()) {
    if (!ctx->is_string()) return InvalidArgument("'context' must be a string");
    item.context = ctx->get<std::string>();
  }
  ASSIGN_OR_RETURN(item.choices, StringList(row, "choices"));
  if (item.choices.size() < 2 || item.choices.size() > 26) {
    return InvalidArgument(
        fmt::format("'choices' must hold 2 to 26 options, not {}", item.choices.size()));
  }
  auto answer = row.find("answer");
  if (answer == row.end() || !answer->is_array() || answer->empty()) {
    return InvalidArgument("'answer' must be a non-empty list of letters");
  }
  // Rows with several answers are left out unscored, so their letters are only checked to be
  // letters: CMExam row 5331 (line 5332) names "e" among four options.
  const bool multi = answer->size() > 1;
  for (const nlohmann::json& a : *answer) {
    const int32_t index = LetterIndex(a);
    if (index < 0 || (!multi && index >= static_cast<int32_t>(item.choices.size()))) {
      return InvalidArgument(fmt::format("answer {} is not one of the {} options' letters",
                                         a.dump(), item.choices.size()));
    }
    answers->push_back(index);
  }
  item.answer_index = (*answers)[0];
  return item;
}

// Bad rows are reported together (up to kMaxShown), each with its 1-based line number.
constexpr int kMaxShown = 5;

Status BadRows(std::string_view source, const std::vector<std::string>& errors, int64_t n_bad) {
  std::string msg = fmt::format("{}: {} malformed row{}", source, n_bad, n_bad == 1 ? "" : "s");
  for (const std::string& e : errors) msg += "; " + e;
  if (n_bad > kMaxShown) msg += "; ...";
  return DataLoss(msg);
}

// PMID -> CONTEXTS joined by "\n" (lm-evaluation-harness preprocess_pubmedqa.doc_to_text).
Result<std::map<std::string, std::string>> PubMedQaContexts(const std::string& path) {
  ASSIGN_OR_RETURN(nlohmann::json all, formats::ReadJsonFile(path));
  std::map<std::string, std::string> out;
  if (!all.is_object()) return DataLoss(path + ": expected an object keyed by PMID");
  for (const auto& [pmid, row] : all.items()) {
    auto ctx = row.find("CONTEXTS");
    if (ctx == row.end() || !ctx->is_array()) continue;
    std::string joined;
    for (const nlohmann::json& c : *ctx) {
      if (!c.is_string()) return DataLoss(path + ": " + pmid + ": CONTEXTS must hold strings");
      if (!joined.empty()) joined += '\n';
      joined += c.get_ref<const std::string&>();
    }
    out[pmid] = std::move(joined);
  }
  return out;
}

Status UsePubMedQaContexts(const std::string& data_dir, std::vector<EvalItem>& items) {
  const std::string path = data_dir + "/medical-eval/pubmedqa/ori_pqal.json";
  if (!FileExists(path)) return Status::Ok();
  ASSIGN_OR_RETURN(auto contexts, PubMedQaContexts(path));
  for (EvalItem& item : items) {
    auto it = contexts.find(item.id);
    if (it == contexts.end()) return DataLoss(path + ": no row for PMID " + item.id);
    item.context = it->second;
  }
  return Status::Ok();
}

// One demo_data.json row: "question", "options" {"A": ..., "B": ...} in letter order, and
// "answer_idx" (one of those letters).
Result<EvalItem> ParseMedicalO1Row(const nlohmann::json& row, std::string_view set,
                                   std::string id) {
  constexpr const char* kShape =
      "needs 'question', 'options' {\"A\": ..., \"B\": ...} in letter order and an 'answer_idx' "
      "among them";
  if (!row.is_object()) return InvalidArgument(kShape);
  auto q = row.find("question");
  auto options = row.find("options");
  auto answer = row.find("answer_idx");
  if (q == row.end() || !q->is_string() || options == row.end() || !options->is_object() ||
      options->size() < 2 || answer == row.end() || !answer->is_string()) {
    return InvalidArgument(kShape);
  }
  EvalItem item{.id = std::move(id), .set = std::string(set), .question = q->get<std::string>()};
  char letter = 'A';
  for (auto it = options->begin(); it != options->end(); ++it, ++letter) {
    if (it.key() != std::string(1, letter) || !it.value().is_string()) {
      return InvalidArgument(kShape);
    }
    if (answer->get_ref<const std::string&>() == it.key()) item.answer_index = letter - 'A';
    item.choices.push_back(it.value().get<std::string>());
  }
  if (item.answer_index < 0) return InvalidArgument(kShape);
  return item;
}

}  // namespace

std::span<const SetSpec> AllSets() { return kSets; }

const SetSpec* FindSet(std::string_view name) {
  for (const SetSpec& s : kSets) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

Result<std::vector<std::string>> ExpandSetNames(std::string_view comma_list) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  size_t start = 0;
  while (start <= comma_list.size()) {
    size_t end = std::min(comma_list.find(',', start), comma_list.size());
    const std::string name(comma_list.substr(start, end - start));
    start = end + 1;
    if (name.empty()) continue;
    bool matched = false;
    for (const SetSpec& s : kSets) {
      const std::string_view n = s.name;
      const bool english = !n.starts_with("medqa_zh") && n != "cmexam";
      if (name == n || name == "all" || (name == "en" && english) ||
          (name == "mmlu" && n.starts_with("mmlu_"))) {
        add(s.name);
        matched = true;
      }
    }
    if (!matched) {
      std::string known = "all, en, mmlu";
      for (const SetSpec& s : kSets) known += std::string(", ") + s.name;
      return InvalidArgument(fmt::format("unknown set '{}'; known: {}", name, known));
    }
  }
  if (out.empty()) return InvalidArgument("no set named; e.g. --sets medqa_4op,mmlu");
  return out;
}

Result<std::vector<EvalItem>> ParseBenchmarkJsonl(std::string_view text, std::string_view set,
                                                  std::string_view source,
                                                  int64_t* n_multi_answer) {
  std::vector<EvalItem> items;
  std::vector<std::string> errors;
  int64_t n_bad = 0;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::vector<int32_t> answers;
    Result<EvalItem> item = ParseBenchmarkRow(line, set, &answers);
    if (!item.ok()) {
      if (++n_bad <= kMaxShown) {
        errors.push_back(fmt::format("line {}: {}", line_no, item.status().message()));
      }
      continue;
    }
    if (answers.size() > 1) {
      ++*n_multi_answer;
      continue;
    }
    items.push_back(std::move(item).value());
  }
  if (n_bad > 0) return BadRows(source, errors, n_bad);
  return items;
}

Result<std::vector<EvalItem>> ParseMedicalO1Json(std::string_view text, std::string_view set,
                                                 std::string_view source) {
  ASSIGN_OR_RETURN(nlohmann::json rows, formats::ParseJson(text, source, 16));
  if (!rows.is_array()) return DataLoss(fmt::format("{}: expected a JSON array of rows", source));
  std::vector<EvalItem> items;
  std::vector<std::string> errors;
  int64_t n_bad = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    Result<EvalItem> item = ParseMedicalO1Row(rows[i], set, std::to_string(i));
    if (item.ok()) {
      items.push_back(std::move(item).value());
    } else if (++n_bad <= kMaxShown) {
      errors.push_back(fmt::format("row {}: {}", i, item.status().message()));
    }
  }
  if (n_bad > 0) return BadRows(source, errors, n_bad);
  return items;
}

Result<LoadedSet> LoadSet(const std::string& data_dir, std::string_view name) {
  const SetSpec* spec = FindSet(name);
  if (spec == nullptr) return InvalidArgument(fmt::format("unknown set '{}'", name));
  const std::string path = data_dir + "/" + spec->file;
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.status().WithContext(fmt::format(
        "set {} (is --data-dir the shared data folder? see its SOURCES.md section 5)", name));
  }
  LoadedSet out{.name = std::string(name)};
  std::vector<EvalItem> all;
  if (spec->format == SetFormat::kMedicalO1Json) {
    ASSIGN_OR_RETURN(all, ParseMedicalO1Json(*text, name, path));
  } else {
    ASSIGN_OR_RETURN(all, ParseBenchmarkJsonl(*text, name, path, &out.n_multi_answer_skipped));
  }
  const int64_t n_rows = static_cast<int64_t>(all.size()) + out.n_multi_answer_skipped;
  if (n_rows != spec->file_rows) {
    return DataLoss(fmt::format("{}: {} rows, expected {} (SOURCES.md section 5)", path, n_rows,
                                spec->file_rows));
  }
  const int64_t first = spec->first_row;
  const int64_t n_items = static_cast<int64_t>(all.size());
  const int64_t count = spec->n_rows < 0 ? n_items - first : spec->n_rows;
  // MMLU's ranges are rows of a file without multi-answer rows, so rows and items coincide.
  CHECK(first >= 0 && count >= 0 && first + count <= n_items) << name;
  out.items.assign(std::make_move_iterator(all.begin() + first),
                   std::make_move_iterator(all.begin() + first + count));
  if (name == "pubmedqa") RETURN_IF_ERROR(UsePubMedQaContexts(data_dir, out.items));
  return out;
}

std::vector<EvalItem> SelectSubset(std::vector<EvalItem> items, int64_t limit, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(items.size());
  if (limit <= 0 || limit >= n) return items;
  // Partial Fisher-Yates over the indices with mt19937_64, whose output is fixed by the standard
  // (std::shuffle and the distributions are not); the modulo bias is below 2^-40 for these sizes.
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < limit; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - i));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  order.resize(static_cast<size_t>(limit));
  std::sort(order.begin(), order.end());
  std::vector<EvalItem> out;
  out.reserve(order.size());
  for (int64_t i : order) out.push_back(std::move(items[static_cast<size_t>(i)]));
  return out;
}

}  // namespace medassist::eval
