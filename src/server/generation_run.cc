#include "server/generation_run.h"

namespace medassist::server {

Result<GenerationRun> GenerationRun::Start(Backend& backend, const GenerationFields& fields,
                                           const SplitSettings& split) {
  GenerationRun run;
  run.split_ = split;
  for (int32_t i = 0; i < fields.n; ++i) {
    BackendRequest request = fields.backend;
    request.seed_offset = static_cast<uint64_t>(i);
    Result<std::unique_ptr<BackendStream>> stream = backend.Start(request);
    if (!stream.ok()) {
      run.CancelAll();
      return stream.status();
    }
    run.streams_.push_back(std::move(stream).value());
  }
  return run;
}

void GenerationRun::CancelAll() {
  for (auto& s : streams_) s->Cancel();
}

RunOutcome GenerationRun::Drive(const std::function<bool(const ChoiceDelta&)>& on_delta,
                                const std::function<std::optional<RunOutcome>()>& should_stop,
                                const std::function<void()>& on_idle,
                                std::chrono::milliseconds poll_interval) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    std::optional<assistant::ReasoningSplitter> splitter;
    if (split_.enabled) splitter.emplace(split_.markers, split_.starts_in_reasoning);
    for (;;) {
      if (std::optional<RunOutcome> stop = should_stop()) {
        CancelAll();
        return *stop;
      }
      ChoiceDelta d{.index = static_cast<int32_t>(i)};
      WaitResult got = streams_[i]->Next(&d.event, poll_interval);
      if (got == WaitResult::kEnded) break;
      if (got == WaitResult::kTimeout) {
        on_idle();
        continue;
      }
      if (splitter) {
        assistant::SplitDelta part = splitter->Push(d.event.text);
        if (d.event.finished) {
          assistant::SplitDelta rest = splitter->Finish();
          part.reasoning += rest.reasoning;
          part.content += rest.content;
        }
        d.reasoning = std::move(part.reasoning);
        d.content = std::move(part.content);
      } else {
        d.content = d.event.text;
      }
      if (!on_delta(d)) {
        CancelAll();
        return RunOutcome::kClientGone;
      }
      if (d.event.finished) break;
    }
  }
  return RunOutcome::kDone;
}

int32_t GenerationRun::n_prompt_tokens() const {
  return streams_.empty() ? 0 : streams_[0]->n_prompt_tokens();
}

int32_t GenerationRun::n_generated_tokens() const {
  int32_t n = 0;
  for (const auto& s : streams_) n += s->n_generated_tokens();
  return n;
}

const char* OpenAiFinishReason(runtime::FinishReason reason) {
  switch (reason) {
    case runtime::FinishReason::kLength:
    case runtime::FinishReason::kContext:
      return "length";
    default:
      return "stop";
  }
}

}  // namespace medassist::server
