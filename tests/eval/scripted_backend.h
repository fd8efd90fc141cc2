// A stand-in model behind the server::Backend interface that answers the harness's prompts by a
// fixed policy, so that what the harness must score is known exactly.
//   generate:      "## Thinking ... ## Final Response\n\nThe answer is (X)." for the chosen X
//   loglikelihood: prompt tokens (context in pieces, the continuation as " " + rest) whose
//                  continuation logprob is highest for the chosen option
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "eval/datasets.h"
#include "server/backend.h"

namespace medassist::eval {

enum class Policy { kAlwaysA, kOracle, kRandom };

class ScriptedBackend : public server::Backend {
 public:
  // echo = false: answers without prompt tokens (an endpoint without echo support).
  ScriptedBackend(const std::vector<EvalItem>& items, Policy policy, uint64_t seed = 0,
                  bool echo = true);

  // The option the policy picks for item: 0, the answer, or a seeded hash of the id.
  int32_t Choice(const EvalItem& item) const;

  Result<std::unique_ptr<server::BackendStream>> Start(
      const server::BackendRequest& request) override;
  server::BackendHealth Health() const override { return {.ready = true, .state = "ok"}; }
  const char* kind() const override { return "remote"; }
  const tokenizer::Tokenizer* tokenizer() const override { return nullptr; }
  std::optional<runtime::EngineMetrics> engine_metrics() const override { return std::nullopt; }
  int32_t context_length() const override { return 4096; }

  // Refuses the item "set/id" ("*": every item) with InvalidArgument, as a too-long prompt.
  void Refuse(const std::string& key) { refused_.insert(key); }

  int64_t n_requests() const { return n_requests_; }
  // Requests per item key "set/id" (to check that no item is scored twice).
  std::map<std::string, int64_t> requests_per_item() const;

 private:
  Result<std::vector<server::BackendEvent>> Answer(const server::BackendRequest& request);
  Status Refusal(const EvalItem& item) const;

  Policy policy_;
  uint64_t seed_;
  bool echo_;
  std::map<std::string, EvalItem> by_generate_prompt_;
  std::map<std::string, EvalItem> by_context_;
  std::atomic<int64_t> n_requests_{0};
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> per_item_;
  std::set<std::string> refused_;
};

}  // namespace medassist::eval
