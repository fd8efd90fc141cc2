// Stand-in upstream servers for the remote-backend tests: a fake Hugging Face Inference Endpoint
// running TGI's native API, or a fake OpenAI-compatible server (vLLM, TGI's /v1 routes,
// llama.cpp server), served in-process on 127.0.0.1. They answer with the JSON shapes of the
// upstreams' published API documents (cited in standin_upstream.cc); a script decides the answer
// and the faults (cold start, 5xx, 429, bad JSON, slowness, a dropped stream).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace medassist::testing {

// What the stand-in does; changeable while it runs (StandinUpstream::Configure).
struct UpstreamScript {
  // "" = no auth; else `Authorization: Bearer <token>` required (401 otherwise, in the
  // protocol's error shape).
  std::string required_token;
  // Answer the next N generation requests with the Inference Endpoints cold-start 503
  // (+ estimated_time).
  int cold_start_503s = 0;
  double estimated_time = 0.2;  // seconds, in that 503 body
  int fail_500s = 0;            // next N generation requests: 500 with the protocol's error body
  // Next N: 429 (TGI: {"error":"Model is overloaded","error_type":"overloaded"}).
  int overloaded_429s = 0;
  // 200 with Content-Type application/json and a body that is not JSON (non-streaming) / a
  // `data:` line that is not JSON (streaming).
  bool malformed_json = false;
  // Slow upstream: wait before sending status+headers.
  std::chrono::milliseconds delay_before_response{0};
  std::chrono::milliseconds delay_between_tokens{0};  // streaming pace
  // Streaming: after N token events close the connection abruptly (no final event, no [DONE]).
  int drop_after_tokens = -1;
  // The answer, one token per stream event.
  std::vector<std::string> tokens = {"Hello", ",", " world", "!"};
  // TGI: length|eos_token|stop_sequence ; mapped to OpenAI's length|stop.
  std::string finish_reason = "length";
  int prompt_tokens = 7;  // reported in usage / details
};

// One stand-in server. The token check covers every route except GET /health, which load
// balancers probe without credentials (TGI and vLLM leave it open too). The fault counters are
// consumed one per generation request, in this order: cold start, 429, 500.
class StandinUpstream {
 public:
  enum class Protocol { kTgi, kOpenAi };
  // Binds 127.0.0.1 on a free port and serves on a thread.
  explicit StandinUpstream(Protocol protocol);
  ~StandinUpstream();  // stops and joins
  StandinUpstream(const StandinUpstream&) = delete;
  StandinUpstream& operator=(const StandinUpstream&) = delete;

  int port() const;
  std::string url() const;                                           // "http://127.0.0.1:PORT"
  void Configure(const std::function<void(UpstreamScript&)>& edit);  // thread-safe

  // A request as received; body is the parsed JSON, the raw text as a JSON string when it is
  // not JSON, or null when empty.
  struct Seen {
    std::string method, path, authorization;
    nlohmann::json body;
  };
  std::vector<Seen> requests() const;  // every request received, in order (thread-safe)
  int streams_aborted() const;         // streams whose client went away before the end
  // Idempotent; after it connections are refused (a "dead" upstream).
  void Stop();

  struct Impl;  // defined in the .cc; public so that its route handlers can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace medassist::testing
