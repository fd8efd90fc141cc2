#include "eval/loglikelihood.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "eval/backend_call.h"

namespace medassist::eval {
namespace {

constexpr const char* kNoEcho =
    "this endpoint does not return prompt logprobs (echo); use --protocol generate";

}  // namespace

Result<ContinuationRequest> BuildContinuationRequest(const tokenizer::Tokenizer* tok,
                                                     const std::string& context,
                                                     const std::string& continuation) {
  ContinuationRequest out;
  server::BackendRequest& r = out.request;
  r.prompt_logprobs = 0;
  r.request.max_new_tokens = 1;  // the engine generates at least one token; it is ignored
  r.request.temperature = 0.0f;
  r.request.seed = 0;
  if (tok == nullptr) {
    r.prompt = context + continuation;
    return out;
  }
  // lm-eval _encode_pair: trailing spaces of the context move to the continuation.
  const size_t kept = context.find_last_not_of(' ') + 1;
  const std::string ctx = context.substr(0, kept);
  const std::string cont = context.substr(kept) + continuation;
  const tokenizer::EncodeOptions options{.add_bos = tok->add_bos()};
  std::vector<int32_t> ids = tok->Encode(ctx, options);
  const std::vector<int32_t> whole = tok->Encode(ctx + cont, options);
  if (whole.size() <= ids.size()) {
    return InvalidArgument(
        fmt::format("the continuation '{}' encodes to no token of its own", cont));
  }
  out.n_continuation_tokens = static_cast<int32_t>(whole.size() - ids.size());
  ids.insert(ids.end(), whole.begin() + static_cast<std::ptrdiff_t>(ids.size()), whole.end());
  r.prompt_ids = std::move(ids);
  return out;
}

Result<double> ContinuationLogprob(std::span<const server::PromptToken> tokens,
                                   int32_t n_continuation_tokens, std::string_view continuation) {
  if (tokens.empty()) return Unimplemented(kNoEcho);
  size_t n = 0;
  if (n_continuation_tokens >= 0) {
    n = static_cast<size_t>(n_continuation_tokens);
  } else {
    size_t bytes = 0;
    while (n < tokens.size() && bytes < continuation.size())
      bytes += tokens[tokens.size() - ++n].bytes.size();
    if (bytes < continuation.size()) {
      return DataLoss(
          fmt::format("the prompt tokens returned hold {} bytes, fewer than the "
                      "continuation's {}",
                      bytes, continuation.size()));
    }
  }
  if (n == 0 || n > tokens.size()) {
    return DataLoss(fmt::format("{} prompt tokens returned; the continuation needs its last {}",
                                tokens.size(), n));
  }
  double sum = 0.0;
  for (size_t i = tokens.size() - n; i < tokens.size(); ++i) {
    if (std::isnan(tokens[i].logprob)) {
      return DataLoss("the continuation reaches the first prompt token, which has no logprob");
    }
    sum += tokens[i].logprob;
  }
  return sum;
}

ChoiceScores PickChoices(std::vector<double> logprobs, std::span<const int32_t> choice_lengths) {
  ChoiceScores out{.logprobs = std::move(logprobs)};
  double best = 0.0, best_norm = 0.0;
  for (size_t i = 0; i < out.logprobs.size(); ++i) {
    const double lp = out.logprobs[i];
    const double norm = lp / std::max(1, i < choice_lengths.size() ? choice_lengths[i] : 1);
    if (out.pred < 0 || lp > best) {
      best = lp;
      out.pred = static_cast<int32_t>(i);
    }
    if (out.pred_norm < 0 || norm > best_norm) {
      best_norm = norm;
      out.pred_norm = static_cast<int32_t>(i);
    }
  }
  return out;
}

Result<ChoiceScores> ScoreChoices(server::Backend& backend, const LoglikelihoodPrompt& prompt,
                                  const std::atomic<bool>* cancel) {
  std::vector<ContinuationRequest> requests;
  std::vector<std::unique_ptr<server::BackendStream>> streams;
  for (const std::string& cont : prompt.continuations) {
    ASSIGN_OR_RETURN(ContinuationRequest r,
                     BuildContinuationRequest(backend.tokenizer(), prompt.context, cont));
    ASSIGN_OR_RETURN(std::unique_ptr<server::BackendStream> s,
                     StartRequest(backend, r.request, cancel));
    requests.push_back(std::move(r));
    streams.push_back(std::move(s));
  }
  std::vector<double> logprobs;
  for (size_t i = 0; i < streams.size(); ++i) {
    ASSIGN_OR_RETURN(Completion c, ReadToEnd(*streams[i], cancel));
    ASSIGN_OR_RETURN(double lp,
                     ContinuationLogprob(c.prompt_tokens, requests[i].n_continuation_tokens,
                                         prompt.continuations[i]));
    logprobs.push_back(lp);
  }
  return PickChoices(std::move(logprobs), prompt.choice_lengths);
}

}  // namespace medassist::eval
