// The routes' request bodies -> native structs, each field validated as the API documents it (an
// offending field is named in the error's `param`). Nothing below the server sees JSON.
//
//   POST /v1/chat/completions  ParseChatRequest
//   POST /v1/completions       ParseCompletionRequest
//   POST /v1/generate          ParseGenerateRequest (the original contract + optional extras)
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "server/api_error.h"
#include "server/backend.h"

namespace medassist::server {

// What the parsers check ranges against.
struct RequestLimits {
  int64_t vocab_size = 0;  // logit_bias ids must be below it (0: any non-negative int32)
  int32_t context = 0;     // max_tokens may not exceed it (0: no limit)
  int32_t max_n = 4;       // choices per request
  int32_t max_stop = 4;    // stop strings (OpenAI's limit)
};

enum class ReasoningMode { kAuto, kOn, kOff };

// The fields the generating routes share.
struct GenerationFields {
  BackendRequest backend = {};
  int32_t n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct ChatRequest {
  std::string model = {};  // as sent ("" when absent)
  GenerationFields gen = {};
  ReasoningMode reasoning = ReasoningMode::kAuto;
};

struct CompletionRequest {
  std::string model = {};
  GenerationFields gen = {};
  bool echo = false;
  int32_t logprobs = -1;  // legacy: -1 off, else top-N alternatives (0..5)
};

struct GenerateRequest {
  GenerationFields gen = {};
};

// The routes' documented defaults (level 2 of runtime/sampling_defaults.h).
runtime::SamplingOverrides GenerateRouteDefaults();    // max_new_tokens 128, temp 0.7, top_p 0.9
runtime::SamplingOverrides CompletionRouteDefaults();  // max_tokens 16 (OpenAI's legacy default)

std::optional<ApiError> ParseChatRequest(const nlohmann::json& body, const RequestLimits& limits,
                                         ChatRequest* out);
std::optional<ApiError> ParseCompletionRequest(const nlohmann::json& body,
                                               const RequestLimits& limits, CompletionRequest* out);
std::optional<ApiError> ParseGenerateRequest(const nlohmann::json& body,
                                             const RequestLimits& limits, GenerateRequest* out);

}  // namespace medassist::server
