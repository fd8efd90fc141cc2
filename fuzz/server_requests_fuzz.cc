// libFuzzer target for the server's request parsing: the input is a request body, parsed as JSON
// and then as each generating route's request under a few limits. Any body is either refused
// with an ApiError (whose envelope must render as JSON with its four keys) or gives a request
// whose documented invariants hold; the sanitizers catch anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/requests.h"

namespace {

using medassist::server::ApiError;
using medassist::server::GenerationFields;
using medassist::server::RequestLimits;

void Require(bool ok) {
  if (!ok) std::abort();
}

// A refusal renders as {"error": {"message", "type", "param", "code"}} and names a 4xx status.
void CheckError(const ApiError& e) {
  Require(e.http_status >= 400 && e.http_status < 500);
  Require(!e.message.empty());
  nlohmann::json body = nlohmann::json::parse(medassist::server::ErrorJson(e), nullptr, false);
  Require(body.is_object() && body.size() == 1 && body.contains("error"));
  const nlohmann::json& inner = body["error"];
  Require(inner.is_object() && inner.size() == 4);
  Require(inner.contains("message") && inner["message"].is_string());
  Require(inner.contains("type") && inner["type"].is_string());
  Require(inner.contains("param") && (inner["param"].is_null() || inner["param"].is_string()));
  Require(inner.contains("code") && (inner["code"].is_null() || inner["code"].is_string()));
}

// What every accepted request must satisfy, whatever the route.
void CheckFields(const GenerationFields& g, const RequestLimits& limits) {
  Require(g.n >= 1 && g.n <= limits.max_n);
  Require(!g.include_usage || g.stream);
  const auto& b = g.backend;
  Require(b.stop.size() <= static_cast<size_t>(limits.max_stop));
  for (const std::string& s : b.stop) Require(!s.empty());
  const int64_t vocab =
      limits.vocab_size > 0 ? limits.vocab_size : std::numeric_limits<int32_t>::max();
  for (const auto& [id, bias] : b.logit_bias) {
    Require(id >= 0 && id < vocab);
    Require(bias >= -100.0f && bias <= 100.0f);
  }
  const auto& s = b.request;
  if (s.max_new_tokens) {
    const int32_t max_tokens =
        limits.context > 0 ? limits.context : std::numeric_limits<int32_t>::max();
    Require(*s.max_new_tokens >= 1 && *s.max_new_tokens <= max_tokens);
  }
  if (s.temperature) Require(*s.temperature >= 0.0f && *s.temperature <= 2.0f);
  if (s.top_p) Require(*s.top_p > 0.0f && *s.top_p <= 1.0f);
  if (s.top_k) Require(*s.top_k >= 0);
  if (s.min_p) Require(*s.min_p >= 0.0f && *s.min_p <= 1.0f);
  if (s.repetition_penalty) Require(*s.repetition_penalty > 0.0f && *s.repetition_penalty <= 10.0f);
  if (s.presence_penalty) Require(*s.presence_penalty >= -2.0f && *s.presence_penalty <= 2.0f);
  if (s.frequency_penalty) Require(*s.frequency_penalty >= -2.0f && *s.frequency_penalty <= 2.0f);
  Require(b.top_logprobs >= 0 && b.top_logprobs <= medassist::runtime::kMaxTopLogprobs);
}

void CheckChat(const nlohmann::json& body, const RequestLimits& limits) {
  medassist::server::ChatRequest r;
  if (auto e = medassist::server::ParseChatRequest(body, limits, &r)) return CheckError(*e);
  CheckFields(r.gen, limits);
  Require(r.gen.backend.is_chat && !r.gen.backend.messages.empty());
  for (const auto& m : r.gen.backend.messages) {
    Require(m.role == "system" || m.role == "user" || m.role == "assistant");
  }
  Require(r.gen.backend.top_logprobs == 0 || r.gen.backend.logprobs);
}

void CheckCompletion(const nlohmann::json& body, const RequestLimits& limits) {
  medassist::server::CompletionRequest r;
  if (auto e = medassist::server::ParseCompletionRequest(body, limits, &r)) return CheckError(*e);
  CheckFields(r.gen, limits);
  Require(!r.gen.backend.is_chat);
  Require(r.logprobs >= -1 && r.logprobs <= 5);
  Require(r.gen.backend.logprobs == (r.logprobs >= 0));
  // echo with logprobs: the prompt's logprobs too, answered without streaming.
  if (r.echo && r.logprobs >= 0) {
    Require(!r.gen.stream && r.gen.backend.prompt_logprobs == r.logprobs);
  } else {
    Require(r.gen.backend.prompt_logprobs == -1);
  }
  for (int32_t id : r.gen.backend.prompt_ids) Require(id >= 0);
}

void CheckGenerate(const nlohmann::json& body, const RequestLimits& limits) {
  medassist::server::GenerateRequest r;
  if (auto e = medassist::server::ParseGenerateRequest(body, limits, &r)) return CheckError(*e);
  CheckFields(r.gen, limits);
  Require(!r.gen.backend.is_chat && !r.gen.backend.logprobs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json body;
  if (auto e = medassist::server::ParseJsonObject(text, &body)) {
    CheckError(*e);
    return 0;
  }
  // stories260K's vocabulary and a small context; no limits; a large vocabulary and n.
  const RequestLimits kLimits[] = {
      {.vocab_size = 512, .context = 256, .max_n = 4, .max_stop = 4},
      {.vocab_size = 0, .context = 0, .max_n = 4, .max_stop = 4},
      {.vocab_size = 151936, .context = 0, .max_n = 16, .max_stop = 1},
  };
  for (const RequestLimits& limits : kLimits) {
    CheckChat(body, limits);
    CheckCompletion(body, limits);
    CheckGenerate(body, limits);
  }
  return 0;
}
