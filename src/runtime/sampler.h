// Choosing the next token from a row of logits, one Sampler per sequence:
//
//   ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(params, vocab_size));
//   sampler.AddContext(prompt_ids);            // what repetition_penalty looks back on
//   SampledToken t = sampler.Sample(logits);   // logits (vocab_size,) of the last position
//   sampler.Accept(t.id);                      // the chosen token joins the context
//
// The steps, in this order (the order Hugging Face's processors and vLLM apply them):
//   1. logit_bias: logit[id] += bias (OpenAI, -100..100); suppress_first_tokens: -inf for those
//      ids while nothing has been generated yet (a request that must not open with a marker);
//   2. repetition_penalty p (Hugging Face): every id seen in the prompt or the output so far,
//      logit > 0 ? logit / p : logit * p;
//   3. presence_penalty a, frequency_penalty f (OpenAI, as vLLM applies them): every id generated
//      so far (not the prompt) loses a + f * count;
//   4. temperature 0: the highest logit wins (ties: the lowest id); no randomness, steps 5-7
//   skipped;
//   5. temperature t: logit / t, then softmax;
//   6. top_k (k most probable), top_p (the most probable tokens until their mass reaches p, the
//      one that crosses included), min_p (probability at least min_p x the highest): each keeps at
//      least the most probable token; the kept probabilities are renormalised;
//   7. one uniform draw u in [0, 1) from the sequence's own generator, and the kept tokens are
//      walked until their mass passes u: in order of decreasing probability (ties: lower id
//      first) when top_k or top_p cut them, else in id order (no sort of the whole vocabulary).
// Logprobs are the model's own: log-softmax of the raw logits (before steps 1-6), as vLLM reports
// them by default, for the chosen token and the top_logprobs most likely ones.
//
// Same parameters, same seed, same logits: same token, on every machine (the generator is
// SplitMix64, not std::'s implementation-defined distributions), whatever else runs beside.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/status.h"

namespace medassist::runtime {

struct SamplingParams {
  float temperature = 1.0f;  // 0: greedy
  int32_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias = {};  // (token id, bias)
  std::vector<int32_t> suppress_first_tokens = {};         // never the first generated token
  uint64_t seed = 0;
  bool logprobs = false;     // report the chosen token's logprob
  int32_t top_logprobs = 0;  // and this many alternatives with it (0..20; needs logprobs)
};

inline constexpr int32_t kMaxTopLogprobs = 20;

// The first out-of-range field, named as the API names it, with the accepted range.
Status ValidateSamplingParams(const SamplingParams& params, int64_t vocab_size);

struct TokenLogprob {
  int32_t id;
  float logprob;
};

struct SampledToken {
  int32_t id = 0;
  float logprob = 0.0f;                // of id, under the raw logits
  std::vector<TokenLogprob> top = {};  // top_logprobs entries, most likely first
};

// The log-softmax of raw logits for one id, with the top_n most likely ids (ties: lower id first);
// what Sample reports as logprobs, usable on rows that are not sampled (prompt logprobs). scratch
// (optional) is reused for the candidate ids, so a caller in a loop does not allocate.
SampledToken TokenLogprobs(std::span<const float> logits, int32_t id, int32_t top_n,
                           std::vector<int32_t>* scratch = nullptr);

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and its output is fixed by definition.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, 1) with 24 random bits (exact in float).
  float NextFloat();

 private:
  uint64_t state_;
};

class Sampler {
 public:
  static Result<Sampler> Create(const SamplingParams& params, int64_t vocab_size);

  // Tokens that count as seen for repetition_penalty (the prompt).
  void AddContext(std::span<const int32_t> ids);
  // The chosen token: seen, and generated once more (presence / frequency penalties).
  void Accept(int32_t id);

  // logits: vocab_size values. Non-finite logits never win (treated as -inf).
  SampledToken Sample(std::span<const float> logits);
  // Steps 1-3 only (bias and penalties), as Sample applies them; valid until the next call.
  std::span<const float> ProcessedLogits(std::span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  Sampler(const SamplingParams& params, int64_t vocab_size);
  void ApplyBiasAndPenalties(std::vector<float>& logits) const;
  // Steps 5-7 on biased_ (steps 1-3 done), through scaled_.
  int32_t DrawFromDistribution();
  template <typename Weight>
  int64_t TopPPrefix(int64_t universe, bool universe_sorted, const Weight& weight);
  void FillLogprobs(std::span<const float> raw, SampledToken& token);

  SamplingParams params_;
  int64_t vocab_size_;
  SplitMix64 rng_;
  std::vector<uint8_t> seen_;             // (vocab,) 1 if in the context
  std::vector<int32_t> generated_count_;  // (vocab,) times generated
  std::vector<int32_t> generated_ids_;    // ids with a nonzero count, for the penalty loop
  std::vector<int32_t> seen_ids_;         // ids with seen_ set, for the repetition loop
  std::vector<float> biased_;             // (vocab,) logits after steps 1-3, reused
  std::vector<float> scaled_;             // (vocab,) biased_ / temperature, reused
  std::vector<int32_t> order_;            // candidate ids, reused
};

}  // namespace medassist::runtime
