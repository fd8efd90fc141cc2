// The JSON the generating routes answer with, shaped as OpenAI sends it (chat.completion,
// chat.completion.chunk, text_completion) and as the original /v1/generate did ({output_text}).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "server/backend.h"

namespace medassist::server {

// What one choice produced, for the non-streaming answers.
struct ChoiceResult {
  std::string content = {};
  std::string reasoning = {};
  std::vector<BackendEvent> tokens = {};        // the token events (logprobs)
  std::vector<PromptToken> prompt_tokens = {};  // prompt logprobs (echo)
  runtime::FinishReason reason = runtime::FinishReason::kLength;
};

// The fields every answer of one request shares.
struct AnswerHeader {
  std::string id = {};
  int64_t created = 0;
  std::string model = {};
};

nlohmann::json UsageJson(int32_t n_prompt, int32_t n_completion);

// Chat logprobs: {"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}.
nlohmann::json ChatLogprobEntry(const BackendEvent& token);

nlohmann::json ChatCompletionJson(const AnswerHeader& h, const std::vector<ChoiceResult>& choices,
                                  bool logprobs, int32_t n_prompt, int32_t n_completion);
// One chunk: choices [{index, delta, logprobs, finish_reason}] (finish_reason null when "").
nlohmann::json ChatChunkJson(const AnswerHeader& h, int32_t index, nlohmann::json delta,
                             nlohmann::json logprobs, const std::string& finish_reason);

// Legacy completions logprobs {"tokens", "token_logprobs", "top_logprobs", "text_offset"}: the
// prompt's tokens first when echoed with their logprobs (the first one's is null), then the
// generated ones; offsets count from text_offset_base (the echoed prompt's length when the prompt
// tokens are not listed).
nlohmann::json CompletionLogprobs(const std::vector<PromptToken>& prompt_tokens,
                                  const std::vector<BackendEvent>& tokens, size_t text_offset_base);
nlohmann::json CompletionJson(const AnswerHeader& h, const std::vector<ChoiceResult>& choices,
                              const std::string& echo_prefix, bool logprobs, int32_t n_prompt,
                              int32_t n_completion);
nlohmann::json CompletionChunkJson(const AnswerHeader& h, int32_t index, const std::string& text,
                                   nlohmann::json logprobs, const std::string& finish_reason);

}  // namespace medassist::server
