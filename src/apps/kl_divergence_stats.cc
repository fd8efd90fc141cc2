#include "apps/kl_divergence_stats.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace medassist::apps {
namespace {

// Index of the largest value, the lowest among equals.
size_t ArgmaxIndex(std::span<const float> v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// Mean and standard error of the mean from a sum and a sum of squares over n values.
MeanError FromSums(double sum, double sum2, int64_t n) {
  if (n < 1) return {};
  const double mean = sum / static_cast<double>(n);
  const double var = sum2 / static_cast<double>(n) - mean * mean;
  const double error = n > 1 && var > 0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
  return {mean, error};
}

// exp(mean NLL) with the error carried through exp's derivative.
MeanError Perplexity(const MeanError& nll) {
  const double ppl = std::exp(nll.mean);
  return {ppl, ppl * nll.error};
}

}  // namespace

void LogSoftmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  const double max = logits[ArgmaxIndex(logits)];
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_sum = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
}

TokenScore ScoreToken(std::span<const float> base_logits, std::span<const float> model_logits,
                      int32_t next) {
  CHECK(!base_logits.empty() && base_logits.size() == model_logits.size())
      << "logit rows of " << base_logits.size() << " and " << model_logits.size() << " values";
  CHECK(next >= 0 && static_cast<size_t>(next) < base_logits.size()) << "next token " << next;
  // Per thread: ScoreToken runs on the pool's threads, and these rows are vocabulary-sized.
  thread_local std::vector<double> log_p_base, log_p_model;
  LogSoftmax(base_logits, log_p_base);
  LogSoftmax(model_logits, log_p_model);
  TokenScore s;
  for (size_t i = 0; i < log_p_base.size(); ++i) {
    s.kld += std::exp(log_p_base[i]) * (log_p_base[i] - log_p_model[i]);
  }
  s.nll_base = -log_p_base[static_cast<size_t>(next)];
  s.nll_model = -log_p_model[static_cast<size_t>(next)];
  s.same_top = ArgmaxIndex(base_logits) == ArgmaxIndex(model_logits);
  return s;
}

void KlAccumulator::Add(const TokenScore& score) {
  sum_nll_base_ += score.nll_base;
  sum_nll_base2_ += score.nll_base * score.nll_base;
  sum_nll_model_ += score.nll_model;
  sum_nll_model2_ += score.nll_model * score.nll_model;
  const double diff = score.nll_model - score.nll_base;
  sum_nll_diff_ += diff;
  sum_nll_diff2_ += diff * diff;
  sum_kld_ += score.kld;
  sum_kld2_ += score.kld * score.kld;
  n_same_top_ += score.same_top ? 1 : 0;
  kld_values_.push_back(score.kld);
}

double Percentile(std::span<const double> sorted, double fraction) {
  CHECK(!sorted.empty());
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double at = fraction * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(at);
  const double t = at - static_cast<double>(i);
  const double next = sorted[std::min(i + 1, sorted.size() - 1)];
  return (1 - t) * sorted[i] + t * next;
}

KlSummary KlAccumulator::Summarize() const {
  KlSummary s;
  const int64_t n = count();
  if (n == 0) return s;
  s.n_tokens = n;
  s.ppl_base = Perplexity(FromSums(sum_nll_base_, sum_nll_base2_, n));
  s.ppl_model = Perplexity(FromSums(sum_nll_model_, sum_nll_model2_, n));
  s.ln_ppl_ratio = FromSums(sum_nll_diff_, sum_nll_diff2_, n);
  s.kld = FromSums(sum_kld_, sum_kld2_, n);
  std::vector<double> sorted = kld_values_;
  std::sort(sorted.begin(), sorted.end());
  s.kld_median = Percentile(sorted, 0.5);
  s.kld_p99 = Percentile(sorted, 0.99);
  s.kld_max = sorted.back();
  const double p = static_cast<double>(n_same_top_) / static_cast<double>(n);
  s.same_top = {p, n > 1 ? std::sqrt(p * (1 - p) / static_cast<double>(n - 1)) : 0.0};
  return s;
}

}  // namespace medassist::apps
