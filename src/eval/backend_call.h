// One request to a server::Backend, read to its end: what both protocols send.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/backend.h"

namespace medassist::eval {

struct Completion {
  std::string text = {};                                // the generated text
  std::vector<server::PromptToken> prompt_tokens = {};  // when prompt_logprobs >= 0 was asked
  runtime::FinishReason reason = runtime::FinishReason::kLength;
  int32_t n_generated_tokens = 0;
};

// Starts request, waiting and retrying while the backend answers ResourceExhausted (at capacity).
// Other refusals are returned. Unavailable("interrupted") once *cancel is set.
Result<std::unique_ptr<server::BackendStream>> StartRequest(server::Backend& backend,
                                                            const server::BackendRequest& request,
                                                            const std::atomic<bool>* cancel);

// Reads stream to its finishing event. An error event becomes UpstreamError (a remote failed) or
// Internal; Unavailable("interrupted") once *cancel is set (the request is cancelled).
Result<Completion> ReadToEnd(server::BackendStream& stream, const std::atomic<bool>* cancel);

bool IsInterrupted(const Status& status);

}  // namespace medassist::eval
