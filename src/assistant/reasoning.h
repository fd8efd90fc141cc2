// The reasoning split: a reasoning model either answers directly or writes its reasoning between
// an opening and a closing marker and then the final answer. The server sends the answer as
// OpenAI's `content` and the reasoning as `reasoning_content`, also while streaming, when a marker
// may arrive cut over several tokens ("## Fin" + "al Response").
//
//   ASSIGN_OR_RETURN(ReasoningMarkers markers, ParseReasoningMarkers("medical-o1"));
//   ReasoningSplitter split(markers);
//   for each piece of text: { SplitDelta d = split.Push(piece); send(d.reasoning, d.content); }
//   SplitDelta last = split.Finish();  // what was held back
//
// Contract of the split (any chunking of the same text gives the same concatenated result as one
// Push of the whole text; SplitReasoning below is that whole-text form):
// - The first non-whitespace text decides. If it is the opening marker, everything up to the
//   closing marker is reasoning and everything after it is content. Otherwise the model answered
//   directly: all of it is content and markers are not looked for any more (a "## Thinking" inside
//   an answer stays content). Leading whitespace of the output is dropped in both cases.
// - The markers never appear in either output. Whitespace right after the opening marker, right
//   before the closing marker and right after the closing marker is dropped.
// - Output that ends inside the reasoning (no closing marker: the model hit max_tokens or a stop)
//   is all reasoning, trailing whitespace dropped, and the content is empty.
// - Only what may still be part of the closing marker, or whitespace that may precede it, is held
//   back; everything else comes out at once. Held-back text always starts with a marker's first
//   byte or with ASCII whitespace, so whole UTF-8 characters in give whole characters out.
// - With no opening marker (preset "none") the text passes through unchanged as content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::assistant {

// Markers have no leading or trailing whitespace (ParseReasoningMarkers trims them). An empty
// `open` means no reasoning split; otherwise `close` must be non-empty too.
struct ReasoningMarkers {
  std::string open;
  std::string close;
};

// Presets by name:
//   "medical-o1"  "## Thinking" / "## Final Response": the format of FreedomIntelligence's
//                 medical-o1-reasoning-SFT data,
//                 "## Thinking\n\n{CoT}\n\n## Final Response\n\n{answer}".
//   "brief"       "Reasoning (brief):" / "Final answer:": the original fine-tune's format. Its
//                 closing marker is our assumption, not confirmed against that fine-tune's data;
//                 give "Reasoning (brief):|YOUR CLOSE" to override it.
//   "none"        no split: everything is content.
// Unknown names are InvalidArgument, naming the accepted presets.
Result<ReasoningMarkers> ReasoningPreset(std::string_view name);
// The accepted preset names, in the order above (for help texts).
const std::vector<std::string>& ReasoningPresetNames();

// A preset name, or "OPEN|CLOSE" with exactly one '|' and both markers non-empty after trimming
// whitespace ("<think>|</think>"). Markers that themselves contain '|' cannot be given this way.
Result<ReasoningMarkers> ParseReasoningMarkers(std::string_view spec);

struct SplitDelta {
  std::string reasoning;
  std::string content;

  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningSplitter {
 public:
  // starts_in_reasoning: the prompt already ends with the opening marker (the request pre-filled
  // the assistant turn to force reasoning), so the output begins inside the reasoning. Ignored when
  // markers.open is empty.
  explicit ReasoningSplitter(ReasoningMarkers markers, bool starts_in_reasoning = false);

  // The text of the next piece of output; returns what is decided so far and not yet returned.
  SplitDelta Push(std::string_view text);
  // End of output: returns what was held back. No Push after Finish.
  SplitDelta Finish();

 private:
  enum class State {
    kStart,          // nothing but whitespace yet, or a prefix of the opening marker
    kReasoningLead,  // just after the opening marker: whitespace is dropped
    kReasoning,      // inside the reasoning, looking for the closing marker
    kContentLead,    // just after the closing marker: whitespace is dropped
    kContent,        // the rest is content, unchanged
  };

  // Each consumes what it can of `text` into `out`, possibly changes state_, and returns the part
  // of `text` left for the next state.
  std::string_view PushStart(std::string_view text, SplitDelta& out);
  std::string_view PushReasoning(std::string_view text, SplitDelta& out);
  std::string_view SkipLeadingSpace(std::string_view text, State next);

  ReasoningMarkers markers_;
  State state_;
  std::string pending_;  // held back: a possible marker prefix, and whitespace before it
  bool finished_ = false;
};

// The whole-text form: one Push of `text`, then Finish.
SplitDelta SplitReasoning(std::string_view text, const ReasoningMarkers& markers,
                          bool starts_in_reasoning = false);

// For `reasoning: "off"`, where the server keeps the model from opening a reasoning section.
// Both are false when markers.open is empty; leading whitespace of the output is skipped.
// OpensReasoning: the output begins with the opening marker (a candidate token that makes this
// true is to be refused).
bool OpensReasoning(std::string_view output, const ReasoningMarkers& markers);
// MayStartWithOpenMarker: the output so far is a prefix of the opening marker (or empty) or begins
// with it, so later tokens may still open a section; once false it stays false and the server can
// stop checking.
bool MayStartWithOpenMarker(std::string_view text_so_far, const ReasoningMarkers& markers);

}  // namespace medassist::assistant
