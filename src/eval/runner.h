// Runs a protocol over items on a server::Backend: `concurrency` items in flight at once (the
// local engine batches their requests; a remote server gets them in parallel), each row appended
// to the results file as it finishes, items already in that file skipped, a progress bar on stderr.
//
//   RunnerOptions o{.protocol = Protocol::kGenerate, .results_path = "out/items-generate.jsonl"};
//   ASSIGN_OR_RETURN(RunOutcome run, RunEval(backend, items, o));
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/datasets.h"
#include "eval/results_file.h"
#include "server/backend.h"

namespace medassist::eval {

// HuatuoGPT-o1 evaluation/eval.py: temperature 0.5, top_p 0.9, up to 2,000 new tokens.
inline constexpr float kGenerateTemperature = 0.5f;
inline constexpr float kGenerateTopP = 0.9f;
inline constexpr int32_t kGenerateMaxTokens = 2000;

struct RunnerOptions {
  Protocol protocol = Protocol::kLoglikelihood;
  std::string results_path = {};  // per-item JSONL; "" keeps the results in memory only
  std::string model = {};    // written in every row; a file holding another model's rows is refused
  int32_t concurrency = 16;  // items in flight
  int32_t max_new_tokens = kGenerateMaxTokens;
  float temperature = kGenerateTemperature;
  float top_p = kGenerateTopP;
  uint64_t seed = 0;  // generate: each item's sampling seed derives from it and the item's id
  bool progress = false;
  const std::atomic<bool>* cancel = nullptr;  // set (SIGINT): stop; items done stay saved
  int64_t stop_after = -1;  // >= 0: stop after scoring this many new items (a test interruption)
};

struct RunOutcome {
  std::vector<ItemResult> results = {};  // the items scored so far, in the order of the input
  int64_t n_resumed = 0;                 // taken from the results file
  int64_t n_new = 0;                     // scored by this run
  bool interrupted = false;              // cancelled or stopped before every item was scored
};

// Scores one item (exposed for tests): its requests, extraction and correctness.
Result<ItemResult> ScoreItem(server::Backend& backend, const EvalItem& item,
                             const RunnerOptions& options, const std::atomic<bool>* cancel);

// Errors: the results file (unreadable, another model's or protocol's rows) or a backend failure
// other than a prompt too long for the model, which is recorded on its item and scored wrong.
Result<RunOutcome> RunEval(server::Backend& backend, std::span<const EvalItem> items,
                           const RunnerOptions& options);

}  // namespace medassist::eval
