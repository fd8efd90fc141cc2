// Protocol 1: the log-likelihood of each option as a continuation of the prompt, as
// lm-evaluation-harness scores `multiple_choice` tasks (acc: the most likely option; acc_norm: the
// most likely per character of the option).
//
// Local backend (it has a tokenizer): the prompt is sent as token ids, context tokens =
// encode(context) and continuation tokens = encode(context + continuation)[len(context tokens):]
// (lm-eval's _encode_pair), so where the continuation starts is exact. Remote backend: the text
// is sent to /v1/completions with echo, and the continuation is the shortest run of prompt tokens
// at the end whose bytes cover it (a BOS or prefix the server adds cannot shift it).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/prompts.h"
#include "server/backend.h"
#include "tokenizer/tokenizer.h"

namespace medassist::eval {

struct ContinuationRequest {
  server::BackendRequest request = {};
  int32_t n_continuation_tokens = -1;  // known with a tokenizer; -1: found by bytes
};

// The request that scores continuation after context; tok is the backend's (nullptr: remote).
Result<ContinuationRequest> BuildContinuationRequest(const tokenizer::Tokenizer* tok,
                                                     const std::string& context,
                                                     const std::string& continuation);

// Sum of the continuation's token logprobs within a request's prompt tokens: the last
// n_continuation_tokens, or when that is -1 the last tokens whose bytes add up to at least
// continuation's length. Unimplemented when tokens is empty (the endpoint has no echo).
Result<double> ContinuationLogprob(std::span<const server::PromptToken> tokens,
                                   int32_t n_continuation_tokens, std::string_view continuation);

struct ChoiceScores {
  std::vector<double> logprobs = {};  // per choice
  int32_t pred = -1;                  // argmax of logprobs (the first on ties, as numpy)
  int32_t pred_norm = -1;             // argmax of logprobs / choice_lengths
};

// Picks pred and pred_norm for the given per-choice logprobs.
ChoiceScores PickChoices(std::vector<double> logprobs, std::span<const int32_t> choice_lengths);

// Scores every option of prompt on backend, all its requests in flight at once.
Result<ChoiceScores> ScoreChoices(server::Backend& backend, const LoglikelihoodPrompt& prompt,
                                  const std::atomic<bool>* cancel);

}  // namespace medassist::eval
