// One client of `medassist load`: streaming /v1/chat/completions requests over one keep-alive
// connection, each timed the way a user sees it (time to first token, gaps between tokens).
// It speaks only the OpenAI wire protocol, so it measures any compatible server (ours,
// llama.cpp's).
//
//   LoadClient client(url, api_key);
//   StreamTiming t = client.StreamChat(ChatRequestBody(...));
//   if (!t.ok) report(t.error); else use(t.ttft_s, t.gaps_s, t.n_tokens_completion);
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medassist::apps {

using LoadClock = std::chrono::steady_clock;

// What one streaming request did. A request is ok when the status was 200, no event was an error or
// unparsable, and the stream ended with `data: [DONE]`.
struct StreamTiming {
  bool ok = false;
  std::string error;                 // why not ok
  bool transport_error = false;      // no HTTP answer at all (refused, reset, timed out)
  double ttft_s = -1;                // request sent -> first chunk with text; -1: none came
  double latency_s = 0;              // request sent -> end of the stream
  std::vector<double> gaps_s;        // between consecutive chunks with text
  int32_t n_chunks_text = 0;         // chunks whose delta carried content or reasoning_content
  int32_t n_tokens_completion = -1;  // usage.completion_tokens; -1 when the server sent no usage
  int32_t n_tokens_prompt = -1;      // usage.prompt_tokens; -1 when absent
};

// Parses a text/event-stream of chat.completion.chunk events as the bytes arrive, in any split.
class ChatStreamParser {
 public:
  explicit ChatStreamParser(LoadClock::time_point sent) : sent_(sent) {}

  // Bytes of the body as received at `now`.
  void Feed(std::string_view bytes, LoadClock::time_point now);
  // End of the body at `now`: fills latency and checks the stream was complete.
  StreamTiming Finish(LoadClock::time_point now);

 private:
  void OnEvent(std::string_view block, LoadClock::time_point now);
  void OnData(std::string_view data, LoadClock::time_point now);
  void Fail(std::string why);

  LoadClock::time_point sent_;
  std::optional<LoadClock::time_point> last_text_;
  std::string pending_;  // bytes of an event not yet ended by a blank line
  bool done_ = false;    // saw data: [DONE]
  StreamTiming t_;
};

// The JSON body of one streaming chat request (temperature 0, usage requested in the stream).
// `model` empty: the field is left out and the server uses its own.
std::string ChatRequestBody(const std::string& model, const std::string& system,
                            const std::string& user, int max_tokens);

class LoadClient {
 public:
  // url: http://HOST:PORT[/PREFIX]; the API is under PREFIX/v1/.
  LoadClient(const std::string& url, const std::string& api_key);

  bool valid() const { return http_.is_valid(); }
  // The first id GET /v1/models lists; nullopt when the route fails or lists none.
  std::optional<std::string> FirstModelId();
  StreamTiming StreamChat(const std::string& body);

 private:
  httplib::Client http_;
  std::string prefix_;
  httplib::Headers headers_;
};

}  // namespace medassist::apps
