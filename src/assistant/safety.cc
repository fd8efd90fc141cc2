#include "assistant/safety.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/file.h"

namespace medassist::assistant {
namespace {

constexpr size_t kMaxRulesFileBytes = size_t{4} << 20;

// The start of the last max_words space-separated words of text.
size_t LastWordsStart(std::string_view text, int max_words) {
  size_t pos = text.size();
  int words = 0;
  while (pos > 0 && words < max_words) {
    while (pos > 0 && text[pos - 1] == ' ') --pos;
    if (pos == 0) break;
    while (pos > 0 && text[pos - 1] != ' ') --pos;
    ++words;
  }
  return pos;
}

}  // namespace

// Which signals are present, computed on first use: most messages need only a few of them.
class SafetyPolicy::SignalCache {
 public:
  explicit SignalCache(size_t n) : state_(n, kUnknown), matched_(n) {}
  template <typename Find>
  bool Present(int index, Find&& find) {
    if (state_[index] == kUnknown) {
      state_[index] = find(index, matched_[index]) ? kPresent : kAbsent;
    }
    return state_[index] == kPresent;
  }
  const std::string& matched(int index) const { return matched_[index]; }

 private:
  enum State : int8_t { kUnknown, kAbsent, kPresent };
  std::vector<State> state_;
  std::vector<std::string> matched_;
};

std::string_view UrgencyName(SafetyAssessment::Urgency urgency) {
  switch (urgency) {
    case SafetyAssessment::Urgency::kNone:
      return "none";
    case SafetyAssessment::Urgency::kPersonal:
      return "personal";
    case SafetyAssessment::Urgency::kEmergency:
      return "emergency";
  }
  return "none";
}

Result<SafetyPolicy> SafetyPolicy::FromJson(std::string_view json_text, std::string_view source) {
  ASSIGN_OR_RETURN(SafetyRules rules, ParseSafetyRules(json_text, source));
  return SafetyPolicy(std::move(rules));
}

Result<SafetyPolicy> SafetyPolicy::Load(const std::string& path) {
  if (!FileExists(path)) {
    return NotFound("safety rules file " + path +
                    " not found (give a readable JSON file, or "
                    "leave the option unset for the shipped rules)");
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxRulesFileBytes));
  return FromJson(text, path);
}

Result<SafetyPolicy> SafetyPolicy::Default() {
  // Compiled once; copies share the compiled patterns.
  static const Result<SafetyPolicy> policy = FromJson(DefaultSafetyRulesJson(), "default rules");
  return policy;
}

std::string SafetyPolicy::Normalize(std::string_view text) const {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const SafetyNormalizeStep& step : rules_.normalize) {
    Result<std::string> replaced = step.pattern.ReplaceAll(out, step.replace);
    if (replaced.ok()) out = std::move(replaced).value();  // load checked the replacement
  }
  size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return {};
  return out.substr(begin, out.find_last_not_of(' ') - begin + 1);
}

bool SafetyPolicy::IsNegated(std::string_view norm, size_t match_begin) const {
  const SafetyNegation& neg = rules_.negation;
  std::string_view prefix = norm.substr(0, match_begin);
  std::vector<RegexMatch> breaks = neg.clause_break.FindAll(prefix);
  std::string_view clause = prefix.substr(breaks.empty() ? 0 : breaks.back().end);
  std::string window(clause.substr(LastWordsStart(clause, neg.window_words)));
  if (neg.pseudo.valid()) {
    for (const RegexMatch& m : neg.pseudo.FindAll(window)) {
      window.replace(m.begin, m.end - m.begin, m.end - m.begin, ' ');
    }
  }
  return neg.cue.Contains(window);
}

bool SafetyPolicy::FindSignal(int index, std::string_view norm, std::string& matched) const {
  for (const RegexMatch& m : rules_.signals[index].pattern.FindAll(norm)) {
    if (IsNegated(norm, m.begin)) continue;
    matched = std::string(norm.substr(m.begin, m.end - m.begin));
    return true;
  }
  return false;
}

const SafetyCategory* SafetyPolicy::FirstFiringCategory(std::string_view norm, SignalCache& cache,
                                                        std::vector<SafetySignal>& signals) const {
  auto present = [&](int index) {
    return cache.Present(index,
                         [&](int i, std::string& matched) { return FindSignal(i, norm, matched); });
  };
  auto fires = [&](const SafetyRule& rule) {
    return std::all_of(rule.when.begin(), rule.when.end(), [&](const std::vector<int>& group) {
      return std::any_of(group.begin(), group.end(), present);
    });
  };
  for (const SafetyCategory& category : rules_.categories) {
    for (const SafetyRule& rule : category.rules) {
      if (!fires(rule)) continue;
      for (const std::vector<int>& group : rule.when) {
        for (int index : group) {
          if (!present(index)) continue;
          signals.push_back(
              {category.name, rule.name, rules_.signals[index].name, cache.matched(index)});
        }
      }
    }
    if (!signals.empty()) return &category;  // categories are in priority order
  }
  return nullptr;
}

SafetyAssessment SafetyPolicy::AssessText(std::string_view text) const {
  const std::string norm = Normalize(text);
  SignalCache cache(rules_.signals.size());
  SafetyAssessment out;
  const SafetyCategory* fired = FirstFiringCategory(norm, cache, out.signals);

  bool not_personal = false;
  for (const SafetySuppressor& s : rules_.suppressors) {
    bool applies = s.categories.empty() ||
                   (fired != nullptr && std::find(s.categories.begin(), s.categories.end(),
                                                  fired->name) != s.categories.end());
    if (!applies || !s.pattern.Contains(norm)) continue;
    if (s.unless.valid() && s.unless.Contains(norm)) continue;
    not_personal = not_personal || s.not_personal;
    if (fired != nullptr) out.suppressed_by.push_back(s.name);
  }

  if (fired != nullptr && out.suppressed_by.empty()) {
    out.urgency = SafetyAssessment::Urgency::kEmergency;
    out.category = fired->name;
    out.escalation = fired->escalation;
    return out;
  }
  out.signals.clear();
  if (!not_personal && rules_.personal.Contains(norm)) {
    out.urgency = SafetyAssessment::Urgency::kPersonal;
    out.disclaimer = rules_.personal_disclaimer;
  } else {
    out.disclaimer = rules_.general_disclaimer;
  }
  return out;
}

SafetyAssessment SafetyPolicy::Assess(std::span<const tokenizer::ChatMessage> conversation) const {
  std::optional<size_t> latest;
  std::optional<size_t> previous;
  for (size_t i = conversation.size(); i-- > 0;) {
    if (conversation[i].role != "user") continue;
    if (!latest) {
      latest = i;
    } else {
      previous = i;
      break;
    }
  }
  if (!latest) {
    SafetyAssessment none;
    none.disclaimer = rules_.general_disclaimer;
    return none;
  }
  SafetyAssessment last = AssessText(conversation[*latest].content);
  if (last.urgency == SafetyAssessment::Urgency::kEmergency || !previous) return last;
  const std::string& before = conversation[*previous].content;
  if (AssessText(before).urgency == SafetyAssessment::Urgency::kEmergency) return last;
  // ". " keeps a negation in the first message from reaching into the second.
  SafetyAssessment joined = AssessText(before + ". " + conversation[*latest].content);
  return joined.urgency == SafetyAssessment::Urgency::kEmergency ? joined : last;
}

}  // namespace medassist::assistant
