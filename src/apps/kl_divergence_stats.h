// The statistics of a teacher-forced comparison of two models (kl-divergence): for each scored
// position, the base model's and the tested model's next-token distributions over the same
// vocabulary, and the token that actually follows. The quantities and their uncertainties are the
// ones llama-perplexity --kl-divergence prints, so the two tools' figures can be set side by side.
//
//   KlAccumulator acc;
//   acc.Add(ScoreToken(base_row, model_row, next_token));   // for every scored position
//   KlSummary s = acc.Summarize();
//
// Differences from llama.cpp, all in its approximations: it stores the base log-probabilities as
// 16-bit integers and leaves out of the KL sum the tokens whose base log-probability is below -16;
// here every term is exact in double precision.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace medassist::apps {

// One scored position. Natural logarithms throughout.
struct TokenScore {
  double kld = 0;         // KL(base || model) = sum_i p_base(i) (log p_base(i) - log p_model(i))
  double nll_base = 0;    // -log p_base(next)
  double nll_model = 0;   // -log p_model(next)
  bool same_top = false;  // argmax of the two rows equal (ties: the lowest id)
};

// Log-softmax of both rows, accumulated in double. The rows must have the same nonzero length
// and next must index them (CHECK: a caller bug, not a user error).
TokenScore ScoreToken(std::span<const float> base_logits, std::span<const float> model_logits,
                      int32_t next);

// log_softmax(logits) into out (resized to logits.size()), in double.
void LogSoftmax(std::span<const float> logits, std::vector<double>& out);

struct MeanError {
  double mean = 0;
  double error = 0;  // standard error of the mean (0 with fewer than 2 values)
};

struct KlSummary {
  int64_t n_tokens = 0;           // scored positions
  MeanError ppl_base, ppl_model;  // exp(mean NLL) ± PPL * stderr(NLL), as llama-perplexity
  MeanError ln_ppl_ratio;         // mean(nll_model - nll_base) ± its standard error
  MeanError kld;                  // mean KLD ± standard error
  double kld_median = 0, kld_p99 = 0, kld_max = 0;
  MeanError same_top;  // fraction of positions whose argmax agrees ± sqrt(p (1 - p) / (n - 1))
};

// Sums over scored positions, and every position's KLD (8 bytes a token) for the median and the
// percentiles.
class KlAccumulator {
 public:
  void Add(const TokenScore& score);
  int64_t count() const { return static_cast<int64_t>(kld_values_.size()); }
  // All zeros when nothing was added.
  KlSummary Summarize() const;

 private:
  double sum_nll_base_ = 0, sum_nll_base2_ = 0;
  double sum_nll_model_ = 0, sum_nll_model2_ = 0;
  double sum_nll_diff_ = 0, sum_nll_diff2_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0;
  int64_t n_same_top_ = 0;
  std::vector<double> kld_values_;
};

// The value at fraction (0..1) of sorted values, interpolating linearly between neighbours at
// fraction * (n - 1) (llama-perplexity's rule; 0.5 gives the usual median). values must be
// sorted and nonempty.
double Percentile(std::span<const double> sorted, double fraction);

}  // namespace medassist::apps
