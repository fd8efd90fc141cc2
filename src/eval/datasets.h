// The medical evaluation sets of ../shared/data (SOURCES.md section 5) as multiple-choice items.
//
// Every set becomes a list of EvalItem: a question, its options and the index of the right one.
// Files are hostile input: a malformed row fails the load with its line number, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::eval {

struct EvalItem {
  std::string id = {};   // the row's problem_id as text; unique within its set
  std::string set = {};  // "medqa_4op", "mmlu_anatomy", ...
  std::string question = {};
  std::string context = {};  // PubMedQA: the abstract; "" elsewhere
  std::vector<std::string> choices = {};
  int32_t answer_index = -1;  // into choices
};

// How a set's file is laid out.
enum class SetFormat {
  kBenchmarkJsonl,  // aistairc/medLLM_QA_benchmark:
                    // {"problem_id","problem_text","choices","answer"}
  kMedicalO1Json,   // HuatuoGPT-o1 demo_data.json: [{"question","options":{"A":..},"answer_idx"}]
};

struct SetSpec {
  const char* name;  // "medqa_4op"
  const char* file;  // relative to the shared data folder
  SetFormat format;
  int64_t first_row;    // MMLU subjects are row ranges of one file (SOURCES.md)
  int64_t n_rows;       // -1: every row from first_row
  int64_t file_rows;    // rows the whole file must have (SOURCES.md), checked on load
  const char* subject;  // MMLU: "anatomy" (its prompt's description); "" elsewhere
  const char* what;
};

// Every known set, in the order reports list them.
std::span<const SetSpec> AllSets();
// nullptr when name is not a set.
const SetSpec* FindSet(std::string_view name);

// "medqa_4op,mmlu" -> the sets' names: "mmlu" stands for its six subjects, "all" for every set,
// "en" for the English ones. InvalidArgument names an unknown set and lists the known ones.
Result<std::vector<std::string>> ExpandSetNames(std::string_view comma_list);

struct LoadedSet {
  std::string name = {};
  std::vector<EvalItem> items = {};
  // CMExam has questions with several right options (204); the single-answer protocols leave them
  // out, whatever their letters.
  int64_t n_multi_answer_skipped = 0;
};

// Loads one set from data_dir (the shared data folder). PubMedQA's context is taken from
// pubmedqa/ori_pqal.json when it is there (its CONTEXTS joined by "\n", as lm-evaluation-harness
// does; the benchmark file joins them with spaces).
Result<LoadedSet> LoadSet(const std::string& data_dir, std::string_view name);

// Parses benchmark JSONL text into items of `set`; source names the file in errors. Rows whose
// answer lists several options are counted in *n_multi_answer and left out.
Result<std::vector<EvalItem>> ParseBenchmarkJsonl(std::string_view text, std::string_view set,
                                                  std::string_view source, int64_t* n_multi_answer);
// Parses HuatuoGPT-o1's demo_data.json (a JSON array) into items; ids are the row numbers.
Result<std::vector<EvalItem>> ParseMedicalO1Json(std::string_view text, std::string_view set,
                                                 std::string_view source);

// limit > 0 and below items.size(): `limit` items drawn without replacement by a generator seeded
// with seed (the same on every platform), kept in file order. Otherwise all items.
std::vector<EvalItem> SelectSubset(std::vector<EvalItem> items, int64_t limit, uint64_t seed);

}  // namespace medassist::eval
