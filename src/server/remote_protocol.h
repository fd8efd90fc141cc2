// The wire protocols of the remote backend: a BackendRequest -> an upstream HTTP call, and the
// upstream's answer (streamed SSE payloads or one JSON body) -> pieces of our BackendEvents.
//
//   TGI native  POST /generate_stream (SSE) and POST /generate; chat conversations are rendered
//               with the chat template here, since /generate takes text.
//   OpenAI      POST /v1/chat/completions and /v1/completions (TGI's Messages API, vLLM,
//               llama.cpp's server, ...), streamed with stream_options.include_usage.
//
// Only values the request (or the route's documented defaults) set are sent; the rest are left to
// the upstream, whose defaults are the served model's generation config.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/backend.h"
#include "tokenizer/chat_template.h"

namespace medassist::server {

enum class RemoteProtocolKind { kTgi, kOpenAi };
// "tgi" or "openai"; InvalidArgument otherwise.
Result<RemoteProtocolKind> ParseRemoteProtocol(std::string_view name);

struct UpstreamCall {
  std::string path = {};  // appended to the upstream's base URL
  nlohmann::json body = {};
  bool stream = true;
};

// One piece of an upstream answer, in our terms.
struct UpstreamChunk {
  std::string text = {};
  bool has_token = false;
  std::string token_bytes = {};
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top_logprobs = {};
  std::vector<PromptToken> prompt_tokens = {};
  bool finished = false;
  runtime::FinishReason reason = runtime::FinishReason::kLength;
  int32_t n_prompt_tokens = -1;      // usage, when the upstream reports it
  int32_t n_generated_tokens = -1;   // usage, when the upstream reports it
  std::string error = {};            // an error event inside the stream
  bool error_is_validation = false;  // TGI's error_type "validation": the request was refused
};

class RemoteProtocol {
 public:
  virtual ~RemoteProtocol() = default;
  virtual RemoteProtocolKind kind() const = 0;
  // InvalidArgument when the request asks for something this protocol cannot express.
  virtual Result<UpstreamCall> BuildCall(const BackendRequest& request) const = 0;
  // One SSE `data:` payload. "[DONE]" adds nothing. UpstreamError for a payload that is not what
  // the protocol documents.
  virtual Status ParseStreamData(std::string_view data, std::vector<UpstreamChunk>* out) const = 0;
  // A whole non-streamed answer (UpstreamCall::stream false) to `request`.
  virtual Status ParseComplete(const BackendRequest& request, std::string_view body,
                               std::vector<UpstreamChunk>* out) const = 0;
  // Probed by the health checker: TGI and vLLM answer GET /health.
  virtual const char* health_path() const { return "/health"; }
};

struct TgiProtocolOptions {
  // Renders chat conversations to the text /generate takes (the served model's template).
  tokenizer::ChatTemplate chat_template = tokenizer::ChatTemplate::ChatMl("");
};
std::unique_ptr<RemoteProtocol> MakeTgiProtocol(TgiProtocolOptions options);

struct OpenAiProtocolOptions {
  std::string model = {};  // the `model` sent upstream ("" -> "tgi", which TGI and vLLM accept)
};
std::unique_ptr<RemoteProtocol> MakeOpenAiProtocol(OpenAiProtocolOptions options);

// The message of an upstream error body, whatever its shape: TGI's {"error": "...",
// "error_type": "..."}, OpenAI's {"error": {"message": "..."}}, or text (cut to 300 bytes).
std::string UpstreamErrorMessage(std::string_view body);
// Hugging Face Inference Endpoints' cold-start answer: 503 {"error": "...", "estimated_time": s}.
std::optional<double> EstimatedTimeSeconds(std::string_view body);

}  // namespace medassist::server
