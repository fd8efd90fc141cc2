// Accuracy per set and overall, with Wilson 95% intervals, as markdown, JSON and an HTML page
// with one bar chart per set (inline SVG, no script).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "eval/results_file.h"
#include "eval/stats.h"

namespace medassist::eval {

struct SetSummary {
  std::string set = {};  // "overall" for all items pooled
  Proportion acc = {};
  std::optional<Proportion> acc_norm = {};  // loglikelihood only
  int64_t n_no_answer = 0;                  // generate: no option extracted (ambiguous or none)
  int64_t n_errors = 0;                     // items that could not run (scored wrong)
};

struct EvalSummary {
  std::string protocol = {};
  std::string model = {};
  std::vector<SetSummary> sets = {};  // in the order the sets first appear in the results
  SetSummary overall = {};            // every item pooled (micro average)
};

EvalSummary Summarize(std::span<const ItemResult> results, Protocol protocol,
                      const std::string& model);

std::string SummaryMarkdown(const EvalSummary& summary);
std::string SummaryJson(const EvalSummary& summary);
std::string SummaryHtml(const EvalSummary& summary);

}  // namespace medassist::eval
