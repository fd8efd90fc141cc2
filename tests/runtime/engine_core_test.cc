// EngineCore: continuous batching on the synthetic Qwen2 (model/synthetic_qwen2.h). The central
// property (DESIGN §2b): a request's tokens do not depend on what runs beside it, how its prompt
// is chunked or when it arrives.
#include "runtime/engine_core.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "core/thread_pool.h"
#include "model/synthetic_qwen2.h"
#include "runtime/greedy_generator.h"

namespace medassist::runtime {
namespace {

using model::testing::SyntheticQwen2;

std::vector<int32_t> Prompt(int32_t n, int32_t seed) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; ++i) ids.push_back((seed * 131 + i * 197) % 1024);
  return ids;
}

EngineCore MakeEngine(EngineConfig config) {
  Result<EngineCore> e = EngineCore::Create(SyntheticQwen2(), nullptr, config);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  FinishReason reason = FinishReason::kLength;
  bool finished = false;
  int32_t n_prompt = 0, n_generated = 0;
};

// Runs until idle; arrivals[i] is added before step i (later ones at the end of the list).
std::map<int64_t, Outcome> RunAll(EngineCore& e,
                                  const std::vector<std::vector<GenerationRequest>>& arrivals) {
  std::map<int64_t, Outcome> out;
  std::vector<TokenEvent> events;
  for (size_t step = 0; step < arrivals.size() || !e.idle(); ++step) {
    if (step < arrivals.size()) {
      for (const GenerationRequest& r : arrivals[step]) {
        Result<int64_t> id = e.Add(r);
        EXPECT_TRUE(id.ok()) << id.status().ToString();
      }
    }
    events.clear();
    const Status s = e.Step(&events);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
    for (const TokenEvent& ev : events) {
      Outcome& o = out[ev.id];
      EXPECT_FALSE(o.finished) << "event after the end of request " << ev.id;
      if (ev.has_token) o.tokens.push_back(ev.token.id), o.logprobs.push_back(ev.token.logprob);
      if (ev.finished) {
        o.finished = true;
        o.reason = ev.reason;
        o.n_prompt = ev.n_prompt_tokens;
        o.n_generated = ev.n_generated_tokens;
      }
    }
  }
  return out;
}

GenerationRequest Sampled(int32_t n_prompt, int32_t seed, int32_t max_new) {
  GenerationRequest r{.prompt = Prompt(n_prompt, seed), .max_new_tokens = max_new};
  r.sampling.temperature = 0.8f;
  r.sampling.top_p = 0.9f;
  r.sampling.seed = static_cast<uint64_t>(seed);
  return r;
}

TEST(EngineCoreTest, RequestsTogetherGiveTheTokensEachGivesAlone) {
  const std::vector<GenerationRequest> requests = {Sampled(5, 1, 12), Sampled(23, 2, 9),
                                                   Sampled(40, 3, 14)};
  std::vector<Outcome> alone;
  for (const GenerationRequest& r : requests) {
    EngineCore e = MakeEngine({.n_kv_blocks = 16, .context = 128, .max_batch_tokens = 64});
    std::map<int64_t, Outcome> o = RunAll(e, {{r}});
    ASSERT_EQ(o.size(), 1u);
    ASSERT_TRUE(o.begin()->second.finished);
    EXPECT_EQ(o.begin()->second.tokens.size(), static_cast<size_t>(r.max_new_tokens));
    alone.push_back(o.begin()->second);
  }
  // Together, arriving at different steps, with prompts cut into 7-row chunks.
  EngineCore e = MakeEngine({.n_kv_blocks = 16, .context = 128, .max_batch_tokens = 7});
  std::map<int64_t, Outcome> together =
      RunAll(e, {{requests[0]}, {}, {requests[1]}, {}, {}, {requests[2]}});
  ASSERT_EQ(together.size(), 3u);
  for (int64_t id = 0; id < 3; ++id) {
    EXPECT_EQ(together[id].tokens, alone[static_cast<size_t>(id)].tokens) << "request " << id;
    EXPECT_EQ(together[id].reason, FinishReason::kLength);
    EXPECT_EQ(together[id].n_prompt, static_cast<int32_t>(requests[id].prompt.size()));
    EXPECT_EQ(together[id].n_generated, requests[id].max_new_tokens);
  }
  EXPECT_EQ(e.stats().prompt_tokens, 5 + 23 + 40);
  EXPECT_EQ(e.stats().generated_tokens, 12 + 9 + 14);
  // Every block given back, but those the prefix cache keeps for later requests.
  EXPECT_EQ(e.stats().kv_blocks_used, e.stats().prefix_cache_blocks);
  // The sampled streams are not all alike (the test would be vacuous if the model were dead).
  EXPECT_NE(alone[0].tokens, alone[1].tokens);
}

// The same on the fast path (kernels chosen for this CPU, 2 threads).
TEST(EngineCoreTest, FastForwardTogetherEqualsAlone) {
  ThreadPool pool(2);
  model::Forward forward(SyntheticQwen2(), pool, {});
  const EngineConfig config{.n_kv_blocks = 16, .context = 128, .max_batch_tokens = 6};
  const std::vector<GenerationRequest> requests = {Sampled(11, 21, 8), Sampled(26, 22, 8)};
  std::vector<std::vector<int32_t>> alone;
  for (const GenerationRequest& r : requests) {
    Result<EngineCore> e = EngineCore::Create(SyntheticQwen2(), &forward, config);
    ASSERT_TRUE(e.ok());
    alone.push_back(RunAll(*e, {{r}})[0].tokens);
    ASSERT_EQ(alone.back().size(), 8u);
  }
  Result<EngineCore> e = EngineCore::Create(SyntheticQwen2(), &forward, config);
  ASSERT_TRUE(e.ok());
  std::map<int64_t, Outcome> together = RunAll(*e, {{requests[0]}, {requests[1]}});
  EXPECT_EQ(together[0].tokens, alone[0]);
  EXPECT_EQ(together[1].tokens, alone[1]);
}

TEST(EngineCoreTest, GreedyMatchesTheGreedyGenerator) {
  const std::vector<int32_t> prompt = Prompt(19, 4);
  Result<GreedyGenerator> g = GreedyGenerator::Create(SyntheticQwen2(), 64);
  ASSERT_TRUE(g.ok());
  Result<GenerateResult> want = g->Generate(prompt, {.max_new_tokens = 10});
  ASSERT_TRUE(want.ok());
  EngineCore e = MakeEngine({.n_kv_blocks = 8, .context = 64, .max_batch_tokens = 5});
  GenerationRequest r{.prompt = prompt, .max_new_tokens = 10};
  r.sampling.temperature = 0.0f;
  std::map<int64_t, Outcome> got = RunAll(e, {{r}});
  EXPECT_EQ(got[0].tokens, want->ids);
}

TEST(EngineCoreTest, AFullCacheMakesRequestsWaitThenFinish) {
  // 3 blocks of 16: one request of 20 + 20 positions at a time.
  EngineCore e = MakeEngine({.n_kv_blocks = 3, .context = 64, .max_batch_tokens = 64});
  ASSERT_TRUE(e.Add(Sampled(20, 5, 20)).ok());
  ASSERT_TRUE(e.Add(Sampled(20, 6, 20)).ok());
  std::vector<TokenEvent> events;
  ASSERT_TRUE(e.Step(&events).ok());
  EXPECT_EQ(e.stats().running, 1);
  EXPECT_EQ(e.stats().waiting, 1);
  std::map<int64_t, Outcome> rest = RunAll(e, {});
  EXPECT_TRUE(rest[0].finished);
  EXPECT_TRUE(rest[1].finished);
  EXPECT_EQ(rest[1].tokens.size(), 20u);
  EXPECT_EQ(e.stats().kv_blocks_free + e.stats().prefix_cache_blocks, 3);
  // The second request tried to get in at every step while waiting; its lookup counts once.
  EXPECT_EQ(e.stats().prefix_lookup_blocks, 1 + 1);
}

// A prefix computed by an earlier request is reused: fewer rows computed, the same tokens as
// a cold run; under pressure the cache gives its blocks back.
TEST(EngineCoreTest, PrefixCacheHitsGiveTheColdRunsTokens) {
  std::vector<int32_t> shared = Prompt(40, 30);  // 2 full blocks + 8
  GenerationRequest a = Sampled(1, 31, 6), b = Sampled(1, 32, 6);
  b.sampling.logprobs = true;  // the raw logprobs of each token: a function of the logits
  a.prompt = shared;
  b.prompt = std::vector<int32_t>(shared.begin(), shared.begin() + 32);
  for (int32_t t : Prompt(9, 33)) b.prompt.push_back(t);  // same 2 blocks, another tail
  EngineCore cold = MakeEngine({.n_kv_blocks = 8, .context = 64, .prefix_cache = false});
  const Outcome want_outcome = RunAll(cold, {{b}})[0];
  const std::vector<int32_t> want = want_outcome.tokens;
  EXPECT_EQ(cold.stats().prefix_cache_blocks, 0);

  EngineCore warm = MakeEngine({.n_kv_blocks = 8, .context = 64});
  RunAll(warm, {{a}});
  EXPECT_EQ(warm.stats().prefix_cache_blocks, 2);  // a's 46 positions: 2 full blocks
  std::map<int64_t, Outcome> got = RunAll(warm, {{b}});
  EXPECT_EQ(got[1].tokens, want);
  ASSERT_EQ(got[1].logprobs.size(), want_outcome.logprobs.size());
  EXPECT_EQ(std::memcmp(got[1].logprobs.data(), want_outcome.logprobs.data(),
                        sizeof(float) * want_outcome.logprobs.size()),
            0);  // bit for bit
  EXPECT_EQ(warm.stats().prefix_hit_blocks, 2);
  EXPECT_EQ(warm.stats().prefix_lookup_blocks, 2 + 2);  // (40 - 1) / 16 and (41 - 1) / 16
  EXPECT_EQ(warm.stats().prompt_tokens_computed, 40 + (41 - 32));

  // A request that needs every block evicts the cache's idle ones.
  GenerationRequest big = Sampled(100, 34, 28);  // 128 positions: all 8 blocks
  Result<EngineCore> small =
      EngineCore::Create(SyntheticQwen2(), nullptr, {.n_kv_blocks = 8, .context = 128});
  ASSERT_TRUE(small.ok());
  RunAll(*small, {{a}});
  ASSERT_GT(small->stats().prefix_cache_blocks, 0);
  std::map<int64_t, Outcome> evicted = RunAll(*small, {{big}});
  EXPECT_TRUE(evicted[1].finished);
  EXPECT_EQ(evicted[1].tokens.size(), 28u);
}

TEST(EngineCoreTest, CancellationMidPrefillAndMidDecodeFreesTheBlocks) {
  EngineCore e = MakeEngine({.n_kv_blocks = 8, .context = 64, .max_batch_tokens = 4});
  Result<int64_t> a = e.Add(Sampled(30, 7, 10));  // 30-token prompt: 8 steps of prefill
  Result<int64_t> b = e.Add(Sampled(3, 8, 30));
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<TokenEvent> events;
  ASSERT_TRUE(e.Step(&events).ok());
  ASSERT_TRUE(e.Step(&events).ok());
  e.Cancel(*a);  // still prefilling
  events.clear();
  ASSERT_TRUE(e.Step(&events).ok());
  bool a_cancelled = false;
  for (const TokenEvent& ev : events) {
    a_cancelled |= ev.id == *a && ev.finished && ev.reason == FinishReason::kCancelled;
  }
  EXPECT_TRUE(a_cancelled);
  ASSERT_TRUE(e.Step(&events).ok());  // b is decoding now
  e.Cancel(*b);
  events.clear();
  ASSERT_TRUE(e.Step(&events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, *b);
  EXPECT_EQ(events[0].reason, FinishReason::kCancelled);
  EXPECT_TRUE(e.idle());
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
  e.Cancel(12345);  // unknown: ignored
}

TEST(EngineCoreTest, EosEndsTheSequenceWithoutReportingIt) {
  const std::vector<int32_t> prompt = Prompt(9, 9);
  EngineCore probe = MakeEngine({.n_kv_blocks = 4, .context = 64});
  GenerationRequest r{.prompt = prompt, .max_new_tokens = 6};
  r.sampling.temperature = 0.0f;
  const std::vector<int32_t> free_run = RunAll(probe, {{r}})[0].tokens;
  ASSERT_EQ(free_run.size(), 6u);
  r.eos_ids = {free_run[3]};
  EngineCore e = MakeEngine({.n_kv_blocks = 4, .context = 64});
  Outcome o = RunAll(e, {{r}})[0];
  EXPECT_EQ(o.reason, FinishReason::kEos);
  const auto first_eos = std::find(free_run.begin(), free_run.end(), free_run[3]);
  EXPECT_EQ(o.tokens, std::vector<int32_t>(free_run.begin(), first_eos));
}

TEST(EngineCoreTest, ContextEndsASequence) {
  EngineCore e = MakeEngine({.n_kv_blocks = 4, .context = 24});
  Outcome o = RunAll(e, {{Sampled(20, 10, 100)}})[0];
  EXPECT_EQ(o.reason, FinishReason::kContext);
  EXPECT_EQ(o.tokens.size(), 4u);
}

TEST(EngineCoreTest, BadRequestsAreRefusedAtAdd) {
  EngineCore e = MakeEngine({.n_kv_blocks = 2, .context = 64});
  EXPECT_EQ(e.Add({.prompt = {}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.Add({.prompt = {1, -2}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.Add({.prompt = Prompt(64, 1)}).status().code(), StatusCode::kInvalidArgument);
  GenerationRequest bad_sampling{.prompt = {1}};
  bad_sampling.sampling.top_p = 2.0f;
  EXPECT_EQ(e.Add(bad_sampling).status().code(), StatusCode::kInvalidArgument);
  // 40 positions need 3 blocks; the cache has 2: it could never run.
  EXPECT_EQ(e.Add({.prompt = Prompt(20, 1), .max_new_tokens = 20}).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(e.idle());
  EXPECT_FALSE(EngineCore::Create(SyntheticQwen2(), nullptr, {.n_kv_blocks = 0}).ok());
}

TEST(EngineCoreTest, KvBudgetInBlocks) {
  const formats::ModelConfig& c = SyntheticQwen2().config();
  const int64_t block_bytes = model::KvCacheShape::ForModel(c, 1).block_floats() * 4;
  EXPECT_EQ(KvBlocksForBudget(c, 10 * block_bytes + block_bytes / 2), 10);
  EXPECT_EQ(KvBlocksForBudget(c, block_bytes - 1), 0);
  EXPECT_EQ(KvBlocksForBudget(c, -5), 0);
}

TEST(EngineCoreTest, ZeroNewTokensFinishesAtOnce) {
  EngineCore e = MakeEngine({.n_kv_blocks = 2, .context = 64});
  Outcome o = RunAll(e, {{GenerationRequest{.prompt = {1, 2}, .max_new_tokens = 0}}})[0];
  EXPECT_TRUE(o.finished);
  EXPECT_TRUE(o.tokens.empty());
  EXPECT_EQ(o.reason, FinishReason::kLength);
}

}  // namespace
}  // namespace medassist::runtime

namespace medassist::runtime {
namespace {

// Prompt logprobs (legacy echo + logprobs): one per prompt token after the first, whatever the
// chunking, and the same value the sampler reports when that token is generated instead.
std::vector<SampledToken> PromptLogprobs(EngineConfig config, GenerationRequest r,
                                         std::vector<SampledToken>* generated = nullptr) {
  EngineCore e = MakeEngine(config);
  EXPECT_TRUE(e.Add(std::move(r)).ok());
  std::vector<SampledToken> out;
  std::vector<TokenEvent> events;
  while (!e.idle()) {
    events.clear();
    EXPECT_TRUE(e.Step(&events).ok());
    for (const TokenEvent& ev : events) {
      out.insert(out.end(), ev.prompt_tokens.begin(), ev.prompt_tokens.end());
      if (ev.has_token && generated != nullptr) generated->push_back(ev.token);
    }
  }
  return out;
}

TEST(EngineCorePromptLogprobsTest, EveryPromptTokenOnceWhateverTheChunking) {
  GenerationRequest r{.prompt = Prompt(70, 3), .max_new_tokens = 1, .prompt_logprobs = 2};
  r.sampling.temperature = 0.0f;
  r.sampling.logprobs = true;
  std::vector<SampledToken> generated;
  std::vector<SampledToken> big =
      PromptLogprobs({.n_kv_blocks = 64, .max_batch_tokens = 256}, r, &generated);
  std::vector<SampledToken> small = PromptLogprobs({.n_kv_blocks = 64, .max_batch_tokens = 7}, r);
  ASSERT_EQ(big.size(), 69u);
  ASSERT_EQ(small.size(), 69u);
  for (size_t i = 0; i < big.size(); ++i) {
    EXPECT_EQ(big[i].id, r.prompt[i + 1]);
    EXPECT_LE(big[i].logprob, 0.0f);
    ASSERT_EQ(big[i].top.size(), 2u);
    EXPECT_GE(big[i].top[0].logprob, big[i].top[1].logprob);
    EXPECT_GE(big[i].top[0].logprob, big[i].logprob);
    EXPECT_EQ(std::memcmp(&big[i].logprob, &small[i].logprob, sizeof(float)), 0) << i;
  }
  // The generated token, appended to the prompt, gets the logprob the sampler reported for it.
  ASSERT_EQ(generated.size(), 1u);
  GenerationRequest extended = r;
  extended.prompt.push_back(generated[0].id);
  std::vector<SampledToken> again = PromptLogprobs({.n_kv_blocks = 64}, extended);
  ASSERT_EQ(again.size(), 70u);
  EXPECT_EQ(again.back().id, generated[0].id);
  EXPECT_EQ(again.back().logprob, generated[0].logprob);
}

}  // namespace
}  // namespace medassist::runtime

namespace medassist::runtime {
namespace {

// Admission takes the blocks of the prompt only: requests with a large max_new_tokens but room
// for their prompts run together instead of one at a time.
TEST(EngineCoreLazyBlocksTest, AdmissionDoesNotReserveTheWholeOutput) {
  EngineCore e = MakeEngine({.n_kv_blocks = 8, .context = 128, .max_batch_tokens = 64});
  for (int32_t i = 0; i < 3; ++i) ASSERT_TRUE(e.Add(Sampled(10, 40 + i, 100)).ok());
  std::vector<TokenEvent> events;
  ASSERT_TRUE(e.Step(&events).ok());
  EXPECT_EQ(e.stats().running, 3);  // each would have needed 7 of the 8 blocks up front
  EXPECT_EQ(e.stats().kv_blocks_used, 3);
}

// Three sequences that cannot all grow in a 9-block cache: the newest are preempted, readmitted
// and recomputed, and every request still gets exactly the tokens (and logprobs) it gets alone.
TEST(EngineCoreLazyBlocksTest, PreemptionDoesNotChangeResults) {
  std::vector<GenerationRequest> requests = {Sampled(20, 50, 60), Sampled(30, 51, 50),
                                             Sampled(12, 52, 70)};
  for (GenerationRequest& r : requests) r.sampling.logprobs = true;
  std::map<int64_t, Outcome> alone;
  for (size_t i = 0; i < requests.size(); ++i) {
    EngineCore e = MakeEngine({.n_kv_blocks = 9, .context = 128, .max_batch_tokens = 16});
    alone[static_cast<int64_t>(i)] = RunAll(e, {{requests[i]}})[0];
  }
  for (bool prefix_cache : {true, false}) {
    EngineCore e = MakeEngine(
        {.n_kv_blocks = 9, .context = 128, .max_batch_tokens = 16, .prefix_cache = prefix_cache});
    std::map<int64_t, Outcome> together = RunAll(e, {requests});
    EXPECT_GT(e.stats().preemptions, 0) << "the test must make the cache run out";
    for (const auto& [id, o] : alone) {
      EXPECT_EQ(together[id].tokens, o.tokens) << "request " << id;
      EXPECT_EQ(together[id].logprobs, o.logprobs) << "request " << id;
      EXPECT_EQ(together[id].n_generated, o.n_generated);
      EXPECT_EQ(together[id].n_prompt, o.n_prompt);
    }
    EXPECT_EQ(e.stats().kv_blocks_used, e.stats().prefix_cache_blocks);
    EXPECT_EQ(e.stats().prompt_tokens, 20 + 30 + 12);  // a readmission is not a new prompt
  }
}

}  // namespace
}  // namespace medassist::runtime

namespace medassist::runtime {
namespace {

// With an F16 cache the engine keeps its guarantee: requests together give the tokens and
// logprobs each gives alone, chunked or not.
TEST(EngineCoreF16Test, RequestsTogetherGiveTheTokensEachGivesAlone) {
  std::vector<GenerationRequest> requests = {Sampled(5, 61, 12), Sampled(23, 62, 9),
                                             Sampled(40, 63, 7)};
  for (GenerationRequest& r : requests) r.sampling.logprobs = true;
  const EngineConfig config{
      .n_kv_blocks = 16, .context = 128, .max_batch_tokens = 64, .kv_type = model::KvType::kF16};
  EngineCore together = MakeEngine(
      {.n_kv_blocks = 16, .context = 128, .max_batch_tokens = 6, .kv_type = model::KvType::kF16});
  std::map<int64_t, Outcome> all = RunAll(together, {requests});
  for (size_t i = 0; i < requests.size(); ++i) {
    EngineCore alone = MakeEngine(config);
    Outcome o = RunAll(alone, {{requests[i]}})[0];
    EXPECT_EQ(all[static_cast<int64_t>(i)].tokens, o.tokens) << i;
    EXPECT_EQ(all[static_cast<int64_t>(i)].logprobs, o.logprobs) << i;
  }
  EXPECT_EQ(KvBlocksForBudget(SyntheticQwen2().config(), 1 << 20, model::KvType::kF16),
            2 * KvBlocksForBudget(SyntheticQwen2().config(), 1 << 20));
}

}  // namespace
}  // namespace medassist::runtime
