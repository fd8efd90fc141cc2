#include "assistant/reasoning.h"

#include <algorithm>
#include <utility>

#include "core/check.h"

namespace medassist::assistant {
namespace {

struct Preset {
  std::string_view name;
  std::string_view open;
  std::string_view close;
};

constexpr Preset kPresets[] = {
    {"medical-o1", "## Thinking", "## Final Response"},
    {"brief", "Reasoning (brief):", "Final answer:"},
    {"none", "", ""},
};

// ASCII whitespace only: every byte of a multi-byte UTF-8 character is >= 0x80, so trimming
// never cuts a character.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view Trim(std::string_view s) { return TrimRight(TrimLeft(s)); }

bool HasOuterSpace(std::string_view s) {
  return !s.empty() && (IsSpace(s.front()) || IsSpace(s.back()));
}

std::string PresetList() {
  std::string list;
  for (const Preset& p : kPresets) {
    if (!list.empty()) list += ", ";
    list += p.name;
  }
  return list;
}

// Where the held-back tail of `pending` starts: the longest suffix that is a proper prefix of
// `close`, extended back over the whitespace before it (dropped if the marker does follow). The
// suffix starts with close[0], which is not whitespace, so the two parts never overlap.
size_t HoldBackStart(std::string_view pending, std::string_view close) {
  size_t k = std::min(close.size() - 1, pending.size());
  while (k > 0 && !pending.ends_with(close.substr(0, k))) --k;
  size_t start = pending.size() - k;
  while (start > 0 && IsSpace(pending[start - 1])) --start;
  return start;
}

}  // namespace

const std::vector<std::string>& ReasoningPresetNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const Preset& p : kPresets) names.emplace_back(p.name);
    return names;
  }();
  return kNames;
}

Result<ReasoningMarkers> ReasoningPreset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (p.name == name) return ReasoningMarkers{std::string(p.open), std::string(p.close)};
  }
  return InvalidArgument("unknown reasoning preset \"" + std::string(name) +
                         "\"; accepted presets: " + PresetList());
}

Result<ReasoningMarkers> ParseReasoningMarkers(std::string_view spec) {
  const std::string_view trimmed = Trim(spec);
  const std::string hint = "give a preset (" + PresetList() + ") or \"OPEN|CLOSE\"";
  if (trimmed.empty()) return InvalidArgument("empty reasoning marker spec; " + hint);
  const size_t bar = trimmed.find('|');
  if (bar == std::string_view::npos) {
    Result<ReasoningMarkers> preset = ReasoningPreset(trimmed);
    if (!preset.ok()) return InvalidArgument(preset.status().message() + ", or \"OPEN|CLOSE\"");
    return preset;
  }
  if (trimmed.find('|', bar + 1) != std::string_view::npos) {
    return InvalidArgument("reasoning marker spec \"" + std::string(spec) +
                           "\" has more than one '|'; expected exactly one, as in \"OPEN|CLOSE\"");
  }
  ReasoningMarkers markers{std::string(Trim(trimmed.substr(0, bar))),
                           std::string(Trim(trimmed.substr(bar + 1)))};
  if (markers.open.empty() || markers.close.empty()) {
    return InvalidArgument("reasoning marker spec \"" + std::string(spec) +
                           "\": both markers of \"OPEN|CLOSE\" must be non-empty; " + hint);
  }
  return markers;
}

ReasoningSplitter::ReasoningSplitter(ReasoningMarkers markers, bool starts_in_reasoning)
    : markers_(std::move(markers)) {
  // The start state skips whitespace before comparing with the opening marker, and the hold-back
  // relies on the closing marker not starting with whitespace (see HoldBackStart).
  CHECK(!HasOuterSpace(markers_.open) && !HasOuterSpace(markers_.close))
      << "reasoning markers must be trimmed (ParseReasoningMarkers does it)";
  CHECK(markers_.open.empty() || !markers_.close.empty())
      << "a reasoning split needs a closing marker";
  if (markers_.open.empty()) {
    state_ = State::kContent;
  } else {
    state_ = starts_in_reasoning ? State::kReasoningLead : State::kStart;
  }
}

SplitDelta ReasoningSplitter::Push(std::string_view text) {
  CHECK(!finished_) << "ReasoningSplitter::Push after Finish";
  SplitDelta out;
  // Every step either consumes all of `text` or moves to a later state.
  while (!text.empty()) {
    switch (state_) {
      case State::kStart:
        text = PushStart(text, out);
        break;
      case State::kReasoningLead:
        text = SkipLeadingSpace(text, State::kReasoning);
        break;
      case State::kReasoning:
        text = PushReasoning(text, out);
        break;
      case State::kContentLead:
        text = SkipLeadingSpace(text, State::kContent);
        break;
      case State::kContent:
        out.content.append(text);
        text = {};
        break;
    }
  }
  return out;
}

SplitDelta ReasoningSplitter::Finish() {
  SplitDelta out;
  if (finished_) return out;
  finished_ = true;
  if (state_ == State::kStart) {
    out.content = std::move(pending_);  // a proper prefix of the opening marker: a direct answer
  } else if (state_ == State::kReasoning) {
    out.reasoning = std::string(TrimRight(pending_));  // no closing marker: all of it is reasoning
  }
  pending_.clear();
  return out;
}

// pending_ holds the non-whitespace text so far, a proper prefix of the opening marker.
std::string_view ReasoningSplitter::PushStart(std::string_view text, SplitDelta& out) {
  if (pending_.empty()) text = TrimLeft(text);  // leading whitespace of the output is dropped
  if (text.empty()) return text;
  const std::string_view head = text.substr(0, markers_.open.size() - pending_.size());
  const std::string candidate = pending_ + std::string(head);
  if (!std::string_view(markers_.open).starts_with(candidate)) {
    out.content.append(pending_);  // a direct answer: all the rest is content
    pending_.clear();
    state_ = State::kContent;
    return text;
  }
  if (candidate.size() < markers_.open.size()) {
    pending_ = candidate;  // still undecided; head was all of text
    return {};
  }
  pending_.clear();
  state_ = State::kReasoningLead;
  return text.substr(head.size());
}

// pending_ holds the held-back tail of the reasoning; it never contains the whole closing marker.
std::string_view ReasoningSplitter::PushReasoning(std::string_view text, SplitDelta& out) {
  const size_t n_old = pending_.size();
  pending_.append(text);
  const size_t at = pending_.find(markers_.close);
  if (at != std::string::npos) {
    out.reasoning.append(TrimRight(std::string_view(pending_).substr(0, at)));
    // The marker ends inside the new text, since the old pending_ did not contain it.
    const size_t rest = at + markers_.close.size() - n_old;
    pending_.clear();
    state_ = State::kContentLead;
    return text.substr(rest);
  }
  const size_t hold = HoldBackStart(pending_, markers_.close);
  out.reasoning.append(pending_, 0, hold);
  pending_.erase(0, hold);
  return {};
}

std::string_view ReasoningSplitter::SkipLeadingSpace(std::string_view text, State next) {
  text = TrimLeft(text);
  if (!text.empty()) state_ = next;
  return text;
}

SplitDelta SplitReasoning(std::string_view text, const ReasoningMarkers& markers,
                          bool starts_in_reasoning) {
  ReasoningSplitter splitter(markers, starts_in_reasoning);
  SplitDelta out = splitter.Push(text);
  SplitDelta last = splitter.Finish();
  out.reasoning += last.reasoning;
  out.content += last.content;
  return out;
}

bool OpensReasoning(std::string_view output, const ReasoningMarkers& markers) {
  return !markers.open.empty() && TrimLeft(output).starts_with(markers.open);
}

bool MayStartWithOpenMarker(std::string_view text_so_far, const ReasoningMarkers& markers) {
  if (markers.open.empty()) return false;
  const std::string_view text = TrimLeft(text_so_far);
  return text.starts_with(markers.open) || std::string_view(markers.open).starts_with(text);
}

}  // namespace medassist::assistant
