// Stand-in upstreams. The shapes follow the upstreams' published documents:
//
// TGI (text-generation-inference), native API:
//   OpenAPI schema https://huggingface.github.io/text-generation-inference/openapi.json
//   (GenerateRequest, GenerateParameters, GenerateResponse, Details, StreamResponse,
//   StreamDetails, Token, ErrorResponse, Info), docs https://huggingface.co/docs/
//   text-generation-inference, and the router the schema is generated from
//   (github.com/huggingface/text-generation-inference router/src/{lib,server,validation}.rs):
//   - validation errors are 422 {"error": "Input validation error: <rule>", "error_type":
//     "validation"} with validation.rs's messages; 424 generation, 429 overloaded, 500
//     incomplete_generation;
//   - /generate_stream frames events as `data:<json>\n\n` (no space after the colon) and the
//     LAST TOKEN's event carries generated_text and details; there is no extra closing event;
//   - /generate_stream answers 200 before it validates: a range error (top_p = 1.0) arrives as
//     an in-stream `data:{"error":...,"error_type":"validation"}` event, not as a 422.
// Hugging Face Inference Endpoints cold start: the gateway answers 503
//   {"error": "Model <id> is currently loading", "estimated_time": <seconds>} on any route.
// OpenAI: API reference https://platform.openai.com/docs/api-reference/chat/create,
//   .../chat/streaming (chat.completion.chunk), .../completions/create (legacy, echo + logprobs),
//   error codes https://platform.openai.com/docs/guides/error-codes: errors are
//   {"error": {"message", "type", "param", "code"}}; streams are `data: <json>\n\n` chunks closed
//   by `data: [DONE]`; stream_options.include_usage adds a chunk with `choices: []` and the usage
//   before [DONE], and every other chunk then carries "usage": null.
//
// Where the stand-in simplifies: logprobs are made up (-0.1 * (i + 1) for answer token i), body
// parse failures use the protocol's JSON error body (TGI's axum answers them in plain text), and
// an OpenAI stop string that spans two tokens only cuts the token that completes it. The scripted
// 429 and 500 are HTTP statuses on every generation route (what a gateway or vLLM sends), although
// TGI itself reports overload on /generate_stream as an in-stream error event after its 200.

#include "standin_upstream.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace medassist::testing {

using json = nlohmann::json;
using Protocol = StandinUpstream::Protocol;

struct StandinUpstream::Impl {
  explicit Impl(Protocol p) : protocol(p) {}

  // Waits for `d` unless Stop() comes first; false when stopping.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    return !wake.wait_for(lock, d, [this] { return stopping; });
  }

  const Protocol protocol;
  httplib::Server http;
  std::thread thread;
  int port = -1;
  std::atomic<bool> listen_returned{false};
  std::atomic<int> streams_aborted{0};
  std::atomic<int> next_id{0};

  mutable std::mutex mu;
  std::condition_variable wake;  // Stop() wakes the handlers that sleep
  bool stopping = false;         // guarded by mu
  UpstreamScript script;         // guarded by mu
  std::vector<Seen> seen;        // guarded by mu
};

namespace {

using Impl = StandinUpstream::Impl;
constexpr char kModelId[] = "medassist/standin-model";
constexpr int64_t kCreated = 1700000000;
constexpr int kTgiMaxStopSequences = 4;  // TGI's default --max-stop-sequences

// ---- shared: answers, errors, faults, streams ----------------------------------------------

// Made-up, deterministic logprob of answer token i (prompt tokens use prompt_logprob).
double Logprob(size_t i) { return -static_cast<double>(i + 1) / 10.0; }

// The answer one request gets: the script's tokens, cut by the token cap and the stop strings.
struct Answer {
  std::vector<std::string> tokens;
  std::string finish_reason;  // TGI's names: length | eos_token | stop_sequence
  std::string Text() const {
    std::string text;
    for (const std::string& t : tokens) text += t;
    return text;
  }
};

// TGI keeps the stop sequence in the text; OpenAI cuts it (keep_stop false).
Answer PlanAnswer(const UpstreamScript& s, int max_tokens, const std::vector<std::string>& stops,
                  bool keep_stop) {
  Answer a;
  std::string text;
  for (const std::string& token : s.tokens) {
    if (max_tokens >= 0 && static_cast<int>(a.tokens.size()) == max_tokens) {
      a.finish_reason = "length";
      return a;
    }
    const std::string joined = text + token;
    size_t hit = std::string::npos;
    for (const std::string& stop : stops) {
      if (!stop.empty()) hit = std::min(hit, joined.find(stop));
    }
    if (hit != std::string::npos) {
      std::string kept =
          keep_stop ? token : token.substr(0, std::max(hit, text.size()) - text.size());
      if (!kept.empty()) a.tokens.push_back(kept);
      a.finish_reason = "stop_sequence";
      return a;
    }
    a.tokens.push_back(token);
    text = joined;
  }
  a.finish_reason = s.finish_reason;
  return a;
}

std::string OpenAiReason(const std::string& tgi_reason) {
  return tgi_reason == "length" ? "length" : "stop";
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

json TgiError(const std::string& message, const std::string& type) {
  return {{"error", message}, {"error_type", type}};
}

json OpenAiError(const std::string& message, const std::string& type, const json& param,
                 const json& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", param}, {"code", code}}}};
}

enum class Fault { kNone, kUnauthorized, kColdStart, kOverloaded, kServerError };

void SendFault(Protocol p, Fault f, const UpstreamScript& s, httplib::Response& res) {
  const bool tgi = p == Protocol::kTgi;
  switch (f) {
    case Fault::kUnauthorized:
      return SendJson(
          res, 401,
          tgi ? TgiError("Invalid credentials in Authorization header", "authentication")
              : OpenAiError("Incorrect API key provided.", "invalid_request_error", nullptr,
                            "invalid_api_key"));
    case Fault::kColdStart:  // the Inference Endpoints gateway, the same for every protocol
      return SendJson(res, 503,
                      {{"error", std::string("Model ") + kModelId + " is currently loading"},
                       {"estimated_time", s.estimated_time}});
    case Fault::kOverloaded:
      return SendJson(res, 429,
                      tgi ? TgiError("Model is overloaded", "overloaded")
                          : OpenAiError("Rate limit reached for requests", "requests", nullptr,
                                        "rate_limit_exceeded"));
    case Fault::kServerError:
      return SendJson(res, 500,
                      tgi ? TgiError("Incomplete generation", "incomplete_generation")
                          : OpenAiError("The server had an error while processing your request. "
                                        "Sorry about that!",
                                        "server_error", nullptr, nullptr));
    case Fault::kNone:
      return;
  }
}

Fault TakeFault(UpstreamScript& s) {
  for (auto [counter, fault] : {std::pair{&s.cold_start_503s, Fault::kColdStart},
                                std::pair{&s.overloaded_429s, Fault::kOverloaded},
                                std::pair{&s.fail_500s, Fault::kServerError}}) {
    if (*counter > 0) {
      --*counter;
      return fault;
    }
  }
  return Fault::kNone;
}

StandinUpstream::Seen MakeSeen(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) body = req.body.empty() ? json(nullptr) : json(req.body);
  return {req.method, req.path, req.get_header_value("Authorization"), std::move(body)};
}

enum class Route { kHealth, kInfo, kGeneration };

// Records the request and checks the token; a generation request then takes its scripted fault
// and waits delay_before_response. Returns the script to answer with, or nullopt once the
// response is written.
std::optional<UpstreamScript> Admit(Impl& u, const httplib::Request& req, httplib::Response& res,
                                    Route route) {
  Fault fault = Fault::kNone;
  UpstreamScript s;
  {
    std::lock_guard<std::mutex> lock(u.mu);
    u.seen.push_back(MakeSeen(req));
    const std::string& token = u.script.required_token;
    if (route != Route::kHealth && !token.empty() &&
        req.get_header_value("Authorization") != "Bearer " + token) {
      fault = Fault::kUnauthorized;
    } else if (route == Route::kGeneration) {
      fault = TakeFault(u.script);
    }
    s = u.script;
  }
  if (route == Route::kGeneration && fault != Fault::kUnauthorized) {
    u.Sleep(s.delay_before_response);
  }
  if (fault == Fault::kNone) return s;
  SendFault(u.protocol, fault, s, res);
  return std::nullopt;
}

// The start of an answer cut off mid-value: what a proxy that truncates bodies hands over.
std::string MalformedBody(Protocol p) {
  return p == Protocol::kTgi ? R"({"index":1,"token":{"id":1000,"text":"Hel)"
                             : R"({"id":"chatcmpl-standin","choices":[{"delta":{"content":"Hel)";
}

// One SSE event; token events count toward drop_after_tokens and are paced.
struct SseEvent {
  std::string data;  // the framed event, "data:...\n\n"
  bool is_token = false;
};

struct StreamState {
  Impl* upstream = nullptr;
  std::vector<SseEvent> events;
  size_t next = 0;
  int tokens_sent = 0;
  int drop_after_tokens = -1;
  std::chrono::milliseconds pace{0};
  bool dropped = false;  // the script closed it: not counted as an abort
};

// httplib calls this until sink.done(). Returning false makes it close the socket without the
// terminating chunk, which a client sees as a broken transfer.
bool WriteNextEvent(StreamState& s, httplib::DataSink& sink) {
  if (s.next == s.events.size()) {
    sink.done();
    return true;
  }
  const SseEvent& e = s.events[s.next];
  if (e.is_token) {
    if (s.drop_after_tokens >= 0 && s.tokens_sent >= s.drop_after_tokens) {
      s.dropped = true;
      return false;
    }
    // Stopping: send nothing more; httplib sees the shutdown and ends the stream.
    if (s.tokens_sent > 0 && !s.upstream->Sleep(s.pace)) return true;
  }
  sink.write(e.data.data(), e.data.size());  // a failed write ends the loop inside httplib
  ++s.next;
  if (e.is_token && ++s.tokens_sent == s.drop_after_tokens) {
    s.dropped = true;
    return false;
  }
  return true;
}

void SendStream(Impl& u, const UpstreamScript& script, std::vector<SseEvent> events,
                httplib::Response& res) {
  auto state = std::make_shared<StreamState>();
  state->upstream = &u;
  state->events = std::move(events);
  state->drop_after_tokens = script.drop_after_tokens;
  state->pace = script.delay_between_tokens;
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [state](size_t, httplib::DataSink& sink) { return WriteNextEvent(*state, sink); },
      [state](bool success) {
        if (!success && !state->dropped) state->upstream->streams_aborted.fetch_add(1);
      });
}

// Answers malformed_json: a JSON content type over text that does not parse.
void SendMalformed(Impl& u, const UpstreamScript& s, bool stream, httplib::Response& res) {
  const std::string body = MalformedBody(u.protocol);
  if (!stream) {
    res.status = 200;
    res.set_content(body, "application/json");
    return;
  }
  const char* prefix = u.protocol == Protocol::kTgi ? "data:" : "data: ";
  SendStream(u, s, {{prefix + body + "\n\n", false}}, res);
}

// The pseudo-tokens of a prompt: split before each space, so that they concatenate back.
std::vector<std::string> PromptPieces(const std::string& prompt) {
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < prompt.size()) {
    size_t end = prompt.find(' ', start + 1);
    if (end == std::string::npos) end = prompt.size();
    pieces.push_back(prompt.substr(start, end - start));
    start = end;
  }
  return pieces;
}

// ---- TGI ------------------------------------------------------------------------------------

struct TgiRequest {
  std::string inputs;
  int max_new_tokens = -1;
  std::vector<std::string> stop;
  bool details = false, return_full_text = false, decoder_input_details = false;
  json seed = nullptr;
};

// serde's message for a field of the wrong type; "" when it deserializes.
std::string TgiShapeError(const json& params) {
  static const char* const kNumbers[] = {"temperature", "top_p", "typical_p", "repetition_penalty",
                                         "frequency_penalty"};
  static const char* const kUnsigned[] = {"max_new_tokens", "seed", "best_of", "truncate",
                                          "top_n_tokens"};
  static const char* const kBools[] = {"details", "do_sample", "return_full_text",
                                       "decoder_input_details", "watermark"};
  auto bad = [&](const char* name, bool ok) {
    auto it = params.find(name);
    return it != params.end() && !it->is_null() && !ok;
  };
  for (const char* n : kNumbers) {
    if (bad(n, params.value(n, json()).is_number())) return std::string(n) + ": expected f32";
  }
  for (const char* n : kUnsigned) {
    if (bad(n, params.value(n, json()).is_number_unsigned()))
      return std::string(n) + ": expected u32";
  }
  for (const char* n : kBools) {
    if (bad(n, params.value(n, json()).is_boolean())) return std::string(n) + ": expected bool";
  }
  if (bad("top_k", params.value("top_k", json()).is_number_integer())) return "top_k: expected i32";
  if (params.contains("stop")) {
    const json& stop = params["stop"];
    bool ok = stop.is_array() &&
              std::all_of(stop.begin(), stop.end(), [](const json& x) { return x.is_string(); });
    if (!ok) return "stop: expected a sequence of strings";
  }
  return "";
}

// validation.rs's range rules, in its order; "" when valid.
std::string TgiRangeError(const json& p, const std::string& inputs) {
  auto num = [&](const char* name) -> std::optional<double> {
    auto it = p.find(name);
    if (it == p.end() || it->is_null()) return std::nullopt;
    return it->get<double>();
  };
  const bool sampling = p.value("do_sample", json(false)) == true || num("temperature") ||
                        num("top_k") || num("top_p") || num("typical_p");
  if (num("best_of").value_or(1) > 1 && !sampling)
    return "you must use sampling when `best_of` is > 1";
  if (num("temperature").value_or(1) <= 0) return "`temperature` must be strictly positive";
  if (num("repetition_penalty").value_or(1) <= 0)
    return "`repetition_penalty` must be strictly positive";
  const double fp = num("frequency_penalty").value_or(0);
  if (fp < -2 || fp > 2) return "`frequency_penalty` must be >= -2.0 and <= 2.0";
  const double top_p = num("top_p").value_or(0.5);
  if (top_p <= 0 || top_p >= 1) return "`top_p` must be > 0.0 and < 1.0";
  const double typical_p = num("typical_p").value_or(0.5);
  if (typical_p <= 0 || typical_p >= 1) return "`typical_p` must be > 0.0 and < 1.0";
  if (num("top_k").value_or(1) <= 0) return "`top_k` must be strictly positive";
  if (num("max_new_tokens") == 0) return "`max_new_tokens` must be strictly positive";
  const size_t n_stop = p.contains("stop") ? p["stop"].size() : 0;
  if (n_stop > kTgiMaxStopSequences) {
    return "`stop` supports up to " + std::to_string(kTgiMaxStopSequences) +
           " stop sequences. Given: " + std::to_string(n_stop);
  }
  if (inputs.empty()) return "`inputs` cannot be empty";
  return "";
}

// Parses a GenerateRequest; on failure writes the error and returns nullopt. Range errors go
// into the stream on /generate_stream, as TGI sends them after its 200.
std::optional<TgiRequest> ParseTgi(Impl& u, const UpstreamScript& s, const httplib::Request& req,
                                   bool stream, httplib::Response& res) {
  if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
    SendJson(res, 415,
             TgiError("Expected request with `Content-Type: application/json`", "validation"));
    return std::nullopt;
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    SendJson(res, 400, TgiError("Failed to parse the request body as JSON", "validation"));
    return std::nullopt;
  }
  std::string shape;
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_string()) {
    shape = "missing field `inputs`";
  } else if (body.contains("parameters") && !body["parameters"].is_object()) {
    shape = "parameters: expected struct GenerateParameters";
  } else {
    shape = TgiShapeError(body.value("parameters", json::object()));
  }
  if (!shape.empty()) {
    SendJson(res, 422,
             TgiError("Failed to deserialize the JSON body into the target type: " + shape,
                      "validation"));
    return std::nullopt;
  }
  const json p = body.value("parameters", json::object());
  TgiRequest r;
  r.inputs = body["inputs"].get<std::string>();
  if (std::string range = TgiRangeError(p, r.inputs); !range.empty()) {
    json error = TgiError("Input validation error: " + range, "validation");
    if (stream) {
      SendStream(u, s, {{"data:" + error.dump() + "\n\n", false}}, res);
    } else {
      SendJson(res, 422, error);
    }
    return std::nullopt;
  }
  if (p.contains("max_new_tokens") && !p["max_new_tokens"].is_null())
    r.max_new_tokens = p["max_new_tokens"].get<int>();
  if (p.contains("stop")) r.stop = p["stop"].get<std::vector<std::string>>();
  auto flag = [&](const char* name) { return p.value(name, json(false)) == true; };
  r.details = flag("details");
  r.return_full_text = flag("return_full_text");
  r.decoder_input_details = flag("decoder_input_details");
  r.seed = p.value("seed", json());
  return r;
}

json TgiToken(const std::string& text, size_t i) {
  return {{"id", 1000 + i}, {"text", text}, {"logprob", Logprob(i)}, {"special", false}};
}

void TgiGenerate(Impl& u, const httplib::Request& req, httplib::Response& res) {
  std::optional<UpstreamScript> s = Admit(u, req, res, Route::kGeneration);
  if (!s) return;
  std::optional<TgiRequest> r = ParseTgi(u, *s, req, /*stream=*/false, res);
  if (!r) return;
  if (s->malformed_json) return SendMalformed(u, *s, false, res);
  const Answer a = PlanAnswer(*s, r->max_new_tokens, r->stop, /*keep_stop=*/true);
  json out = {{"generated_text", (r->return_full_text ? r->inputs : "") + a.Text()}};
  if (r->details) {
    json prefill = json::array(), tokens = json::array();
    if (r->decoder_input_details) {
      for (const std::string& piece : PromptPieces(r->inputs))
        prefill.push_back({{"id", 500 + prefill.size()}, {"text", piece}, {"logprob", nullptr}});
    }
    for (size_t i = 0; i < a.tokens.size(); ++i) tokens.push_back(TgiToken(a.tokens[i], i));
    out["details"] = {{"finish_reason", a.finish_reason},
                      {"generated_tokens", a.tokens.size()},
                      {"seed", r->seed},
                      {"prefill", prefill},
                      {"tokens", tokens}};
  }
  SendJson(res, 200, out);
}

// One event per token; the last token's event carries generated_text and (when asked) details.
std::vector<SseEvent> TgiStreamEvents(const TgiRequest& r, const Answer& a, int prompt_tokens) {
  std::vector<SseEvent> events;
  const size_t n = a.tokens.size();
  for (size_t i = 0; i < std::max<size_t>(n, 1); ++i) {
    json e = {{"index", i + 1},
              {"token", n == 0 ? json{{"id", 0}, {"text", ""}, {"logprob", 0.0}, {"special", true}}
                               : TgiToken(a.tokens[i], i)},
              {"generated_text", nullptr},
              {"details", nullptr}};
    if (i + 1 >= n) {
      e["generated_text"] = (r.return_full_text ? r.inputs : "") + a.Text();
      if (r.details) {
        e["details"] = {{"finish_reason", a.finish_reason},
                        {"generated_tokens", n},
                        {"seed", r.seed},
                        {"input_length", prompt_tokens}};
      }
    }
    events.push_back({"data:" + e.dump() + "\n\n", n > 0});
  }
  return events;
}

void TgiGenerateStream(Impl& u, const httplib::Request& req, httplib::Response& res) {
  std::optional<UpstreamScript> s = Admit(u, req, res, Route::kGeneration);
  if (!s) return;
  std::optional<TgiRequest> r = ParseTgi(u, *s, req, /*stream=*/true, res);
  if (!r) return;
  if (s->malformed_json) return SendMalformed(u, *s, true, res);
  const Answer a = PlanAnswer(*s, r->max_new_tokens, r->stop, /*keep_stop=*/true);
  SendStream(u, *s, TgiStreamEvents(*r, a, s->prompt_tokens), res);
}

json TgiInfo() {
  return {{"model_id", kModelId},
          {"model_sha", nullptr},
          {"model_pipeline_tag", "text-generation"},
          {"max_concurrent_requests", 128},
          {"max_best_of", 2},
          {"max_stop_sequences", kTgiMaxStopSequences},
          {"max_input_tokens", 1024},
          {"max_total_tokens", 2048},
          {"validation_workers", 2},
          {"max_client_batch_size", 4},
          {"router", "text-generation-router"},
          {"version", "3.0.0"},
          {"sha", nullptr},
          {"docker_label", nullptr}};
}

void AddTgiRoutes(Impl& u) {
  u.http.Post("/generate",
              [&u](const httplib::Request& q, httplib::Response& r) { TgiGenerate(u, q, r); });
  u.http.Post("/generate_stream", [&u](const httplib::Request& q, httplib::Response& r) {
    TgiGenerateStream(u, q, r);
  });
  u.http.Get("/info", [&u](const httplib::Request& q, httplib::Response& r) {
    if (Admit(u, q, r, Route::kInfo)) SendJson(r, 200, TgiInfo());
  });
}

// ---- OpenAI ---------------------------------------------------------------------------------

struct OpenAiRequest {
  std::string model = kModelId;
  bool stream = false, include_usage = false;
  int max_tokens = -1;
  std::vector<std::string> stop;
  bool logprobs = false;  // chat
  int top_logprobs = 0;   // chat
  std::string prompt;     // legacy completions
  bool echo = false;      // legacy completions
  int n_logprobs = -1;    // legacy completions: -1 = none
};

json InvalidRequest(const std::string& message, const std::string& param,
                    const json& code = nullptr) {
  return OpenAiError(message, "invalid_request_error", param, code);
}

// A present, non-null field that must be a number in [lo, hi] (integer when `integer`).
std::optional<json> CheckRange(const json& body, const char* name, double lo, double hi,
                               bool integer) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  const char* kind = integer ? "integer" : "decimal";
  if (integer ? !it->is_number_integer() : !it->is_number()) {
    return InvalidRequest(std::string("Invalid type for '") + name + "': expected an " +
                              (integer ? "integer" : "number") + ".",
                          name, "invalid_type");
  }
  const double v = it->get<double>();
  if (v < lo || v > hi) {
    const bool low = v < lo;
    return InvalidRequest(std::string("Invalid '") + name + "': " + kind +
                              (low ? " below minimum value." : " above maximum value."),
                          name,
                          std::string(kind) + (low ? "_below_min_value" : "_above_max_value"));
  }
  return std::nullopt;
}

// The ranges of OpenAI's API reference (temperature [0, 2], top_p [0, 1], top_logprobs [0, 20]).
std::optional<json> ParseOpenAiFields(const json& body, bool chat, OpenAiRequest* r) {
  const char* cap =
      chat && body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  struct Rule {
    const char* name;
    double lo, hi;
    bool integer;
  };
  const Rule rules[] = {{"temperature", 0, 2, false},
                        {"top_p", 0, 1, false},
                        {cap, 1, 1e9, true},
                        {"n", 1, 128, true},
                        {"top_logprobs", 0, 20, true}};
  for (const Rule& rule : rules) {
    if (auto e = CheckRange(body, rule.name, rule.lo, rule.hi, rule.integer)) return e;
  }
  const json n = body.value("n", json(1));
  if (!n.is_null() && n != 1)
    return InvalidRequest("The stand-in generates one choice only (n = 1).", "n");
  const json max_tokens = body.value(cap, json());
  if (max_tokens.is_number_integer()) r->max_tokens = max_tokens.get<int>();
  const json stop = body.value("stop", json());
  if (stop.is_string()) r->stop = {stop.get<std::string>()};
  if (stop.is_array() && stop.size() <= 4 &&
      std::all_of(stop.begin(), stop.end(), [](const json& x) { return x.is_string(); })) {
    r->stop = stop.get<std::vector<std::string>>();
  } else if (!stop.is_null() && !stop.is_string()) {
    return InvalidRequest("'stop' must be a string or an array of up to 4 strings.", "stop");
  }
  const json model = body.value("model", json());
  if (model.is_string()) r->model = model.get<std::string>();
  r->stream = body.value("stream", json(false)) == true;
  const json options = body.value("stream_options", json());
  r->include_usage = options.is_object() && options.value("include_usage", json(false)) == true;
  return std::nullopt;
}

std::optional<json> ParseChatFields(const json& body, OpenAiRequest* r) {
  const json messages = body.value("messages", json());
  if (!messages.is_array() || messages.empty()) {
    return InvalidRequest("Missing required parameter: 'messages'.", "messages",
                          "missing_required_parameter");
  }
  r->logprobs = body.value("logprobs", json(false)) == true;
  const json top = body.value("top_logprobs", json());
  r->top_logprobs = top.is_number_integer() ? top.get<int>() : 0;
  if (r->top_logprobs > 0 && !r->logprobs) {
    return InvalidRequest("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  }
  return std::nullopt;
}

std::optional<json> ParseCompletionFields(const json& body, OpenAiRequest* r) {
  const json prompt = body.value("prompt", json());
  if (!prompt.is_string()) {
    return InvalidRequest("'prompt' must be a string (the stand-in takes one prompt).", "prompt",
                          "missing_required_parameter");
  }
  if (auto e = CheckRange(body, "logprobs", 0.0, 5.0, true)) return e;
  r->prompt = prompt.get<std::string>();
  r->echo = body.value("echo", json(false)) == true;
  const json lp = body.value("logprobs", json());
  r->n_logprobs = lp.is_number_integer() ? lp.get<int>() : -1;
  return std::nullopt;
}

// Parses a chat or legacy completions body; on failure writes the 400 and returns nullopt.
std::optional<OpenAiRequest> ParseOpenAi(const httplib::Request& req, bool chat,
                                         httplib::Response& res) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    SendJson(res, 400, InvalidRequest("We could not parse the JSON body of your request.", ""));
    return std::nullopt;
  }
  OpenAiRequest r;
  std::optional<json> error = ParseOpenAiFields(body, chat, &r);
  if (!error) error = chat ? ParseChatFields(body, &r) : ParseCompletionFields(body, &r);
  if (error) {
    SendJson(res, 400, *error);
    return std::nullopt;
  }
  return r;
}

json Bytes(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(c);
  return out;
}

// choices[].logprobs.content[] entry for answer token i, with `top` alternatives.
json ChatLogprob(const std::string& token, size_t i, int top) {
  json alternatives = json::array();
  for (int k = 0; k < top; ++k) {
    const std::string alt = k == 0 ? token : "<alt" + std::to_string(k) + ">";
    alternatives.push_back({{"token", alt}, {"logprob", Logprob(i) - k}, {"bytes", Bytes(alt)}});
  }
  return {{"token", token},
          {"logprob", Logprob(i)},
          {"bytes", Bytes(token)},
          {"top_logprobs", alternatives}};
}

// Legacy logprobs: echoed prompt pieces first (the first of them with null logprob and null
// top_logprobs: nothing precedes it), then answer tokens numbered from `first`; text_offset
// counts characters from the start of the prompt.
json LegacyLogprobs(const std::vector<std::string>& prompt_pieces,
                    const std::vector<std::string>& answer, size_t first, size_t offset, int n) {
  json l = {{"tokens", json::array()},
            {"token_logprobs", json::array()},
            {"top_logprobs", json::array()},
            {"text_offset", json::array()}};
  auto add = [&](const std::string& token, json logprob) {
    json top = nullptr;
    if (!logprob.is_null()) {
      top = {{token, logprob}};
      for (int k = 1; k < n; ++k) top["<alt" + std::to_string(k) + ">"] = logprob.get<double>() - k;
    }
    l["tokens"].push_back(token);
    l["token_logprobs"].push_back(logprob);
    l["top_logprobs"].push_back(top);
    l["text_offset"].push_back(offset);
    offset += token.size();
  };
  for (size_t j = 0; j < prompt_pieces.size(); ++j)
    add(prompt_pieces[j], j == 0 ? json(nullptr) : json(-static_cast<double>(j) / 20.0));
  for (size_t i = 0; i < answer.size(); ++i) add(answer[i], Logprob(first + i));
  return l;
}

json Usage(int prompt_tokens, size_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + static_cast<int>(completion_tokens)}};
}

json OpenAiEnvelope(Impl& u, const OpenAiRequest& r, bool chat, const char* object) {
  const int id = u.next_id.fetch_add(1);
  return {{"id", (chat ? "chatcmpl-standin-" : "cmpl-standin-") + std::to_string(id)},
          {"object", object},
          {"created", kCreated},
          {"model", r.model},
          {"system_fingerprint", "fp_standin"}};
}

json CompleteChoice(const OpenAiRequest& r, const Answer& a, bool chat) {
  json choice = {
      {"index", 0}, {"logprobs", nullptr}, {"finish_reason", OpenAiReason(a.finish_reason)}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", a.Text()}};
    if (r.logprobs) {
      json content = json::array();
      for (size_t i = 0; i < a.tokens.size(); ++i)
        content.push_back(ChatLogprob(a.tokens[i], i, r.top_logprobs));
      choice["logprobs"] = {{"content", content}};
    }
    return choice;
  }
  choice["text"] = (r.echo ? r.prompt : "") + a.Text();
  if (r.n_logprobs >= 0) {
    const std::vector<std::string> echoed =
        r.echo ? PromptPieces(r.prompt) : std::vector<std::string>{};
    choice["logprobs"] =
        LegacyLogprobs(echoed, a.tokens, 0, r.echo ? 0 : r.prompt.size(), r.n_logprobs);
  }
  return choice;
}

// One streamed chunk: the envelope with a single choice (or none) and usage null when asked.
SseEvent Chunk(json envelope, const OpenAiRequest& r, json choice, bool is_token) {
  envelope["choices"] = choice.is_null() ? json::array() : json::array({std::move(choice)});
  if (r.include_usage) envelope["usage"] = nullptr;
  return {"data: " + envelope.dump() + "\n\n", is_token};
}

std::vector<SseEvent> OpenAiStreamEvents(Impl& u, const OpenAiRequest& r, const Answer& a,
                                         bool chat, int prompt_tokens) {
  const json env = OpenAiEnvelope(u, r, chat, chat ? "chat.completion.chunk" : "text_completion");
  auto choice = [&](json delta_or_text, json logprobs, json finish) {
    json c = {
        {"index", 0}, {"logprobs", std::move(logprobs)}, {"finish_reason", std::move(finish)}};
    c[chat ? "delta" : "text"] = std::move(delta_or_text);
    return c;
  };
  std::vector<SseEvent> events;
  if (chat)
    events.push_back(
        Chunk(env, r, choice({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr), false));
  if (!chat && r.echo) events.push_back(Chunk(env, r, choice(r.prompt, nullptr, nullptr), false));
  size_t offset = r.prompt.size();
  for (size_t i = 0; i < a.tokens.size(); ++i) {
    const std::string& t = a.tokens[i];
    json lp = nullptr;
    if (chat && r.logprobs) lp = {{"content", json::array({ChatLogprob(t, i, r.top_logprobs)})}};
    if (!chat && r.n_logprobs >= 0) lp = LegacyLogprobs({}, {t}, i, offset, r.n_logprobs);
    offset += t.size();
    events.push_back(
        Chunk(env, r, choice(chat ? json{{"content", t}} : json(t), lp, nullptr), true));
  }
  events.push_back(Chunk(
      env, r, choice(chat ? json::object() : json(""), nullptr, OpenAiReason(a.finish_reason)),
      false));
  if (r.include_usage) {
    json last = env;
    last["choices"] = json::array();
    last["usage"] = Usage(prompt_tokens, a.tokens.size());
    events.push_back({"data: " + last.dump() + "\n\n", false});
  }
  events.push_back({"data: [DONE]\n\n", false});
  return events;
}

void OpenAiGenerate(Impl& u, const httplib::Request& req, httplib::Response& res, bool chat) {
  std::optional<UpstreamScript> s = Admit(u, req, res, Route::kGeneration);
  if (!s) return;
  std::optional<OpenAiRequest> r = ParseOpenAi(req, chat, res);
  if (!r) return;
  if (s->malformed_json) return SendMalformed(u, *s, r->stream, res);
  const Answer a = PlanAnswer(*s, r->max_tokens, r->stop, /*keep_stop=*/false);
  if (r->stream)
    return SendStream(u, *s, OpenAiStreamEvents(u, *r, a, chat, s->prompt_tokens), res);
  json out = OpenAiEnvelope(u, *r, chat, chat ? "chat.completion" : "text_completion");
  out["choices"] = json::array({CompleteChoice(*r, a, chat)});
  out["usage"] = Usage(s->prompt_tokens, a.tokens.size());
  SendJson(res, 200, out);
}

void AddOpenAiRoutes(Impl& u) {
  u.http.Post("/v1/chat/completions", [&u](const httplib::Request& q, httplib::Response& r) {
    OpenAiGenerate(u, q, r, /*chat=*/true);
  });
  u.http.Post("/v1/completions", [&u](const httplib::Request& q, httplib::Response& r) {
    OpenAiGenerate(u, q, r, /*chat=*/false);
  });
  u.http.Get("/v1/models", [&u](const httplib::Request& q, httplib::Response& r) {
    if (!Admit(u, q, r, Route::kInfo)) return;
    SendJson(r, 200,
             {{"object", "list"},
              {"data", json::array({{{"id", kModelId},
                                     {"object", "model"},
                                     {"created", kCreated},
                                     {"owned_by", "standin"}}})}});
  });
}

}  // namespace

// ---- the server -----------------------------------------------------------------------------

StandinUpstream::StandinUpstream(Protocol protocol) : impl_(std::make_unique<Impl>(protocol)) {
  Impl& u = *impl_;
  // Debian's cpp-httplib is a compiled library that ignores CPPHTTPLIB_THREAD_POOL_COUNT; each
  // open stream holds a worker.
  u.http.new_task_queue = [] { return new httplib::ThreadPool(16); };
  u.http.set_tcp_nodelay(true);
  // One request per connection: httplib's stop() does not wake a worker that waits for the next
  // request on an idle keep-alive connection, so Stop() would hang for the keep-alive timeout.
  u.http.set_keep_alive_max_count(1);
  u.http.set_keep_alive_timeout(1);
  u.http.set_read_timeout(5);
  u.http.set_write_timeout(5);
  u.http.Get("/health", [&u](const httplib::Request& q, httplib::Response& r) {
    if (Admit(u, q, r, Route::kHealth)) r.status = 200;
  });
  if (protocol == Protocol::kTgi) {
    AddTgiRoutes(u);
  } else {
    AddOpenAiRoutes(u);
  }
  // Unknown routes: still recorded; OpenAI-style servers name the problem in their envelope.
  u.http.set_error_handler(
      httplib::Server::HandlerWithResponse([&u](const httplib::Request& q, httplib::Response& r) {
        if (r.status != 404 || !r.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        {
          std::lock_guard<std::mutex> lock(u.mu);
          u.seen.push_back(MakeSeen(q));
        }
        if (u.protocol == Protocol::kOpenAi) {
          SendJson(
              r, 404,
              InvalidRequest("Unknown request URL: " + q.method + " " + q.path, "", "unknown_url"));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  u.port = u.http.bind_to_any_port("127.0.0.1");
  if (u.port < 0) {
    ADD_FAILURE() << "stand-in upstream: cannot bind 127.0.0.1";
    return;
  }
  u.thread = std::thread([&u] {
    u.http.listen_after_bind();
    u.listen_returned = true;
  });
  // stop() is a no-op until the accept loop runs, so wait for it before anyone may call Stop().
  while (!u.http.is_running() && !u.listen_returned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

StandinUpstream::~StandinUpstream() { Stop(); }

int StandinUpstream::port() const { return impl_->port; }

std::string StandinUpstream::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void StandinUpstream::Configure(const std::function<void(UpstreamScript&)>& edit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  edit(impl_->script);
}

std::vector<StandinUpstream::Seen> StandinUpstream::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->seen;
}

int StandinUpstream::streams_aborted() const { return impl_->streams_aborted.load(); }

void StandinUpstream::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (!impl_->thread.joinable()) return;
  impl_->http.stop();  // closes the listening socket: new connections are refused from here
  impl_->thread.join();
}

}  // namespace medassist::testing
