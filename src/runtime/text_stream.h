// A request's events as text safe to show: each token goes through the incremental detokenizer
// (never half a UTF-8 character) and the stop strings (held back while they may still match,
// never emitted). A completed stop string ends the text with kStop and cancels the request in the
// engine, so no further step is spent on it.
//
//   TextStream text(std::move(stream), tokenizer, {"\nUser:"});
//   TextEvent e;
//   while (text.Next(&e)) { send(e.text); if (e.finished) finish(e.reason); }
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/stop_matcher.h"
#include "tokenizer/streaming_decoder.h"
#include "tokenizer/tokenizer.h"

namespace medassist::runtime {

struct TextEvent {
  std::string text = {};   // may be empty (a token still held back)
  bool has_token = false;  // the event of one generated token (token is valid)
  SampledToken token = {};
  std::vector<SampledToken> prompt_tokens = {};  // prompt logprobs (TokenEvent::prompt_tokens)
  bool finished = false;
  FinishReason reason = FinishReason::kLength;
};

class TextStream {
 public:
  // The tokenizer must outlive the stream.
  TextStream(std::shared_ptr<RequestStream> stream, const tokenizer::Tokenizer& tokenizer,
             std::vector<std::string> stops);
  // The next event; false after the finishing one.
  bool Next(TextEvent* event);
  // The same with a deadline (RequestStream::NextFor): kEnded after the finishing event.
  StreamWait NextFor(TextEvent* event, std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<RequestStream> stream_;
  tokenizer::StreamingDecoder decoder_;
  StopMatcher stop_;
  bool done_ = false;
  // The event of one engine event (e) through the decoder and the stop matcher.
  void Convert(const StreamEvent& e, TextEvent* event);
};

}  // namespace medassist::runtime
