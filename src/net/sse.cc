#include "net/sse.h"

namespace medassist::net {

// Lines end with "\r\n", "\n" or "\r"; fields are "name: value" (one optional space after the
// colon); lines starting with ':' are comments (keep-alives); a blank line dispatches the event.
bool SseParser::Push(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\n' && last_was_cr_) {  // the second half of "\r\n"
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c != '\n' && c != '\r') {
      if (line_.size() >= kMaxLineBytes) {
        overflowed_ = true;
        return false;
      }
      line_.push_back(c);
      continue;
    }
    if (!line_.empty()) {
      TakeLine(line_);
      line_.clear();
      continue;
    }
    if (!has_fields_) continue;
    SseEvent event = std::move(current_);
    current_ = {};
    has_fields_ = false;
    has_data_ = false;
    if (!on_event(event)) return false;
  }
  return true;
}

void SseParser::TakeLine(std::string_view line) {
  if (line.front() == ':') return;
  size_t colon = line.find(':');
  std::string_view name = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (name == "event") {
    current_.event = std::string(value);
  } else if (name == "id") {
    current_.id = std::string(value);
  } else {
    return;  // retry and unknown fields are ignored
  }
  has_fields_ = true;
}

}  // namespace medassist::net
