// The precedence of sampling values: request > route default > generation_config.json > built-in.
#include "runtime/sampling_defaults.h"

#include <gtest/gtest.h>

namespace medassist::runtime {
namespace {

formats::GenerationConfig Qwen25() {  // Qwen2.5-*-Instruct's generation_config.json
  formats::GenerationConfig g;
  g.do_sample = true;
  g.temperature = 0.7f;
  g.top_p = 0.8f;
  g.top_k = 20;
  g.repetition_penalty = 1.05f;
  return g;
}

uint64_t NoSeed() {
  ADD_FAILURE() << "a seed was set at a higher level: new_seed must not be called";
  return 0;
}

TEST(SamplingDefaultsTest, RequestThenRouteThenModelThenBuiltIn) {
  const SamplingOverrides route{.temperature = 0.9f, .top_p = 0.9f, .max_new_tokens = 128};
  // (top_p and temperature also set by the model: the higher levels win)
  const SamplingOverrides request{.top_p = 0.5f, .seed = 7};
  const ResolvedGeneration r = ResolveGeneration(request, route, Qwen25(), NoSeed);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.5f);        // the request
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.9f);  // the route
  EXPECT_EQ(r.sampling.top_k, 20);                // the model
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.05f);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.0f);  // built-in
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(r.max_new_tokens, 128);
  EXPECT_EQ(r.sampling.seed, 7u);
}

TEST(SamplingDefaultsTest, BuiltInsWhenNothingIsSet) {
  const ResolvedGeneration r = ResolveGeneration({}, {}, {}, [] { return uint64_t{42}; });
  EXPECT_FLOAT_EQ(r.sampling.temperature, kDefaultTemperature);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(r.max_new_tokens, kDefaultMaxNewTokens);
  EXPECT_EQ(r.sampling.seed, 42u);  // a fresh seed per request
}

TEST(SamplingDefaultsTest, DoSampleFalseMeansGreedyUnlessAskedOtherwise) {
  formats::GenerationConfig g = Qwen25();
  g.do_sample = false;
  EXPECT_FLOAT_EQ(ResolveGeneration({}, {}, g, [] { return uint64_t{1}; }).sampling.temperature,
                  0.0f);
  const SamplingOverrides request{.temperature = 0.6f};
  EXPECT_FLOAT_EQ(
      ResolveGeneration(request, {}, g, [] { return uint64_t{1}; }).sampling.temperature, 0.6f);
}

}  // namespace
}  // namespace medassist::runtime
