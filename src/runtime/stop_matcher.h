// Stop strings over streamed text: the text of each new token goes in, the text that is safe to
// show comes out. A stop string may arrive split over several tokens ("\n\nUs" + "er:"), so the
// end of the text that could still be the start of a stop string is held back until the next
// piece decides it; a completed stop string ends the stream, and neither it nor anything after it
// is ever emitted (OpenAI's and vLLM's behaviour).
//
//   StopMatcher stop({"\nUser:", "</s>"});
//   for each token: { StopMatcher::Step s = stop.Feed(decoder.Add(id)); send(s.text);
//                     if (s.stopped) break; }
//   send(stop.Flush());  // at the end of generation without a stop
//
// Text in is valid UTF-8 (the streaming decoder's output); text out stays valid UTF-8, since a
// held-back suffix equals the start of a stop string and so starts on a character boundary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace medassist::runtime {

class StopMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  struct Step {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string completed: text ends just before it
  };
  Step Feed(std::string_view piece);
  // The held-back text, when generation ends for another reason.
  std::string Flush();

  // The longest stop string minus one: the most text ever held back.
  size_t max_holdback() const { return max_holdback_; }

 private:
  std::vector<std::string> stops_;
  size_t max_holdback_ = 0;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace medassist::runtime
