// The backend that runs the model in this process: chat template -> token ids -> the engine
// thread (continuous batching) -> text safe to show, through TextStream.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "core/thread_pool.h"
#include "model/forward.h"
#include "runtime/engine.h"
#include "runtime/loaded_model.h"
#include "server/backend.h"
#include "tokenizer/chat_template.h"

namespace medassist::server {

struct LocalBackendOptions {
  runtime::EngineConfig engine = {};
  // Requests admitted or waiting at once; more are refused with "server busy" (503 + Retry-After)
  // rather than queued without bound.
  int32_t max_pending = 256;
  // Replaces the chat template's default system prompt when a conversation has none ("" keeps
  // the template's own).
  std::string system_prompt = {};
};

class LocalBackend : public Backend {
 public:
  // Takes ownership of the model and the pool, builds the forward pass over them (the Forward
  // refers to the model, so it is made only once the model has its final address) and starts the
  // engine thread.
  static Result<std::unique_ptr<LocalBackend>> Create(runtime::LoadedModel model,
                                                      std::unique_ptr<ThreadPool> pool,
                                                      const model::Forward::Options& compute,
                                                      const LocalBackendOptions& options);
  ~LocalBackend() override;

  Result<std::unique_ptr<BackendStream>> Start(const BackendRequest& request) override;
  BackendHealth Health() const override { return {.ready = true, .state = "ok"}; }
  const char* kind() const override { return "local"; }
  const tokenizer::Tokenizer* tokenizer() const override { return &model_->tokenizer; }
  std::optional<runtime::EngineMetrics> engine_metrics() const override;
  int32_t context_length() const override { return options_.engine.context; }

  // The prompt's token ids as Start computes them (exposed for /v1/completions' echo and tests).
  Result<std::vector<int32_t>> PromptIds(const BackendRequest& request) const;

 private:
  LocalBackend() = default;
  // Tokens that would open an answer with `opening` (a prefix of it, or it and more after
  // optional whitespace, or whitespace alone); computed once per text.
  const std::vector<int32_t>& OpeningTokens(const std::string& opening);

  std::unique_ptr<runtime::LoadedModel> model_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<model::Forward> forward_;
  std::unique_ptr<runtime::Engine> engine_;
  std::optional<tokenizer::ChatTemplate> template_;
  LocalBackendOptions options_;
  std::mutex opening_mutex_;
  std::map<std::string, std::vector<int32_t>> opening_tokens_;
  std::shared_ptr<std::atomic<int32_t>> pending_ = std::make_shared<std::atomic<int32_t>>(0);
};

}  // namespace medassist::server
