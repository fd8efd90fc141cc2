// The kl-divergence statistics on hand-computed rows: KL(base || model), NLL, top-1 agreement,
// and the summary's means, standard errors and percentiles (llama-perplexity's definitions).
#include "apps/kl_divergence_stats.h"

#include "apps/kl_divergence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <vector>

namespace medassist::apps {
namespace {

// Logits whose softmax is probs, shifted by offset (softmax ignores the shift).
std::vector<float> LogitsOf(const std::vector<double>& probs, double offset) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p) + offset));
  return out;
}

std::vector<float> Row(std::initializer_list<float> v) { return v; }

TEST(KlStatsTest, HandComputedKlNllAndTopOne) {
  // p_base = (1/2, 1/4, 1/4), p_model = (1/4, 1/2, 1/4):
  // KL = 1/2 ln 2 + 1/4 ln(1/2) + 1/4 ln 1 = ln(2) / 4.
  const std::vector<float> base = LogitsOf({0.5, 0.25, 0.25}, 0.0);
  const std::vector<float> model = LogitsOf({0.25, 0.5, 0.25}, 7.0);
  const double ln2 = std::log(2.0);
  TokenScore s = ScoreToken(base, model, 0);
  EXPECT_NEAR(s.kld, ln2 / 4, 1e-7);
  EXPECT_NEAR(s.nll_base, ln2, 1e-7);
  EXPECT_NEAR(s.nll_model, 2 * ln2, 1e-7);
  EXPECT_FALSE(s.same_top);
  s = ScoreToken(base, model, 2);
  EXPECT_NEAR(s.nll_base, 2 * ln2, 1e-7);
  EXPECT_NEAR(s.nll_model, 2 * ln2, 1e-7);
  // KL is not symmetric: KL(model || base) = 1/4 ln(1/2) + 1/2 ln 2 = ln(2) / 4 here as well,
  // so check an asymmetric pair: p = (0.9, 0.1), q = (0.5, 0.5).
  const TokenScore pq = ScoreToken(LogitsOf({0.9, 0.1}, 0), LogitsOf({0.5, 0.5}, 0), 1);
  const TokenScore qp = ScoreToken(LogitsOf({0.5, 0.5}, 0), LogitsOf({0.9, 0.1}, 0), 1);
  EXPECT_NEAR(pq.kld, 0.9 * std::log(0.9 / 0.5) + 0.1 * std::log(0.1 / 0.5), 1e-7);
  EXPECT_NEAR(qp.kld, 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1), 1e-7);
  EXPECT_NE(pq.kld, qp.kld);
}

TEST(KlStatsTest, IdenticalRowsGiveExactlyZeroAndAgree) {
  const std::vector<float> row = {3.5f, -1.0f, 0.25f, 3.0f, -20.0f};
  const TokenScore s = ScoreToken(row, row, 3);
  EXPECT_EQ(s.kld, 0.0);
  EXPECT_EQ(s.nll_base, s.nll_model);
  EXPECT_TRUE(s.same_top);
}

TEST(KlStatsTest, TopOneTiesGoToTheLowestIdAndShiftsDoNotMatter) {
  // Both rows tie between ids 0 and 2: the argmax is 0 for both.
  EXPECT_TRUE(ScoreToken(Row({1.0f, 0.0f, 1.0f}), Row({2.0f, 1.0f, 2.0f}), 1).same_top);
  // Base ties (argmax 0), model prefers 2.
  EXPECT_FALSE(ScoreToken(Row({1.0f, 0.0f, 1.0f}), Row({1.0f, 0.0f, 1.5f}), 1).same_top);
  // A constant shift changes no probability.
  const TokenScore s = ScoreToken(Row({1.0f, 2.0f, 3.0f}), Row({101.0f, 102.0f, 103.0f}), 2);
  EXPECT_NEAR(s.kld, 0.0, 1e-12);
  EXPECT_NEAR(s.nll_base, s.nll_model, 1e-12);
}

TEST(KlStatsTest, LargeLogitsStayFinite) {
  const TokenScore s = ScoreToken(Row({1000.0f, 0.0f}), Row({0.0f, 1000.0f}), 1);
  EXPECT_TRUE(std::isfinite(s.kld));
  EXPECT_NEAR(s.kld, 1000.0, 1e-6);  // p_base ~ (1, e^-1000): KL ~ log p_b(0) - log p_m(0)
  EXPECT_NEAR(s.nll_base, 1000.0, 1e-6);
  EXPECT_NEAR(s.nll_model, 0.0, 1e-6);
  std::vector<double> lp;
  LogSoftmax(std::vector<float>{1000.0f, 1000.0f}, lp);
  EXPECT_NEAR(lp[0], -std::log(2.0), 1e-12);
}

TEST(KlStatsTest, SummaryMeansErrorsAndPercentiles) {
  KlAccumulator acc;
  const double ln2 = std::log(2.0);
  const double klds[] = {0.3, 0.1, 0.4, 0.2};
  for (int i = 0; i < 4; ++i) {
    acc.Add({.kld = klds[i], .nll_base = ln2, .nll_model = ln2 + 0.1 * i, .same_top = i != 2});
  }
  const KlSummary s = acc.Summarize();
  EXPECT_EQ(s.n_tokens, 4);
  EXPECT_NEAR(s.kld.mean, 0.25, 1e-12);
  // Sample variance 1/60 over n = 4: standard error sqrt(1/240).
  EXPECT_NEAR(s.kld.error, std::sqrt(1.0 / 240), 1e-12);
  EXPECT_NEAR(s.kld_median, 0.25, 1e-12);
  EXPECT_NEAR(s.kld_p99, 0.97 * 0.4 + 0.03 * 0.3, 1e-12);  // at 0.99 * 3 = 2.97
  EXPECT_EQ(s.kld_max, 0.4);
  EXPECT_NEAR(s.ppl_base.mean, 2.0, 1e-12);
  EXPECT_NEAR(s.ppl_base.error, 0.0, 1e-6);
  EXPECT_NEAR(s.ppl_model.mean, 2.0 * std::exp(0.15), 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio.mean, 0.15, 1e-12);
  EXPECT_NEAR(s.same_top.mean, 0.75, 1e-12);
  EXPECT_NEAR(s.same_top.error, std::sqrt(0.75 * 0.25 / 3), 1e-12);
}

TEST(KlStatsTest, EmptyAndSingleValueSummaries) {
  EXPECT_EQ(KlAccumulator().Summarize().n_tokens, 0);
  KlAccumulator one;
  one.Add({.kld = 0.5, .nll_base = 1, .nll_model = 2, .same_top = true});
  const KlSummary s = one.Summarize();
  EXPECT_EQ(s.kld.mean, 0.5);
  EXPECT_EQ(s.kld.error, 0.0);
  EXPECT_EQ(s.kld_median, 0.5);
  EXPECT_EQ(s.same_top.error, 0.0);
}

TEST(KlStatsTest, PercentileInterpolatesAsLlamaPerplexity) {
  const std::vector<double> v = {1, 2, 3, 4, 5};
  EXPECT_EQ(Percentile(v, 0.0), 1);
  EXPECT_EQ(Percentile(v, 1.0), 5);
  EXPECT_EQ(Percentile(v, 0.5), 3);
  EXPECT_NEAR(Percentile(v, 0.9), 4.6, 1e-12);
  const std::vector<double> even = {1, 2, 3, 10};
  EXPECT_NEAR(Percentile(even, 0.5), 2.5, 1e-12);  // the mean of the two middle values
}

// The chunking of llama-perplexity: whole chunks of ctx tokens, ctx - 1 - ctx / 2 scored in each.
TEST(KlChunksTest, WholeChunksAndScoredCounts) {
  Result<KlChunking> plan = PlanKlChunks(100, 16, 0, 2048);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->n_chunks, 6);  // 100 / 16, the tail of 4 tokens dropped
  EXPECT_EQ(plan->first, 8);
  EXPECT_EQ(plan->n_scored_per_chunk(), 7);
  EXPECT_EQ(plan->n_scored(), 42);
  plan = PlanKlChunks(100, 16, 2, 2048);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->n_chunks, 2);
  EXPECT_EQ(plan->n_scored(), 14);
  plan = PlanKlChunks(100, 16, 50, 2048);  // more chunks asked than the text holds
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->n_chunks, 6);
  plan = PlanKlChunks(11, 11, 0, 11);  // odd ctx: first 5, positions 5..9 scored
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->first, 5);
  EXPECT_EQ(plan->n_scored(), 5);
  plan = PlanKlChunks(4, 4, 0, 4);  // the smallest chunk: position 2 predicts token 3
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->n_scored(), 1);
}

TEST(KlChunksTest, RefusalsNameTheProblem) {
  auto message = [](int64_t n_tokens, int32_t ctx, int32_t chunks, int64_t max_context) {
    Result<KlChunking> plan = PlanKlChunks(n_tokens, ctx, chunks, max_context);
    EXPECT_FALSE(plan.ok());
    return plan.ok() ? std::string() : plan.status().message();
  };
  EXPECT_NE(message(100, 3, 0, 2048).find("too small"), std::string::npos);
  EXPECT_NE(message(100, 0, 0, 2048).find("too small"), std::string::npos);
  EXPECT_NE(message(10000, 4096, 0, 2048).find("exceeds the models' context"), std::string::npos);
  EXPECT_NE(message(100, 16, -1, 2048).find("--chunks"), std::string::npos);
  EXPECT_NE(message(15, 16, 0, 2048).find("fewer than one chunk"), std::string::npos);
}

}  // namespace
}  // namespace medassist::apps
