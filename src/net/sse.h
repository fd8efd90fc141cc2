// Server-sent events (the WHATWG "event stream" format), parsed incrementally from bytes as they
// arrive: TGI's /generate_stream and OpenAI-compatible streams both use it.
//
//   SseParser parser;
//   parser.Push(chunk, [](const SseEvent& e) { ... e.data ... });   // as many times as needed
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace medassist::net {

struct SseEvent {
  std::string event = {};  // the `event:` field ("" = "message")
  std::string data = {};   // `data:` lines joined with '\n'
  std::string id = {};
};

class SseParser {
 public:
  // Feeds bytes; calls on_event for each event completed by them (a blank line ends an event).
  // Returns false as soon as on_event does (the rest of the bytes are kept unparsed).
  bool Push(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event);
  // Bytes held that do not yet end a line, plus an event begun but not ended.
  bool has_partial() const { return !line_.empty() || has_fields_; }
  // Refuses to buffer more than this many bytes in one line (a server that never sends a newline).
  static constexpr size_t kMaxLineBytes = 8u << 20;
  bool overflowed() const { return overflowed_; }

 private:
  void TakeLine(std::string_view line);
  std::string line_;
  SseEvent current_;
  bool has_fields_ = false;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  bool overflowed_ = false;
};

}  // namespace medassist::net
