// The engine thread (DESIGN §1): one thread owns the model and the EngineCore; other threads
// (the server's HTTP workers) submit requests and read each request's events from its stream as
// they are produced. Cancellation travels back along the stream: Cancel(), or dropping the last
// reference to it (a client that went away), ends the request within one step.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Start(model, &forward, config));
//   ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream, engine->Submit(request));
//   StreamEvent e;
//   while (stream->Next(&e)) { if (e.has_token) ...; }   // false once the request has ended
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/engine_core.h"

namespace medassist::runtime {

using StreamEvent = TokenEvent;

// What a timed wait on a stream found.
enum class StreamWait { kEvent, kTimeout, kEnded };

// One request's events, written by the engine thread, read by the submitter.
class RequestStream {
 public:
  // Waits for the next event; false after the finishing event has been read.
  bool Next(StreamEvent* event);
  // Waits at most timeout: kEvent (event set), kTimeout, or kEnded (the finishing event was read
  // before). Lets a server send keep-alives and notice a client gone while it waits.
  StreamWait NextFor(StreamEvent* event, std::chrono::milliseconds timeout);
  // Asks the engine to end the request (a kCancelled event follows, unless it ended already).
  void Cancel() { cancel_requested_.store(true); }
  int64_t id() const { return id_; }

 private:
  friend class Engine;
  void Push(const StreamEvent& event);

  int64_t id_ = -1;
  std::atomic<bool> cancel_requested_{false};
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamEvent> events_;
  bool finished_read_ = false;
};

// What the server exports (Prometheus-style sums and counts, so it can show rates and means).
struct EngineMetrics {
  EngineStats engine;
  double ttft_seconds_sum = 0;  // submission to first token
  int64_t ttft_count = 0;
  double itl_seconds_sum = 0;  // between consecutive tokens of one request
  int64_t itl_count = 0;
};

class Engine {
 public:
  // forward: the fast path, or nullptr for ForwardReference; both must outlive the engine.
  static Result<std::unique_ptr<Engine>> Start(const model::Model& model, model::Forward* forward,
                                               const EngineConfig& config);
  // Stops the thread; requests still waiting or running end with kCancelled.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request and returns its stream; the errors of EngineCore::Add (bad request, or one
  // the KV cache could never hold) come back here, before any stream exists.
  Result<std::shared_ptr<RequestStream>> Submit(GenerationRequest request);
  // A snapshot, updated after every step.
  EngineStats stats() const;
  EngineMetrics metrics() const;

 private:
  explicit Engine(EngineCore core);
  void Loop();
  // Engine thread: adds the submissions, cancels abandoned or cancelled requests.
  void TakeSubmissions();
  void ApplyCancellations();
  void Deliver(const std::vector<TokenEvent>& events);

  struct Submission {
    GenerationRequest request;
    std::shared_ptr<RequestStream> stream;
    std::promise<Status>* accepted;
    std::chrono::steady_clock::time_point submitted;
  };
  // Engine thread: when each live request was submitted and last produced a token.
  struct Timing {
    std::chrono::steady_clock::time_point submitted = {}, last_token = {};
    bool has_token = false;
  };

  EngineCore core_;                                      // engine thread only
  std::vector<std::shared_ptr<RequestStream>> streams_;  // engine thread only: live requests
  std::unordered_map<int64_t, Timing> timing_;           // engine thread only

  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable wake_;
  std::deque<Submission> submissions_;
  bool stopping_ = false;
  EngineMetrics metrics_;

  std::thread thread_;
};

}  // namespace medassist::runtime
