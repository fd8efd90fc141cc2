// Where each sampling value of a request comes from, in this order of precedence:
//   1. the request's own value;
//   2. the route's documented default (e.g. /v1/generate: max_new_tokens 128, temperature 0.7,
//      top_p 0.9, as the original API documents);
//   3. the model's generation_config.json (Qwen2.5: temperature 0.7, top_p 0.8, top_k 20,
//      repetition_penalty 1.05; do_sample false means temperature 0);
//   4. the built-in defaults below.
// The local engine and the remote backends resolve requests through this one function, and
// docs/configuration.md prints the same table (kSamplingDefaultsTable).
#pragma once

#include <cstdint>
#include <optional>

#include "formats/hf_config.h"
#include "runtime/sampler.h"

namespace medassist::runtime {

// The fields a request or a route may set; unset fields fall through to the next level.
struct SamplingOverrides {
  std::optional<float> temperature = {};
  std::optional<float> top_p = {};
  std::optional<float> min_p = {};
  std::optional<float> repetition_penalty = {};
  std::optional<float> presence_penalty = {};
  std::optional<float> frequency_penalty = {};
  std::optional<int32_t> top_k = {};
  std::optional<int32_t> max_new_tokens = {};
  std::optional<uint64_t> seed = {};
};

// Built-in defaults (level 4).
inline constexpr float kDefaultTemperature = 1.0f;
inline constexpr float kDefaultTopP = 1.0f;
inline constexpr int32_t kDefaultMaxNewTokens = 1024;

struct ResolvedGeneration {
  SamplingParams sampling;
  int32_t max_new_tokens = kDefaultMaxNewTokens;
};

// new_seed supplies the seed when no level sets one (OpenAI: without a seed, answers vary); it is
// called at most once.
template <typename NewSeed>
ResolvedGeneration ResolveGeneration(const SamplingOverrides& request,
                                     const SamplingOverrides& route,
                                     const formats::GenerationConfig& model, NewSeed new_seed);

// The precedence table above as markdown, for docs/configuration.md.
extern const char* const kSamplingDefaultsTable;

// ---- implementation ----

namespace sampling_defaults_internal {
template <typename T>
T Pick(const std::optional<T>& request, const std::optional<T>& route,
       const std::optional<T>& model, T builtin) {
  if (request) return *request;
  if (route) return *route;
  if (model) return *model;
  return builtin;
}
}  // namespace sampling_defaults_internal

template <typename NewSeed>
ResolvedGeneration ResolveGeneration(const SamplingOverrides& request,
                                     const SamplingOverrides& route,
                                     const formats::GenerationConfig& model, NewSeed new_seed) {
  using sampling_defaults_internal::Pick;
  const std::nullopt_t none = std::nullopt;
  // do_sample: false in the model's file means greedy unless a request or route asks otherwise.
  const std::optional<float> model_temperature = model.do_sample.has_value() && !*model.do_sample
                                                     ? std::optional<float>(0.0f)
                                                     : model.temperature;
  ResolvedGeneration r;
  SamplingParams& s = r.sampling;
  s.temperature =
      Pick(request.temperature, route.temperature, model_temperature, kDefaultTemperature);
  s.top_p = Pick(request.top_p, route.top_p, model.top_p, kDefaultTopP);
  s.top_k = Pick(request.top_k, route.top_k, model.top_k, int32_t{0});
  s.min_p = Pick(request.min_p, route.min_p, std::optional<float>(none), 0.0f);
  s.repetition_penalty =
      Pick(request.repetition_penalty, route.repetition_penalty, model.repetition_penalty, 1.0f);
  s.presence_penalty =
      Pick(request.presence_penalty, route.presence_penalty, std::optional<float>(none), 0.0f);
  s.frequency_penalty =
      Pick(request.frequency_penalty, route.frequency_penalty, std::optional<float>(none), 0.0f);
  s.seed = request.seed ? *request.seed : route.seed ? *route.seed : new_seed();
  r.max_new_tokens = Pick(request.max_new_tokens, route.max_new_tokens, model.max_new_tokens,
                          kDefaultMaxNewTokens);
  return r;
}

}  // namespace medassist::runtime
