#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/check.h"

namespace medassist::runtime {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Status OutOfRange(const std::string& field, const std::string& range, double value) {
  return InvalidArgument(field + " must be " + range + " (got " + std::to_string(value) + ")");
}

// Higher logit first; equal logits: lower id first. A strict weak order over ids.
struct ByLogitThenId {
  const float* logits;
  bool operator()(int32_t a, int32_t b) const {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  }
};

}  // namespace

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float SplitMix64::NextFloat() {
  return static_cast<float>(Next() >> 40) * 0x1.0p-24f;  // 24 bits: k / 2^24, exact
}

Status ValidateSamplingParams(const SamplingParams& p, int64_t vocab_size) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return OutOfRange("temperature", "a finite number >= 0", p.temperature);
  }
  if (p.top_k < 0) return OutOfRange("top_k", ">= 0 (0 turns it off)", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return OutOfRange("top_p", "in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return OutOfRange("min_p", "in [0, 1]", p.min_p);
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return OutOfRange("repetition_penalty", "a finite number > 0", p.repetition_penalty);
  }
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    return OutOfRange("presence_penalty", "in [-2, 2]", p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return OutOfRange("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
  }
  if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs) {
    return OutOfRange("top_logprobs", "in [0, 20]", p.top_logprobs);
  }
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgument("logit_bias names token " + std::to_string(id) +
                             ", outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
    if (!(bias >= -100.0f && bias <= 100.0f)) {
      return OutOfRange("logit_bias[" + std::to_string(id) + "]", "in [-100, 100]", bias);
    }
  }
  for (int32_t id : p.suppress_first_tokens) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgument("suppress_first_tokens names token " + std::to_string(id) +
                             ", outside the vocabulary");
    }
  }
  return Status::Ok();
}

Result<Sampler> Sampler::Create(const SamplingParams& params, int64_t vocab_size) {
  if (vocab_size <= 0) return InvalidArgument("sampler: the vocabulary is empty");
  RETURN_IF_ERROR(ValidateSamplingParams(params, vocab_size));
  return Sampler(params, vocab_size);
}

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : params_(params),
      vocab_size_(vocab_size),
      rng_(params.seed),
      seen_(static_cast<size_t>(vocab_size), 0),
      generated_count_(static_cast<size_t>(vocab_size), 0),
      biased_(static_cast<size_t>(vocab_size)),
      scaled_(static_cast<size_t>(vocab_size)) {
  order_.reserve(static_cast<size_t>(vocab_size));
}

void Sampler::AddContext(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size_ || seen_[static_cast<size_t>(id)] != 0) continue;
    seen_[static_cast<size_t>(id)] = 1;
    seen_ids_.push_back(id);
  }
}

void Sampler::Accept(int32_t id) {
  if (id < 0 || id >= vocab_size_) return;
  AddContext(std::span<const int32_t>(&id, 1));
  if (generated_count_[static_cast<size_t>(id)]++ == 0) generated_ids_.push_back(id);
}

void Sampler::ApplyBiasAndPenalties(std::vector<float>& logits) const {
  for (const auto& [id, bias] : params_.logit_bias) logits[static_cast<size_t>(id)] += bias;
  if (generated_ids_.empty()) {
    for (int32_t id : params_.suppress_first_tokens) {
      logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
    }
  }
  const float rep = params_.repetition_penalty;
  if (rep != 1.0f) {
    for (int32_t id : seen_ids_) {
      float& l = logits[static_cast<size_t>(id)];
      l = l > 0.0f ? l / rep : l * rep;
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    for (int32_t id : generated_ids_) {
      const auto count = static_cast<float>(generated_count_[static_cast<size_t>(id)]);
      logits[static_cast<size_t>(id)] -=
          params_.presence_penalty + params_.frequency_penalty * count;
    }
  }
}

// Steps 5-7 of sampler.h on biased_ (steps 1-3 done). Only what top_k / top_p need is sorted:
// with neither, the candidates stay in id order and the draw walks them so.
int32_t Sampler::DrawFromDistribution() {
  order_.clear();
  float top = kNegInf;
  for (int64_t i = 0; i < vocab_size_; ++i) {
    const float l = biased_[static_cast<size_t>(i)];
    scaled_[static_cast<size_t>(i)] = l == kNegInf ? kNegInf : l / params_.temperature;
    if (l == kNegInf) continue;
    order_.push_back(static_cast<int32_t>(i));
    top = std::max(top, scaled_[static_cast<size_t>(i)]);
  }
  if (order_.empty()) return 0;
  // exp(logit - top): the probability up to the softmax's normaliser, 1 for the most likely.
  const auto weight = [&](int32_t id) {
    return std::exp(double{scaled_[static_cast<size_t>(id)]} - top);
  };
  const ByLogitThenId by_logit{scaled_.data()};
  auto begin = order_.begin();
  int64_t keep = static_cast<int64_t>(order_.size());
  if (params_.top_k > 0 && params_.top_k < keep) {
    keep = params_.top_k;
    std::partial_sort(begin, begin + keep, order_.end(), by_logit);
  }
  if (params_.top_p < 1.0f) keep = TopPPrefix(keep, params_.top_k > 0, weight);
  if (params_.min_p > 0.0f) {  // a prefix when sorted, a filter in id order otherwise
    const auto below = [&](int32_t id) { return weight(id) < params_.min_p; };
    keep = std::remove_if(begin, begin + keep, below) - begin;
    CHECK(keep > 0);  // the most likely token has weight 1 >= min_p and is always a candidate
  }
  double kept_mass = 0.0;
  for (int64_t i = 0; i < keep; ++i) kept_mass += weight(order_[static_cast<size_t>(i)]);
  const double u = double{rng_.NextFloat()} * kept_mass;
  double cumulative = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    cumulative += weight(order_[static_cast<size_t>(i)]);
    if (u < cumulative) return order_[static_cast<size_t>(i)];
  }
  return order_[static_cast<size_t>(keep - 1)];  // u rounded up to the whole mass
}

// The shortest prefix of the candidates in decreasing probability whose mass reaches top_p of
// the universe's (the first `universe` candidates, already sorted when top_k cut them; else all,
// sorted here progressively, 64 then 4x more, as far as needed).
template <typename Weight>
int64_t Sampler::TopPPrefix(int64_t universe, bool universe_sorted, const Weight& weight) {
  const ByLogitThenId by_logit{scaled_.data()};
  double mass = 0.0;
  for (int64_t i = 0; i < universe; ++i) mass += weight(order_[static_cast<size_t>(i)]);
  int64_t sorted = universe_sorted ? universe : std::min<int64_t>(universe, 64);
  if (!universe_sorted) {
    std::partial_sort(order_.begin(), order_.begin() + sorted, order_.begin() + universe, by_logit);
  }
  const double target = double{params_.top_p} * mass;
  double cumulative = 0.0;
  int64_t i = 0;
  while (true) {
    for (; i < sorted; ++i) {
      cumulative += weight(order_[static_cast<size_t>(i)]);
      if (cumulative >= target) return i + 1;
    }
    if (sorted == universe) return universe;  // rounding: the whole universe
    const int64_t next = std::min(universe, sorted * 4);
    std::partial_sort(order_.begin() + sorted, order_.begin() + next, order_.begin() + universe,
                      by_logit);
    sorted = next;
  }
}

void Sampler::FillLogprobs(std::span<const float> raw, SampledToken& token) {
  SampledToken t = TokenLogprobs(raw, token.id, params_.top_logprobs, &order_);
  token.logprob = t.logprob;
  token.top = std::move(t.top);
}

SampledToken TokenLogprobs(std::span<const float> raw, int32_t id, int32_t top_n,
                           std::vector<int32_t>* scratch) {
  SampledToken token{.id = id};
  float top = kNegInf;
  for (float l : raw) {
    if (std::isfinite(l)) top = std::max(top, l);
  }
  if (top == kNegInf) return token;
  double sum = 0.0;
  for (float l : raw) {
    if (std::isfinite(l)) sum += std::exp(double{l} - top);
  }
  const double log_z = double{top} + std::log(sum);
  const auto logprob = [&](int32_t i) {
    const float l = raw[static_cast<size_t>(i)];
    return std::isfinite(l) ? static_cast<float>(double{l} - log_z) : kNegInf;
  };
  token.logprob = logprob(id);
  if (top_n <= 0) return token;
  std::vector<int32_t> local;
  std::vector<int32_t>& order = scratch != nullptr ? *scratch : local;
  order.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (std::isfinite(raw[i])) order.push_back(static_cast<int32_t>(i));
  }
  const int64_t n = std::min<int64_t>(top_n, static_cast<int64_t>(order.size()));
  std::partial_sort(order.begin(), order.begin() + n, order.end(), ByLogitThenId{raw.data()});
  for (int64_t i = 0; i < n; ++i) {
    const int32_t best = order[static_cast<size_t>(i)];
    token.top.push_back({best, logprob(best)});
  }
  return token;
}

std::span<const float> Sampler::ProcessedLogits(std::span<const float> logits) {
  CHECK(static_cast<int64_t>(logits.size()) == vocab_size_);
  for (int64_t i = 0; i < vocab_size_; ++i) {
    const float l = logits[static_cast<size_t>(i)];
    biased_[static_cast<size_t>(i)] = std::isfinite(l) ? l : kNegInf;
  }
  ApplyBiasAndPenalties(biased_);
  return biased_;
}

SampledToken Sampler::Sample(std::span<const float> logits) {
  const std::span<const float> biased = ProcessedLogits(logits);
  SampledToken token;
  if (params_.temperature == 0.0f) {
    int32_t best = 0;
    for (int64_t i = 1; i < vocab_size_; ++i) {
      if (biased[static_cast<size_t>(i)] > biased[static_cast<size_t>(best)]) {
        best = static_cast<int32_t>(i);
      }
    }
    token.id = best;
  } else {
    token.id = DrawFromDistribution();
  }
  if (params_.logprobs) FillLogprobs(logits, token);
  return token;
}

}  // namespace medassist::runtime
