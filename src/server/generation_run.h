// One generating request's way from the backend to the route: n choices started at once (each its
// own backend stream, all batched together by the engine), read one after the other, each event's
// text split into reasoning and answer (assistant/reasoning.h), and every wait bounded so that a
// client gone or a shutdown cancels the work within one poll interval.
//
//   ASSIGN_OR_RETURN(GenerationRun run, GenerationRun::Start(backend, fields, split, stop_check));
//   run.Drive([&](const ChoiceDelta& d) { ...; return written_ok; }, [&] { keep_alive(); });
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "assistant/reasoning.h"
#include "core/status.h"
#include "server/backend.h"
#include "server/requests.h"

namespace medassist::server {

// How each choice's text is split into reasoning and answer.
struct SplitSettings {
  bool enabled = false;  // chat routes with reasoning markers configured
  assistant::ReasoningMarkers markers = {};
  bool starts_in_reasoning = false;  // the prompt ended with the opening marker
};

// What one backend event became for one choice.
struct ChoiceDelta {
  int32_t index = 0;
  std::string content = {};
  std::string reasoning = {};
  BackendEvent event = {};  // the token (logprobs) and the finish
};

enum class RunOutcome {
  kDone,        // every choice finished
  kClientGone,  // the sink refused a write or the peer hung up: the work was cancelled
  kShutdown,    // the server is stopping: the work was cancelled
};

class GenerationRun {
 public:
  // Starts all choices; the first refusal (bad prompt, no capacity) cancels those started.
  static Result<GenerationRun> Start(Backend& backend, const GenerationFields& fields,
                                     const SplitSettings& split);

  // Reads every choice to its end. on_delta returns false when the client is gone (a failed
  // write). should_stop is asked at every event and every poll_interval while waiting (client
  // hung up, server stopping); on_idle is called on each wait without an event (keep-alives).
  RunOutcome Drive(const std::function<bool(const ChoiceDelta&)>& on_delta,
                   const std::function<std::optional<RunOutcome>()>& should_stop,
                   const std::function<void()>& on_idle, std::chrono::milliseconds poll_interval);

  int32_t n_prompt_tokens() const;
  int32_t n_generated_tokens() const;

 private:
  GenerationRun() = default;
  void CancelAll();

  std::vector<std::unique_ptr<BackendStream>> streams_;
  SplitSettings split_;
};

// OpenAI's finish_reason for a FinishReason: "stop" (EOS, stop string) or "length".
const char* OpenAiFinishReason(runtime::FinishReason reason);

}  // namespace medassist::server
