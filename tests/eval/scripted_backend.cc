#include "scripted_backend.h"

#include <cmath>
#include <limits>

#include "eval/prompts.h"

namespace medassist::eval {
namespace {

class ScriptedStream : public server::BackendStream {
 public:
  explicit ScriptedStream(std::vector<server::BackendEvent> events) : events_(std::move(events)) {}
  server::WaitResult Next(server::BackendEvent* event, std::chrono::milliseconds) override {
    if (next_ >= events_.size()) return server::WaitResult::kEnded;
    *event = events_[next_++];
    return server::WaitResult::kEvent;
  }
  void Cancel() override { next_ = events_.size(); }
  int32_t n_prompt_tokens() const override { return 0; }
  int32_t n_generated_tokens() const override { return 1; }

 private:
  std::vector<server::BackendEvent> events_;
  size_t next_ = 0;
};

}  // namespace

ScriptedBackend::ScriptedBackend(const std::vector<EvalItem>& items, Policy policy, uint64_t seed,
                                 bool echo)
    : policy_(policy), seed_(seed), echo_(echo) {
  for (const EvalItem& item : items) {
    by_generate_prompt_[BuildGeneratePrompt(item)] = item;
    by_context_[BuildLoglikelihoodPrompt(item).context] = item;
  }
}

int32_t ScriptedBackend::Choice(const EvalItem& item) const {
  switch (policy_) {
    case Policy::kAlwaysA:
      return 0;
    case Policy::kOracle:
      return item.answer_index;
    case Policy::kRandom:
      break;
  }
  uint64_t h = seed_ * 0x9E3779B97F4A7C15ULL + 17;
  for (char c : item.set + "/" + item.id)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return static_cast<int32_t>((h >> 33) % item.choices.size());
}

std::map<std::string, int64_t> ScriptedBackend::requests_per_item() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return per_item_;
}

Status ScriptedBackend::Refusal(const EvalItem& item) const {
  if (refused_.contains("*") || refused_.contains(item.set + "/" + item.id)) {
    return InvalidArgument("the prompt is longer than the context");
  }
  return Status::Ok();
}

Result<std::vector<server::BackendEvent>> ScriptedBackend::Answer(
    const server::BackendRequest& request) {
  server::BackendEvent done{
      .has_token = true, .finished = true, .reason = runtime::FinishReason::kEos};
  if (request.is_chat) {
    auto it = by_generate_prompt_.find(request.messages.back().content);
    if (it == by_generate_prompt_.end()) return InvalidArgument("unknown generate prompt");
    RETURN_IF_ERROR(Refusal(it->second));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++per_item_[it->second.set + "/" + it->second.id];
    }
    const std::string letter = OptionLetter(Choice(it->second));
    server::BackendEvent text{.text = "## Thinking\n\nOptions A and B look wrong.\n\n"};
    done.text = "## Final Response\n\nThe answer is (" + letter + ").";
    return std::vector<server::BackendEvent>{text, done};
  }
  // Log-likelihood: the context is the longest known context the prompt starts with.
  for (const auto& [context, item] : by_context_) {
    if (!request.prompt.starts_with(context)) continue;
    const std::string cont = request.prompt.substr(context.size());
    const LoglikelihoodPrompt p = BuildLoglikelihoodPrompt(item);
    int32_t index = -1;
    for (size_t i = 0; i < p.continuations.size(); ++i) {
      if (p.continuations[i] == cont) index = static_cast<int32_t>(i);
    }
    if (index < 0) continue;
    RETURN_IF_ERROR(Refusal(item));
    if (index == 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++per_item_[item.set + "/" + item.id];
    }
    if (!echo_) return std::vector<server::BackendEvent>{done};
    const size_t half = context.size() / 2;
    const float lp = index == Choice(item) ? -0.25f : -2.0f;
    done.prompt_tokens = {
        {.bytes = context.substr(0, half), .logprob = std::numeric_limits<float>::quiet_NaN()},
        {.bytes = context.substr(half), .logprob = -3.0f},
        {.bytes = " ", .logprob = -0.5f},
        {.bytes = cont.substr(1), .logprob = lp}};
    return std::vector<server::BackendEvent>{done};
  }
  return InvalidArgument("unknown log-likelihood prompt");
}

Result<std::unique_ptr<server::BackendStream>> ScriptedBackend::Start(
    const server::BackendRequest& request) {
  ++n_requests_;
  ASSIGN_OR_RETURN(std::vector<server::BackendEvent> events, Answer(request));
  return std::unique_ptr<server::BackendStream>(new ScriptedStream(std::move(events)));
}

}  // namespace medassist::eval
