#include "runtime/text_stream.h"

namespace medassist::runtime {

TextStream::TextStream(std::shared_ptr<RequestStream> stream, const tokenizer::Tokenizer& tokenizer,
                       std::vector<std::string> stops)
    : stream_(std::move(stream)), decoder_(tokenizer), stop_(std::move(stops)) {}

bool TextStream::Next(TextEvent* event) {
  if (done_) return false;
  StreamEvent e;
  if (!stream_->Next(&e)) {
    done_ = true;
    return false;
  }
  Convert(e, event);
  return true;
}

StreamWait TextStream::NextFor(TextEvent* event, std::chrono::milliseconds timeout) {
  if (done_) return StreamWait::kEnded;
  StreamEvent e;
  StreamWait got = stream_->NextFor(&e, timeout);
  if (got == StreamWait::kEnded) done_ = true;
  if (got != StreamWait::kEvent) return got;
  Convert(e, event);
  return StreamWait::kEvent;
}

void TextStream::Convert(const StreamEvent& e, TextEvent* event) {
  *event = TextEvent{.has_token = e.has_token, .token = e.token, .prompt_tokens = e.prompt_tokens};
  if (e.has_token) {
    StopMatcher::Step step = stop_.Feed(decoder_.Add(e.token.id));
    event->text = std::move(step.text);
    if (step.stopped) {
      stream_->Cancel();  // the engine's own kCancelled event is never read
      event->finished = true;
      event->reason = FinishReason::kStop;
      done_ = true;
      return;
    }
  }
  if (e.finished) {
    // The end: what the decoder and the stop matcher held back, through the matcher once more.
    StopMatcher::Step step = stop_.Feed(decoder_.Flush());
    event->text += step.text;
    event->finished = true;
    event->reason = step.stopped ? FinishReason::kStop : e.reason;
    if (!step.stopped) event->text += stop_.Flush();
    done_ = true;
  }
}

}  // namespace medassist::runtime
