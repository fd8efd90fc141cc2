// The sampler's steps against hand-computed cases (runtime/sampler.h). The draws are exact: the
// tests replay the same SplitMix64 stream and compute which token the rule of step 7 must pick.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace medassist::runtime {
namespace {

std::vector<float> LogitsOf(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (double p : probabilities) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

Sampler Make(const SamplingParams& params, int64_t vocab) {
  Result<Sampler> s = Sampler::Create(params, vocab);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

// The token step 7 picks from weights w (in walk order, ids ids) with the draw of `seed`.
int32_t Expected(uint64_t seed, const std::vector<int32_t>& ids, const std::vector<double>& w) {
  SplitMix64 rng(seed);
  double mass = 0;
  for (double x : w) mass += x;
  const double u = double{rng.NextFloat()} * mass;
  double cumulative = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    cumulative += w[i];
    if (u < cumulative) return ids[i];
  }
  return ids.back();
}

TEST(SplitMix64Test, MatchesTheReferenceStream) {
  SplitMix64 rng(0);  // the published reference outputs for seed 0
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454Full);
  SplitMix64 f(7);
  for (int i = 0; i < 1000; ++i) {
    const float u = f.NextFloat();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
}

TEST(SamplerTest, TemperatureZeroIsArgmaxWithLowestIdOnTies) {
  Sampler s = Make({.temperature = 0.0f}, 5);
  EXPECT_EQ(s.Sample(std::vector<float>{0.1f, 3.0f, -2.0f, 3.0f, 1.0f}).id, 1);
  EXPECT_EQ(s.Sample(std::vector<float>{-1.0f, -1.0f, -1.0f, -1.0f, -1.0f}).id, 0);
}

TEST(SamplerTest, NonFiniteLogitsNeverWin) {
  const float nan = std::nanf(""), inf = INFINITY;
  Sampler greedy = Make({.temperature = 0.0f}, 4);
  EXPECT_EQ(greedy.Sample(std::vector<float>{nan, inf, 0.5f, -inf}).id, 2);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Sampler s = Make({.temperature = 1.0f, .seed = seed}, 4);
    const int32_t id = s.Sample(std::vector<float>{nan, inf, 0.5f, -inf}).id;
    EXPECT_EQ(id, 2) << "seed " << seed;
  }
}

TEST(SamplerTest, LogitBiasIsAdded) {
  Sampler s = Make({.temperature = 0.0f, .logit_bias = {{2, 5.0f}, {0, -1.5f}}}, 3);
  const std::vector<float> logits = {1.0f, 4.0f, 0.5f};
  const std::span<const float> p = s.ProcessedLogits(logits);
  EXPECT_FLOAT_EQ(p[0], -0.5f);
  EXPECT_FLOAT_EQ(p[1], 4.0f);
  EXPECT_FLOAT_EQ(p[2], 5.5f);
  EXPECT_EQ(s.Sample(logits).id, 2);
}

TEST(SamplerTest, SuppressFirstTokensOnlyBeforeTheFirstAcceptedToken) {
  Sampler s = Make({.temperature = 0.0f, .suppress_first_tokens = {1}}, 3);
  const std::vector<float> logits = {1.0f, 4.0f, 0.5f};
  s.AddContext(std::vector<int32_t>{1});  // the prompt does not count as generated
  EXPECT_EQ(s.Sample(logits).id, 0);      // 1 would win but may not open the answer
  s.Accept(0);
  EXPECT_EQ(s.Sample(logits).id, 1);  // afterwards it is allowed
  EXPECT_FALSE(ValidateSamplingParams({.suppress_first_tokens = {3}}, 3).ok());
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeSeenLogits) {
  Sampler s = Make({.temperature = 0.0f, .repetition_penalty = 2.0f}, 4);
  s.AddContext(std::vector<int32_t>{0, 1, 1});
  s.Accept(3);  // generated tokens count as seen too
  const std::span<const float> p = s.ProcessedLogits(std::vector<float>{3.0f, -1.0f, 1.0f, 2.5f});
  EXPECT_FLOAT_EQ(p[0], 1.5f);
  EXPECT_FLOAT_EQ(p[1], -2.0f);
  EXPECT_FLOAT_EQ(p[2], 1.0f);  // not seen
  EXPECT_FLOAT_EQ(p[3], 1.25f);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
  Sampler s = Make({.presence_penalty = 0.5f, .frequency_penalty = 0.25f}, 3);
  s.AddContext(std::vector<int32_t>{0});  // the prompt: not penalised by these two
  s.Accept(1);
  s.Accept(1);
  s.Accept(2);
  const std::span<const float> p = s.ProcessedLogits(std::vector<float>{1.0f, 1.0f, 1.0f});
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_FLOAT_EQ(p[1], 1.0f - (0.5f + 0.25f * 2));
  EXPECT_FLOAT_EQ(p[2], 1.0f - (0.5f + 0.25f * 1));
}

TEST(SamplerTest, FullDistributionDrawWalksIdsInOrder) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Sampler s = Make({.temperature = 1.0f, .seed = seed}, 3);
    // weights exp(l - max): 0.4, 1, 0.6, walked in id order
    EXPECT_EQ(s.Sample(logits).id, Expected(seed, {0, 1, 2}, {0.2 / 0.5, 1.0, 0.3 / 0.5}))
        << "seed " << seed;
  }
}

TEST(SamplerTest, TemperatureDividesTheLogits) {
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f};
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Sampler s = Make({.temperature = 2.0f, .seed = seed}, 3);
    const std::vector<double> w = {std::exp(-1.0), 1.0, std::exp(-0.5)};
    EXPECT_EQ(s.Sample(logits).id, Expected(seed, {0, 1, 2}, w)) << "seed " << seed;
  }
}

TEST(SamplerTest, TopKKeepsTheKMostLikelyInDecreasingOrder) {
  const std::vector<float> logits = LogitsOf({0.1, 0.4, 0.2, 0.3});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Sampler s = Make({.top_k = 2, .seed = seed}, 4);
    EXPECT_EQ(s.Sample(logits).id, Expected(seed, {1, 3}, {1.0, 0.75})) << "seed " << seed;
  }
  Sampler one = Make({.top_k = 1, .seed = 3}, 4);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(one.Sample(logits).id, 1);
}

TEST(SamplerTest, TopPKeepsTheShortestPrefixReachingP) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Sampler half = Make({.top_p = 0.5f, .seed = seed}, 3);  // 0.5 alone reaches 0.5
    EXPECT_EQ(half.Sample(logits).id, 1);
    Sampler more = Make({.top_p = 0.6f, .seed = seed}, 3);  // 0.5 + 0.3 crosses 0.6
    EXPECT_EQ(more.Sample(logits).id, Expected(seed, {1, 2}, {1.0, 0.6})) << "seed " << seed;
  }
}

TEST(SamplerTest, TopPOverALargeVocabularySortsOnlyWhatItNeeds) {
  // 1000 tokens: one at 0.9 of the mass, the rest sharing 0.1: top_p 0.95 needs 501 of them, more
  // than the first 64 sorted, so the prefix grows.
  std::vector<double> p(1000, 0.1 / 999);
  p[500] = 0.9;
  const std::vector<float> logits = LogitsOf(p);
  Sampler s = Make({.top_p = 0.95f, .seed = 11}, 1000);
  int kept_other = 0;
  for (int i = 0; i < 300; ++i) kept_other += s.Sample(logits).id != 500 ? 1 : 0;
  // Under the kept mass (0.95), the other tokens hold 0.05 / 0.95: about 16 of 300.
  EXPECT_GT(kept_other, 3);
  EXPECT_LT(kept_other, 40);
}

TEST(SamplerTest, MinPDropsTokensBelowAShareOfTheMostLikely) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Sampler s = Make({.min_p = 0.5f, .seed = seed}, 3);  // keeps p >= 0.25: ids 1, 2 (id order)
    EXPECT_EQ(s.Sample(logits).id, Expected(seed, {1, 2}, {1.0, 0.6})) << "seed " << seed;
  }
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::vector<float> flat(64, 0.0f);
  std::vector<int32_t> a, b, c;
  Sampler sa = Make({.seed = 42}, 64), sb = Make({.seed = 42}, 64), sc = Make({.seed = 43}, 64);
  for (int i = 0; i < 32; ++i) {
    a.push_back(sa.Sample(flat).id);
    b.push_back(sb.Sample(flat).id);
    c.push_back(sc.Sample(flat).id);
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SamplerTest, LogprobsAreTheRawModelLogSoftmax) {
  SamplingParams params{.temperature = 0.0f, .logit_bias = {{2, 50.0f}}};
  params.logprobs = true;
  params.top_logprobs = 2;
  Sampler s = Make(params, 3);
  const SampledToken t = s.Sample(LogitsOf({0.5, 0.3, 0.2}));
  EXPECT_EQ(t.id, 2);                           // chosen under the bias
  EXPECT_NEAR(t.logprob, std::log(0.2), 1e-6);  // but reported under the raw logits
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].id, 0);
  EXPECT_NEAR(t.top[0].logprob, std::log(0.5), 1e-6);
  EXPECT_EQ(t.top[1].id, 1);
  EXPECT_NEAR(t.top[1].logprob, std::log(0.3), 1e-6);
  Sampler quiet = Make({.temperature = 0.0f}, 3);
  EXPECT_TRUE(quiet.Sample(LogitsOf({0.5, 0.3, 0.2})).top.empty());
}

TEST(SamplerTest, OutOfRangeParametersAreRefusedByName) {
  const auto refused = [](const SamplingParams& p, const char* field) {
    Result<Sampler> s = Sampler::Create(p, 10);
    ASSERT_FALSE(s.ok()) << field;
    EXPECT_NE(s.status().message().find(field), std::string::npos) << s.status().message();
  };
  refused({.temperature = -0.1f}, "temperature");
  refused({.temperature = NAN}, "temperature");
  refused({.top_k = -1}, "top_k");
  refused({.top_p = 0.0f}, "top_p");
  refused({.top_p = 1.5f}, "top_p");
  refused({.top_p = NAN}, "top_p");
  refused({.min_p = 2.0f}, "min_p");
  refused({.repetition_penalty = 0.0f}, "repetition_penalty");
  refused({.presence_penalty = 2.5f}, "presence_penalty");
  refused({.frequency_penalty = -3.0f}, "frequency_penalty");
  refused({.logit_bias = {{10, 1.0f}}}, "logit_bias");
  refused({.logit_bias = {{-1, 1.0f}}}, "logit_bias");
  refused({.logit_bias = {{3, 101.0f}}}, "logit_bias");
  SamplingParams many;
  many.top_logprobs = 21;
  refused(many, "top_logprobs");
  EXPECT_FALSE(Sampler::Create({}, 0).ok());
}

TEST(SamplerTest, OutOfVocabularyContextIdsAreIgnored) {
  Sampler s = Make({.temperature = 0.0f, .repetition_penalty = 2.0f}, 3);
  s.AddContext(std::vector<int32_t>{-5, 3, 99});
  s.Accept(7);
  const std::span<const float> p = s.ProcessedLogits(std::vector<float>{1.0f, 2.0f, 3.0f});
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_FLOAT_EQ(p[1], 2.0f);
  EXPECT_FLOAT_EQ(p[2], 3.0f);
}

}  // namespace
}  // namespace medassist::runtime
