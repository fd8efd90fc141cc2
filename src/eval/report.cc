#include "eval/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

#include "core/html.h"
#include "eval/prompts.h"

namespace medassist::eval {
namespace {

struct Counts {
  int64_t n = 0, correct = 0, correct_norm = 0, no_answer = 0, errors = 0;
  void Add(const ItemResult& r) {
    ++n;
    correct += r.correct;
    correct_norm += r.correct_norm;
    no_answer += r.error.empty() && r.pred < 0;
    errors += !r.error.empty();
  }
};

SetSummary FromCounts(const std::string& set, const Counts& c, Protocol protocol) {
  SetSummary s{.set = set,
               .acc = WilsonInterval(c.correct, c.n),
               .n_no_answer = c.no_answer,
               .n_errors = c.errors};
  if (protocol == Protocol::kLoglikelihood) s.acc_norm = WilsonInterval(c.correct_norm, c.n);
  return s;
}

std::string Percent(double p) { return fmt::format("{:.1f}", 100.0 * p); }
std::string Ci(const Proportion& p) { return fmt::format("{}–{}", Percent(p.lo), Percent(p.hi)); }

std::string MarkdownRow(const SetSummary& s, bool loglikelihood) {
  std::string source = s.set == "overall" ? "" : PromptSource(s.set);
  std::string row = fmt::format("| {} | {} | {} | {} | {} |", s.set, s.acc.n, Percent(s.acc.p),
                                Ci(s.acc), loglikelihood ? source : std::to_string(s.n_no_answer));
  if (loglikelihood) {
    row = fmt::format("| {} | {} | {} | {} | {} | {} | {} |", s.set, s.acc.n, Percent(s.acc.p),
                      Ci(s.acc), Percent(s.acc_norm->p), Ci(*s.acc_norm), source);
  }
  return row + "\n";
}

nlohmann::json ProportionJson(const Proportion& p) {
  return {{"correct", p.k}, {"n", p.n}, {"acc", p.p}, {"ci95", {p.lo, p.hi}}};
}

nlohmann::json SetJson(const SetSummary& s) {
  nlohmann::json j = {{"set", s.set},
                      {"acc", ProportionJson(s.acc)},
                      {"no_answer", s.n_no_answer},
                      {"errors", s.n_errors}};
  if (s.acc_norm) j["acc_norm"] = ProportionJson(*s.acc_norm);
  return j;
}

// One horizontal bar per metric (0-100%), the 95% interval drawn as a line with end ticks.
std::string SetChart(const SetSummary& s) {
  std::vector<std::pair<std::string, Proportion>> bars = {{"acc", s.acc}};
  if (s.acc_norm) bars.emplace_back("acc_norm", *s.acc_norm);
  constexpr int kLeft = 80, kWidth = 400, kRow = 28;
  const int height = kRow * static_cast<int>(bars.size()) + 24;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n",
      kLeft + kWidth + 70, height);
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& [name, p] = bars[i];
    const int y = 4 + kRow * static_cast<int>(i);
    auto x = [&](double v) { return kLeft + static_cast<int>(v * kWidth + 0.5); };
    svg += fmt::format(
        "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>"
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"#4a7ebb\"/>"
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#222\" stroke-width=\"2\"/>"
        "<text x=\"{}\" y=\"{}\" font-size=\"13\">{}%</text>\n",
        y + 14, name, kLeft, y, x(p.p) - kLeft, x(p.lo), y + 9, x(p.hi), y + 9, kLeft + kWidth + 6,
        y + 14, Percent(p.p));
  }
  const int axis_y = height - 6;
  for (int tick = 0; tick <= 100; tick += 25) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>",
                       kLeft + tick * kWidth / 100 - 6, axis_y, tick);
  }
  return svg + "</svg>\n";
}

}  // namespace

EvalSummary Summarize(std::span<const ItemResult> results, Protocol protocol,
                      const std::string& model) {
  EvalSummary out{.protocol = ProtocolName(protocol), .model = model};
  std::vector<std::string> order;
  std::map<std::string, Counts> per_set;
  Counts all;
  for (const ItemResult& r : results) {
    if (!per_set.contains(r.set)) order.push_back(r.set);
    per_set[r.set].Add(r);
    all.Add(r);
  }
  for (const std::string& set : order) out.sets.push_back(FromCounts(set, per_set[set], protocol));
  out.overall = FromCounts("overall", all, protocol);
  return out;
}

std::string SummaryMarkdown(const EvalSummary& s) {
  const bool ll = s.protocol == ProtocolName(Protocol::kLoglikelihood);
  std::string md = fmt::format("Protocol: {}. Model: {}. Accuracy in %, 95% Wilson interval.\n\n",
                               s.protocol, s.model);
  md += ll ? "| set | n | acc | 95% CI | acc_norm | 95% CI | prompt |\n"
             "|---|---:|---:|---|---:|---|---|\n"
           : "| set | n | acc | 95% CI | no answer |\n|---|---:|---:|---|---:|\n";
  for (const SetSummary& set : s.sets) md += MarkdownRow(set, ll);
  md += MarkdownRow(s.overall, ll);
  int64_t errors = s.overall.n_errors;
  if (errors > 0) {
    md += fmt::format(
        "\n{} item(s) were refused by the backend (e.g. a prompt longer than the context) "
        "and count as wrong; see `error` in the per-item file.\n",
        errors);
  }
  return md;
}

std::string SummaryJson(const EvalSummary& s) {
  nlohmann::json j = {{"protocol", s.protocol},
                      {"model", s.model},
                      {"overall", SetJson(s.overall)},
                      {"sets", nlohmann::json::array()}};
  for (const SetSummary& set : s.sets) j["sets"].push_back(SetJson(set));
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string SummaryHtml(const EvalSummary& s) {
  std::string html = fmt::format(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>medassist eval: {} ({})</title>"
      "</head>\n<body style=\"font-family: sans-serif\">\n<h1>medassist eval</h1>\n"
      "<p>Protocol: {}. Model: {}. Bars: accuracy; lines: 95% Wilson interval.</p>\n",
      EscapeHtml(s.model), s.protocol, s.protocol, EscapeHtml(s.model));
  std::vector<const SetSummary*> all;
  for (const SetSummary& set : s.sets) all.push_back(&set);
  all.push_back(&s.overall);
  for (const SetSummary* set : all) {
    html += fmt::format("<h2>{} (n = {})</h2>\n", EscapeHtml(set->set), set->acc.n);
    html += SetChart(*set);
  }
  return html + "</body></html>\n";
}

}  // namespace medassist::eval
