// What the routes call to generate text (DESIGN §1): the local engine, or (the remote-backend
// issue) an upstream TGI / OpenAI-compatible server. Requests arrive here already parsed and
// validated, as native structs; no JSON crosses this interface.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<BackendStream> s, backend.Start(request));
//   BackendEvent e;
//   while (s->Next(&e, 1s) != WaitResult::kEnded) { ... e.text ... if (e.finished) break; }
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/engine.h"
#include "runtime/sampling_defaults.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace medassist::server {

struct BackendRequest {
  // A conversation rendered with the model's chat template, or raw prompt text.
  bool is_chat = false;
  std::vector<tokenizer::ChatMessage> messages = {};
  std::string prompt = {};
  std::vector<int32_t> prompt_ids = {};  // raw prompt as token ids (used when not empty)
  // Text the assistant's turn starts with (after the template's generation prompt), e.g. the
  // opening reasoning marker for `reasoning: "on"`; it is part of the prompt, not of the output.
  std::string assistant_prefill = {};
  // The answer may not open with this text (`reasoning: "off"`: the opening reasoning marker).
  std::string forbid_opening = {};
  runtime::SamplingOverrides request = {};  // the request's own values
  runtime::SamplingOverrides route = {};    // the route's documented defaults
  std::vector<std::pair<int32_t, float>> logit_bias = {};
  bool logprobs = false;
  int32_t top_logprobs = 0;
  std::vector<std::string> stop = {};
  // >= 0: report each prompt token's logprob with this many alternatives (legacy echo).
  int32_t prompt_logprobs = -1;
  // Seed offset for the i-th of n choices of one request (same seed, different choices).
  uint64_t seed_offset = 0;
  // Asked while Start waits before the answer begins (the remote backend's retries and cold
  // starts): true when the client is gone or the server stops, and Start gives up.
  std::function<bool()> abandoned = {};
};

// One prompt token with its logprob given the tokens before it (NaN for the first: none).
struct PromptToken {
  std::string bytes = {};
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top = {};
};

struct BackendEvent {
  std::string text = {};  // safe to show: whole UTF-8 characters, stop strings withheld
  bool has_token = false;
  int32_t token_id = 0;
  std::string token_bytes = {};  // the token's own bytes (logprobs' `token` / `bytes`)
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top_logprobs = {};  // (token bytes, logprob)
  std::vector<PromptToken> prompt_tokens = {};  // prompt logprobs, in order, as they are computed
  bool finished = false;
  runtime::FinishReason reason = runtime::FinishReason::kLength;
  std::string error = {};  // reason kError: what went wrong
  int error_status = 500;  // reason kError: the HTTP status it deserves (502: a remote failed)
};

using WaitResult = runtime::StreamWait;

class BackendStream {
 public:
  virtual ~BackendStream() = default;
  // Waits up to timeout for the next event. kEnded after the finishing event was read.
  virtual WaitResult Next(BackendEvent* event, std::chrono::milliseconds timeout) = 0;
  // Ends the generation (client gone, shutdown); a finishing event may still follow.
  virtual void Cancel() = 0;
  virtual int32_t n_prompt_tokens() const = 0;
  virtual int32_t n_generated_tokens() const = 0;
};

// One upstream server of the remote backend, as /health shows it.
struct UpstreamHealth {
  std::string url = {};      // credentials and query removed
  std::string state = {};    // "ok", "loading" (cold start), "down", "unknown" (not probed yet)
  std::string breaker = {};  // "closed", "open", "half-open"
  std::string last_error = {};
  int64_t requests = 0;
  int64_t failures = 0;
};

struct BackendHealth {
  bool ready = false;
  std::string state = {};                      // "ok", "degraded", "loading", "unavailable"
  std::string detail = {};                     // why not ready
  std::vector<UpstreamHealth> upstreams = {};  // remote backends
};

class Backend {
 public:
  virtual ~Backend() = default;
  // InvalidArgument (the request cannot run: prompt longer than the context, ...) or
  // ResourceExhausted (no capacity now: try again later).
  virtual Result<std::unique_ptr<BackendStream>> Start(const BackendRequest& request) = 0;
  virtual BackendHealth Health() const = 0;
  virtual const char* kind() const = 0;  // "local" or "remote"
  // The tokenizer of the served model; nullptr when the backend has none (remote).
  virtual const tokenizer::Tokenizer* tokenizer() const = 0;
  // Engine metrics; nullopt for a backend without a local engine.
  virtual std::optional<runtime::EngineMetrics> engine_metrics() const = 0;
  virtual int32_t context_length() const = 0;
  // Prometheus text of the backend's own series (the remote backend's upstreams), or "".
  virtual std::string MetricsText() const { return {}; }
};

}  // namespace medassist::server
