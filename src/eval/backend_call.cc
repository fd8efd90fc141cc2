#include "eval/backend_call.h"

#include <chrono>
#include <thread>

namespace medassist::eval {
namespace {

constexpr const char* kInterrupted = "interrupted";

bool Cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

}  // namespace

bool IsInterrupted(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.message() == kInterrupted;
}

Result<std::unique_ptr<server::BackendStream>> StartRequest(server::Backend& backend,
                                                            const server::BackendRequest& request,
                                                            const std::atomic<bool>* cancel) {
  auto wait = std::chrono::milliseconds(5);
  while (true) {
    if (Cancelled(cancel)) return Unavailable(kInterrupted);
    Result<std::unique_ptr<server::BackendStream>> s = backend.Start(request);
    if (s.ok() || s.status().code() != StatusCode::kResourceExhausted) return s;
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(500));
  }
}

Result<Completion> ReadToEnd(server::BackendStream& stream, const std::atomic<bool>* cancel) {
  Completion out;
  server::BackendEvent e;
  while (true) {
    if (Cancelled(cancel)) {
      stream.Cancel();
      return Unavailable(kInterrupted);
    }
    const server::WaitResult got = stream.Next(&e, std::chrono::milliseconds(200));
    if (got == server::WaitResult::kTimeout) continue;
    if (got == server::WaitResult::kEnded) break;
    out.text += e.text;
    for (server::PromptToken& t : e.prompt_tokens) out.prompt_tokens.push_back(std::move(t));
    if (!e.finished) continue;
    out.reason = e.reason;
    if (e.reason == runtime::FinishReason::kError) {
      const std::string what = e.error.empty() ? "the backend failed" : e.error;
      return e.error_status == 502 ? UpstreamError(what) : Internal(what);
    }
    break;
  }
  out.n_generated_tokens = stream.n_generated_tokens();
  return out;
}

}  // namespace medassist::eval
