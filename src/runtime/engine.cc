#include "runtime/engine.h"

#include <algorithm>

#include "core/log.h"

namespace medassist::runtime {

bool RequestStream::Next(StreamEvent* event) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (finished_read_) return false;
  ready_.wait(lock, [&] { return !events_.empty(); });
  *event = events_.front();
  events_.pop_front();
  finished_read_ = event->finished;
  return true;
}

StreamWait RequestStream::NextFor(StreamEvent* event, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (finished_read_) return StreamWait::kEnded;
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) {
    return StreamWait::kTimeout;
  }
  *event = events_.front();
  events_.pop_front();
  finished_read_ = event->finished;
  return StreamWait::kEvent;
}

void RequestStream::Push(const StreamEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(event);
  }
  ready_.notify_one();
}

Result<std::unique_ptr<Engine>> Engine::Start(const model::Model& model, model::Forward* forward,
                                              const EngineConfig& config) {
  ASSIGN_OR_RETURN(EngineCore core, EngineCore::Create(model, forward, config));
  std::unique_ptr<Engine> engine(new Engine(std::move(core)));
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

Engine::Engine(EngineCore core) : core_(std::move(core)) {}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Result<std::shared_ptr<RequestStream>> Engine::Submit(GenerationRequest request) {
  auto stream = std::make_shared<RequestStream>();
  std::promise<Status> accepted;
  std::future<Status> result = accepted.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return Internal("the engine is stopping");
    submissions_.push_back(
        {std::move(request), stream, &accepted, std::chrono::steady_clock::now()});
  }
  wake_.notify_all();
  RETURN_IF_ERROR(result.get());  // the engine thread ran EngineCore::Add
  return stream;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return metrics_.engine;
}

EngineMetrics Engine::metrics() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return metrics_;
}

void Engine::TakeSubmissions() {
  std::deque<Submission> taken;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    taken.swap(submissions_);
  }
  for (Submission& s : taken) {
    Result<int64_t> id = core_.Add(std::move(s.request));
    if (id.ok()) {
      s.stream->id_ = *id;
      streams_.push_back(s.stream);
      timing_[*id] = Timing{.submitted = s.submitted};
      s.accepted->set_value(Status::Ok());
    } else {
      s.accepted->set_value(id.status());
    }
  }
}

// Cancelled by the submitter, or abandoned (only the engine still holds the stream).
void Engine::ApplyCancellations() {
  for (const auto& s : streams_) {
    if (s->cancel_requested_.load() || s.use_count() == 1) core_.Cancel(s->id_);
  }
}

void Engine::Deliver(const std::vector<TokenEvent>& events) {
  const auto now = std::chrono::steady_clock::now();
  for (const TokenEvent& e : events) {
    if (e.has_token) {
      Timing& t = timing_[e.id];
      const auto since = t.has_token ? t.last_token : t.submitted;
      const double seconds = std::chrono::duration<double>(now - since).count();
      std::lock_guard<std::mutex> lock(mutex_);
      if (t.has_token) {
        metrics_.itl_seconds_sum += seconds;
        ++metrics_.itl_count;
      } else {
        metrics_.ttft_seconds_sum += seconds;
        ++metrics_.ttft_count;
      }
      t.has_token = true;
      t.last_token = now;
    }
    if (e.finished) timing_.erase(e.id);
    const auto it = std::find_if(streams_.begin(), streams_.end(),
                                 [&](const auto& s) { return s->id_ == e.id; });
    if (it == streams_.end()) continue;
    (*it)->Push(e);
    if (e.finished) streams_.erase(it);
  }
}

void Engine::Loop() {
  std::vector<TokenEvent> events;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !submissions_.empty() || !core_.idle(); });
      if (stopping_) break;
    }
    TakeSubmissions();
    ApplyCancellations();
    events.clear();
    const Status step = core_.Step(&events);
    if (!step.ok()) {
      // A failed forward pass is a bug or a broken model: end every live request with an error
      // rather than retry the same step forever.
      spdlog::error("engine step failed: {}", step.ToString());
      for (const auto& s : streams_) core_.Cancel(s->id_);
      events.clear();
      (void)core_.Step(&events);
      for (TokenEvent& e : events) e.reason = FinishReason::kError;
    }
    Deliver(events);
    std::lock_guard<std::mutex> lock(mutex_);
    metrics_.engine = core_.stats();
  }
  // Stopping: every live request ends.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Submission& s : submissions_) s.accepted->set_value(Internal("the engine stopped"));
    submissions_.clear();
  }
  for (const auto& s : streams_) {
    StreamEvent e{.id = s->id_, .finished = true, .reason = FinishReason::kCancelled};
    s->Push(e);
  }
  streams_.clear();
}

}  // namespace medassist::runtime
