#include "server/local_backend.h"

#include <algorithm>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "runtime/text_stream.h"

namespace medassist::server {
namespace {

// One request's stream: engine events through TextStream, with the token bytes that logprobs
// report. Dropping it cancels the request and frees its pending slot.
class LocalStream : public BackendStream {
 public:
  LocalStream(std::shared_ptr<runtime::RequestStream> stream, const tokenizer::Tokenizer& tok,
              std::vector<std::string> stops, int32_t n_prompt, int32_t first_prompt_id,
              std::shared_ptr<std::atomic<int32_t>> pending)
      : engine_stream_(stream),
        first_prompt_id_(first_prompt_id),
        text_(std::move(stream), tok, std::move(stops)),
        tokenizer_(tok),
        n_prompt_(n_prompt),
        pending_(std::move(pending)) {}
  ~LocalStream() override {
    engine_stream_->Cancel();
    pending_->fetch_sub(1);
  }

  WaitResult Next(BackendEvent* event, std::chrono::milliseconds timeout) override {
    runtime::TextEvent e;
    WaitResult got = text_.NextFor(&e, timeout);
    if (got != WaitResult::kEvent) return got;
    *event = BackendEvent{.text = std::move(e.text),
                          .has_token = e.has_token,
                          .finished = e.finished,
                          .reason = e.reason};
    if (e.has_token) {
      ++n_generated_;
      event->token_id = e.token.id;
      event->token_bytes = std::string(tokenizer_.TokenBytes(e.token.id));
      event->logprob = e.token.logprob;
      for (const runtime::TokenLogprob& t : e.token.top) {
        event->top_logprobs.emplace_back(std::string(tokenizer_.TokenBytes(t.id)), t.logprob);
      }
    }
    if (!e.prompt_tokens.empty()) {
      if (!sent_first_prompt_token_) {  // the first prompt token has no logprob (OpenAI: null)
        sent_first_prompt_token_ = true;
        event->prompt_tokens.push_back(
            {.bytes = std::string(tokenizer_.TokenBytes(first_prompt_id_)),
             .logprob = std::numeric_limits<float>::quiet_NaN()});
      }
      for (const runtime::SampledToken& t : e.prompt_tokens) {
        PromptToken p{.bytes = std::string(tokenizer_.TokenBytes(t.id)), .logprob = t.logprob};
        for (const runtime::TokenLogprob& alt : t.top) {
          p.top.emplace_back(std::string(tokenizer_.TokenBytes(alt.id)), alt.logprob);
        }
        event->prompt_tokens.push_back(std::move(p));
      }
    }
    if (e.finished && e.reason == runtime::FinishReason::kError) {
      event->error = "the engine failed while generating (see the server log)";
    }
    return WaitResult::kEvent;
  }
  void Cancel() override { engine_stream_->Cancel(); }
  int32_t n_prompt_tokens() const override { return n_prompt_; }
  int32_t n_generated_tokens() const override { return n_generated_; }

 private:
  std::shared_ptr<runtime::RequestStream> engine_stream_;
  int32_t first_prompt_id_;
  bool sent_first_prompt_token_ = false;
  runtime::TextStream text_;
  const tokenizer::Tokenizer& tokenizer_;
  int32_t n_prompt_;
  int32_t n_generated_ = 0;
  std::shared_ptr<std::atomic<int32_t>> pending_;
};

uint64_t RandomSeed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

Result<std::unique_ptr<LocalBackend>> LocalBackend::Create(runtime::LoadedModel model,
                                                           std::unique_ptr<ThreadPool> pool,
                                                           const model::Forward::Options& compute,
                                                           const LocalBackendOptions& options) {
  std::unique_ptr<LocalBackend> b(new LocalBackend());
  b->model_ = std::make_unique<runtime::LoadedModel>(std::move(model));
  b->pool_ = std::move(pool);
  b->forward_ = std::make_unique<model::Forward>(b->model_->model, *b->pool_, compute);
  b->options_ = options;
  int64_t max_positions = b->model_->model.config().max_position_embeddings;
  if (max_positions > 0 && b->options_.engine.context > max_positions) {
    b->options_.engine.context = static_cast<int32_t>(max_positions);
  }
  ASSIGN_OR_RETURN(tokenizer::ChatTemplate tmpl,
                   tokenizer::ChatTemplate::ForTokenizer(b->model_->tokenizer,
                                                         /*allow_fallback=*/true));
  if (!options.system_prompt.empty() && tmpl.format() == tokenizer::ChatFormat::kChatMl) {
    tmpl = tokenizer::ChatTemplate::ChatMl(options.system_prompt);
  }
  b->template_ = std::move(tmpl);
  ASSIGN_OR_RETURN(b->engine_,
                   runtime::Engine::Start(b->model_->model, b->forward_.get(), b->options_.engine));
  return b;
}

LocalBackend::~LocalBackend() { engine_.reset(); }  // the engine thread stops before the model goes

std::optional<runtime::EngineMetrics> LocalBackend::engine_metrics() const {
  return engine_->metrics();
}

Result<std::vector<int32_t>> LocalBackend::PromptIds(const BackendRequest& request) const {
  const tokenizer::Tokenizer& tok = model_->tokenizer;
  std::vector<int32_t> ids;
  if (request.is_chat) {
    ASSIGN_OR_RETURN(ids, template_->Encode(tok, request.messages, /*add_generation_prompt=*/true));
  } else if (!request.prompt_ids.empty()) {
    for (int32_t id : request.prompt_ids) {
      if (!tok.IsValidId(id)) {
        return InvalidArgument(fmt::format(
            "prompt token {} is not a token id of this model (0..{})", id, tok.vocab_size() - 1));
      }
    }
    ids = request.prompt_ids;
  } else {
    ids = tok.Encode(request.prompt, {.add_bos = tok.add_bos()});
  }
  if (!request.assistant_prefill.empty()) tok.EncodeAppend(request.assistant_prefill, {}, ids);
  if (ids.empty()) return InvalidArgument("the prompt is empty; send some text");
  return ids;
}

const std::vector<int32_t>& LocalBackend::OpeningTokens(const std::string& opening) {
  std::lock_guard<std::mutex> lock(opening_mutex_);
  auto [it, inserted] = opening_tokens_.try_emplace(opening);
  if (!inserted) return it->second;
  const tokenizer::Tokenizer& tok = model_->tokenizer;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    tokenizer::TokenKind kind = tok.Kind(id);
    if (kind != tokenizer::TokenKind::kNormal && kind != tokenizer::TokenKind::kByte) continue;
    std::string_view text = tok.TokenBytes(id);
    size_t start = text.find_first_not_of(" \t\r\n");
    text = start == std::string_view::npos ? std::string_view() : text.substr(start);
    if (text.empty() || opening.starts_with(text) || text.starts_with(opening)) {
      it->second.push_back(id);
    }
  }
  return it->second;
}

Result<std::unique_ptr<BackendStream>> LocalBackend::Start(const BackendRequest& request) {
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, PromptIds(request));
  const int32_t context = options_.engine.context;
  const int32_t n_prompt = static_cast<int32_t>(ids.size());
  if (n_prompt >= context) {
    return InvalidArgument(fmt::format(
        "This model's maximum context length is {} tokens, but the prompt has {} tokens (and at "
        "least one must be generated). Shorten the messages or the prompt.",
        context, n_prompt));
  }
  runtime::ResolvedGeneration r = runtime::ResolveGeneration(
      request.request, request.route, model_->model.generation_config(), RandomSeed);
  r.sampling.seed += request.seed_offset;
  r.sampling.logit_bias = request.logit_bias;
  r.sampling.logprobs = request.logprobs;
  r.sampling.top_logprobs = request.top_logprobs;
  if (!request.forbid_opening.empty()) {
    r.sampling.suppress_first_tokens = OpeningTokens(request.forbid_opening);
  }
  RETURN_IF_ERROR(runtime::ValidateSamplingParams(r.sampling, model_->model.config().vocab_size));
  if (pending_->fetch_add(1) >= options_.max_pending) {
    pending_->fetch_sub(1);
    return ResourceExhausted(
        fmt::format("the server is at capacity ({} requests in progress); retry shortly",
                    options_.max_pending));
  }
  runtime::GenerationRequest g{.prompt = std::move(ids),
                               .sampling = std::move(r.sampling),
                               .max_new_tokens = std::min(r.max_new_tokens, context - n_prompt),
                               .eos_ids = model_->eos_ids,
                               .prompt_logprobs = request.prompt_logprobs};
  const int32_t first_prompt_id = g.prompt[0];
  Result<std::shared_ptr<runtime::RequestStream>> stream = engine_->Submit(std::move(g));
  if (!stream.ok()) {
    pending_->fetch_sub(1);
    return stream.status();
  }
  return std::unique_ptr<BackendStream>(new LocalStream(std::move(stream).value(),
                                                        model_->tokenizer, request.stop, n_prompt,
                                                        first_prompt_id, pending_));
}

}  // namespace medassist::server
