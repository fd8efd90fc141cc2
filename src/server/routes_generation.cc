// POST /v1/chat/completions, /v1/completions and /v1/generate: parse and validate, start the
// choices on the backend, then answer with one JSON document or stream server-sent events. The
// three routes differ only in how a choice's deltas become JSON (an AnswerFormat).
#include <chrono>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/connection_watch.h"
#include "server/generation_run.h"
#include "server/json_fields.h"
#include "server/openai_format.h"
#include "server/safety_notice.h"
#include "server/server_context.h"

namespace medassist::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How a route turns deltas into answers.
class AnswerFormat {
 public:
  virtual ~AnswerFormat() = default;
  // Streaming: the SSE payloads for one delta (none, one or several).
  virtual void StreamDelta(const ChoiceDelta& d, std::vector<json>* events) = 0;
  // Streaming: what follows the last choice's end (the usage chunk).
  virtual void StreamEnd(int32_t n_prompt, int32_t n_completion, std::vector<json>* events) = 0;
  virtual json Complete(const std::vector<ChoiceResult>& choices, int32_t n_prompt,
                        int32_t n_completion) = 0;
  virtual bool sends_done() const { return true; }  // data: [DONE] at the end
  // What the red-flag check adds to the answers (server/safety_notice.h).
  void SetSafety(std::optional<SafetyNotice> notice) { safety_ = std::move(notice); }

 protected:
  std::optional<SafetyNotice> safety_;
};

// The OpenAI formats: chunks of one object type, "usage": null in each when the client asked for
// usage (as OpenAI sends them), and a last chunk with no choices carrying the usage.
class OpenAiFormat : public AnswerFormat {
 public:
  OpenAiFormat(AnswerHeader h, const char* chunk_object, bool include_usage)
      : h_(std::move(h)), chunk_object_(chunk_object), include_usage_(include_usage) {}
  void StreamEnd(int32_t n_prompt, int32_t n_completion, std::vector<json>* events) override {
    if (!include_usage_) return;
    events->push_back({{"id", h_.id},
                       {"object", chunk_object_},
                       {"created", h_.created},
                       {"model", h_.model},
                       {"choices", json::array()},
                       {"usage", UsageJson(n_prompt, n_completion)}});
  }

 protected:
  void Add(std::vector<json>* events, json chunk) const {
    if (include_usage_) chunk["usage"] = nullptr;
    events->push_back(std::move(chunk));
  }
  AnswerHeader h_;

 private:
  const char* chunk_object_;
  bool include_usage_;
};

class ChatFormat : public OpenAiFormat {
 public:
  ChatFormat(AnswerHeader h, int32_t n, bool logprobs, bool include_usage)
      : OpenAiFormat(std::move(h), "chat.completion.chunk", include_usage),
        started_(n, false),
        logprobs_(logprobs) {}

  void StreamDelta(const ChoiceDelta& d, std::vector<json>* events) override {
    if (!started_[d.index]) {  // OpenAI: the role comes first, in a chunk of its own
      started_[d.index] = true;
      Add(events, ChatChunkJson(h_, d.index, {{"role", "assistant"}, {"content", ""}}, json(), ""));
      if (safety_) {  // the escalation reaches the reader before any model token
        events->back()["safety"] = safety_->object;
        if (!safety_->prefix.empty()) {
          Add(events, ChatChunkJson(h_, d.index, {{"content", safety_->prefix}}, json(), ""));
        }
      }
    }
    bool token_logprobs = logprobs_ && d.event.has_token;
    if (!d.content.empty() || !d.reasoning.empty() || token_logprobs) {
      json delta = json::object();
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      if (!d.content.empty() || d.reasoning.empty()) delta["content"] = d.content;
      json lp =
          token_logprobs ? json{{"content", json::array({ChatLogprobEntry(d.event)})}} : json();
      Add(events, ChatChunkJson(h_, d.index, std::move(delta), std::move(lp), ""));
    }
    if (d.event.finished) {
      if (safety_ && !safety_->suffix.empty()) {
        Add(events, ChatChunkJson(h_, d.index, {{"content", safety_->suffix}}, json(), ""));
      }
      Add(events,
          ChatChunkJson(h_, d.index, json::object(), json(), OpenAiFinishReason(d.event.reason)));
    }
  }
  json Complete(const std::vector<ChoiceResult>& choices, int32_t n_prompt,
                int32_t n_completion) override {
    if (!safety_) return ChatCompletionJson(h_, choices, logprobs_, n_prompt, n_completion);
    std::vector<ChoiceResult> with_notice = choices;
    for (ChoiceResult& c : with_notice) c.content = safety_->prefix + c.content + safety_->suffix;
    json answer = ChatCompletionJson(h_, with_notice, logprobs_, n_prompt, n_completion);
    answer["safety"] = safety_->object;
    return answer;
  }

 private:
  std::vector<bool> started_;
  bool logprobs_;
};

class CompletionFormat : public OpenAiFormat {
 public:
  CompletionFormat(AnswerHeader h, int32_t n, std::string echo, bool logprobs, bool include_usage)
      : OpenAiFormat(std::move(h), "text_completion", include_usage),
        offsets_(n, 0),
        started_(n, false),
        echo_(std::move(echo)),
        logprobs_(logprobs) {}

  void StreamDelta(const ChoiceDelta& d, std::vector<json>* events) override {
    if (!started_[d.index]) {
      started_[d.index] = true;
      offsets_[d.index] = echo_.size();
      if (!echo_.empty()) Add(events, CompletionChunkJson(h_, d.index, echo_, json(), ""));
    }
    bool token_logprobs = logprobs_ && d.event.has_token;
    if (!d.content.empty() || token_logprobs) {
      json lp;
      if (token_logprobs) {
        lp = CompletionLogprobs({}, {d.event}, offsets_[d.index]);
        offsets_[d.index] += d.event.token_bytes.size();
      }
      Add(events, CompletionChunkJson(h_, d.index, d.content, std::move(lp), ""));
    }
    if (d.event.finished) {
      Add(events, CompletionChunkJson(h_, d.index, "", json(), OpenAiFinishReason(d.event.reason)));
    }
    if (safety_ && !safety_sent_ && !events->empty()) {  // on the stream's first chunk
      safety_sent_ = true;
      events->front()["safety"] = safety_->object;
    }
  }
  json Complete(const std::vector<ChoiceResult>& choices, int32_t n_prompt,
                int32_t n_completion) override {
    json answer = CompletionJson(h_, choices, echo_, logprobs_, n_prompt, n_completion);
    if (safety_) answer["safety"] = safety_->object;
    return answer;
  }

 private:
  std::vector<size_t> offsets_;
  std::vector<bool> started_;
  std::string echo_;
  bool logprobs_;
  bool safety_sent_ = false;
};

// The original route: {"output_text": ...}; streamed as {"text": delta} events.
class GenerateFormat : public AnswerFormat {
 public:
  void StreamDelta(const ChoiceDelta& d, std::vector<json>* events) override {
    if (safety_ && !started_) {
      events->push_back({{"text", safety_->prefix}, {"safety", safety_->object}});
    }
    started_ = true;
    if (!d.content.empty()) events->push_back({{"text", d.content}});
    if (d.event.finished) {
      events->push_back({{"text", ""}, {"finish_reason", OpenAiFinishReason(d.event.reason)}});
    }
  }
  void StreamEnd(int32_t, int32_t, std::vector<json>*) override {}
  json Complete(const std::vector<ChoiceResult>& choices, int32_t, int32_t) override {
    std::string text = choices.empty() ? std::string() : choices[0].content;
    if (!safety_) return {{"output_text", std::move(text)}};
    return {{"output_text", safety_->prefix + text}, {"safety", safety_->object}};
  }

 private:
  bool started_ = false;
};

ApiError EngineFailure(const BackendEvent& e) {
  return ApiError{.http_status = e.error_status,
                  .message = e.error.empty() ? "generation failed" : e.error,
                  .type = "server_error"};
}

// What a streaming response needs after the handler has returned.
struct StreamState {
  ServerContext* ctx;
  std::shared_ptr<Backend> backend;  // kept alive while the stream runs
  std::unique_ptr<InFlight> in_flight;
  std::unique_ptr<GenerationRun> run;
  std::unique_ptr<AnswerFormat> format;
  ConnectionWatch watch;
};

std::optional<RunOutcome> ShouldStop(const ServerContext& ctx, const ConnectionWatch& watch) {
  if (ctx.cancelling.load()) return RunOutcome::kShutdown;
  if (watch.PeerClosed()) return RunOutcome::kClientGone;
  return std::nullopt;
}

// Runs the request in the content provider, writing each event as it comes.
bool StreamEvents(StreamState& s, httplib::DataSink& sink) {
  const ServerOptions& o = s.ctx->options;
  Clock::time_point last_write = Clock::now();
  auto write = [&](const std::string& text) {
    last_write = Clock::now();
    return sink.write(text.data(), text.size());
  };
  auto write_event = [&](const json& payload) {
    return write("data: " + DumpJson(payload) + "\n\n");
  };
  std::vector<json> events;
  bool failed = false;
  RunOutcome outcome = s.run->Drive(
      [&](const ChoiceDelta& d) {
        if (d.event.finished && d.event.reason == runtime::FinishReason::kError) {
          failed = true;
          return write_event(json::parse(ErrorJson(EngineFailure(d.event))));
        }
        events.clear();
        s.format->StreamDelta(d, &events);
        for (const json& e : events) {
          if (!write_event(e)) return false;
        }
        return true;
      },
      [&] { return ShouldStop(*s.ctx, s.watch); },
      [&] {
        if (Clock::now() - last_write >= o.keepalive_interval) write(": keep-alive\n\n");
      },
      o.poll_interval);
  s.ctx->metrics.RecordTokens(s.run->n_prompt_tokens(), s.run->n_generated_tokens());
  if (outcome == RunOutcome::kClientGone) {
    spdlog::info("client went away; its generation was cancelled");
    return false;
  }
  if (outcome == RunOutcome::kShutdown) {
    write_event(json::parse(ErrorJson(ServerBusy("the server is shutting down", 1))));
  } else if (!failed) {
    events.clear();
    s.format->StreamEnd(s.run->n_prompt_tokens(), s.run->n_generated_tokens(), &events);
    for (const json& e : events) write_event(e);
  }
  if (s.format->sends_done()) write("data: [DONE]\n\n");
  sink.done();
  return true;
}

void RespondStreaming(std::shared_ptr<StreamState> state, httplib::Response& res) {
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  res.set_chunked_content_provider("text/event-stream", [state](size_t, httplib::DataSink& sink) {
    return StreamEvents(*state, sink);
  });
}

void RespondComplete(ServerContext& ctx, GenerationRun& run, AnswerFormat& format, int32_t n,
                     bool keep_tokens, const ConnectionWatch& watch, httplib::Response& res) {
  std::vector<ChoiceResult> choices(static_cast<size_t>(n));
  std::optional<ApiError> failure;
  RunOutcome outcome = run.Drive(
      [&](const ChoiceDelta& d) {
        ChoiceResult& c = choices[static_cast<size_t>(d.index)];
        c.prompt_tokens.insert(c.prompt_tokens.end(), d.event.prompt_tokens.begin(),
                               d.event.prompt_tokens.end());
        c.content += d.content;
        c.reasoning += d.reasoning;
        if (keep_tokens && d.event.has_token) {
          BackendEvent token = d.event;
          token.text.clear();
          c.tokens.push_back(std::move(token));
        }
        if (d.event.finished) {
          c.reason = d.event.reason;
          if (d.event.reason == runtime::FinishReason::kError) failure = EngineFailure(d.event);
        }
        return true;
      },
      [&] { return ShouldStop(ctx, watch); }, [] {}, ctx.options.poll_interval);
  ctx.metrics.RecordTokens(run.n_prompt_tokens(), run.n_generated_tokens());
  if (outcome == RunOutcome::kClientGone) {
    spdlog::info("client went away; its generation was cancelled");
    res.status = 499;  // nobody reads it; recorded in the metrics as "client closed request"
    return;
  }
  if (outcome == RunOutcome::kShutdown)
    return SendError(res, ServerBusy("the server is shutting down", 1));
  if (failure) return SendError(res, *failure);
  SendJson(res, 200, format.Complete(choices, run.n_prompt_tokens(), run.n_generated_tokens()));
}

// Starts the run and answers, streaming or not.
void Respond(ServerContext& ctx, const httplib::Request& req, httplib::Response& res,
             std::shared_ptr<Backend> backend, const GenerationFields& gen,
             const SplitSettings& split, std::unique_ptr<AnswerFormat> format, bool keep_tokens) {
  auto in_flight = std::make_unique<InFlight>(ctx);
  ConnectionWatch watch(req);
  // A remote backend may wait long before its answer starts (retries, a cold start): it gives up
  // when the client goes or the server stops.
  GenerationFields started = gen;
  started.backend.abandoned = [&] { return ShouldStop(ctx, watch).has_value(); };
  Result<GenerationRun> run = GenerationRun::Start(*backend, started, split);
  if (!run.ok()) return SendError(res, ErrorFromStatus(run.status()));
  if (!gen.stream) {
    return RespondComplete(ctx, *run, *format, gen.n, keep_tokens, watch, res);
  }
  auto state = std::make_shared<StreamState>(
      StreamState{.ctx = &ctx,
                  .backend = std::move(backend),
                  .in_flight = std::move(in_flight),
                  .run = std::make_unique<GenerationRun>(std::move(run).value()),
                  .format = std::move(format),
                  .watch = watch});
  RespondStreaming(std::move(state), res);
}

// The body as a JSON object and the backend, or the error already sent.
std::shared_ptr<Backend> Prepare(ServerContext& ctx, const httplib::Request& req,
                                 httplib::Response& res, json* body) {
  if (auto e = ParseJsonObject(req.body, body)) {
    SendError(res, *e);
    return nullptr;
  }
  auto model = body->find("model");
  std::string requested =
      model != body->end() && model->is_string() ? model->get<std::string>() : "";
  return BackendOrError(ctx, requested, res);
}

AnswerHeader Header(const ServerContext& ctx, const char* id_prefix, const std::string& model) {
  return {
      .id = NewCompletionId(id_prefix), .created = UnixSeconds(), .model = ctx.ModelName(model)};
}

void HandleChat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json body;
  std::shared_ptr<Backend> backend = Prepare(ctx, req, res, &body);
  if (!backend) return;
  ChatRequest r;
  if (auto e = ParseChatRequest(body, ctx.Limits(*backend), &r)) return SendError(res, *e);
  const assistant::ReasoningMarkers& markers = ctx.options.reasoning;
  SplitSettings split{.enabled = !markers.open.empty(), .markers = markers};
  if (split.enabled && r.reasoning == ReasoningMode::kOn) {
    r.gen.backend.assistant_prefill = markers.open + "\n\n";
    split.starts_in_reasoning = true;
  } else if (split.enabled && r.reasoning == ReasoningMode::kOff) {
    r.gen.backend.forbid_opening = markers.open;
  }
  auto format = std::make_unique<ChatFormat>(Header(ctx, "chatcmpl-", r.model), r.gen.n,
                                             r.gen.backend.logprobs, r.gen.include_usage);
  format->SetSafety(ChatSafetyNotice(ctx.options, r.gen.backend.messages));
  Respond(ctx, req, res, std::move(backend), r.gen, split, std::move(format),
          r.gen.backend.logprobs);
}

void HandleCompletion(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json body;
  std::shared_ptr<Backend> backend = Prepare(ctx, req, res, &body);
  if (!backend) return;
  CompletionRequest r;
  if (auto e = ParseCompletionRequest(body, ctx.Limits(*backend), &r)) return SendError(res, *e);
  auto format = std::make_unique<CompletionFormat>(Header(ctx, "cmpl-", r.model), r.gen.n,
                                                   r.echo ? r.gen.backend.prompt : std::string(),
                                                   r.logprobs >= 0, r.gen.include_usage);
  format->SetSafety(PromptSafetyNotice(ctx.options, r.gen.backend.prompt, false));
  Respond(ctx, req, res, std::move(backend), r.gen, SplitSettings{}, std::move(format),
          r.logprobs >= 0);
}

void HandleGenerate(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json body;
  std::shared_ptr<Backend> backend = Prepare(ctx, req, res, &body);
  if (!backend) return;
  GenerateRequest r;
  if (auto e = ParseGenerateRequest(body, ctx.Limits(*backend), &r)) return SendError(res, *e);
  auto format = std::make_unique<GenerateFormat>();
  format->SetSafety(PromptSafetyNotice(ctx.options, r.gen.backend.prompt, true));
  Respond(ctx, req, res, std::move(backend), r.gen, SplitSettings{}, std::move(format), false);
}

}  // namespace

void RegisterGenerationRoutes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    HandleChat(ctx, req, res);
  });
  http.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    HandleCompletion(ctx, req, res);
  });
  http.Post("/v1/generate", [&ctx](const httplib::Request& req, httplib::Response& res) {
    HandleGenerate(ctx, req, res);
  });
}

}  // namespace medassist::server
