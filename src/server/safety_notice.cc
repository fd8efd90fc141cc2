#include "server/safety_notice.h"

#include <spdlog/spdlog.h>

namespace medassist::server {
namespace {

using assistant::SafetyAssessment;
using nlohmann::json;

json SafetyObject(const SafetyAssessment& a) {
  json o = {{"urgency", std::string(assistant::UrgencyName(a.urgency))}};
  if (a.urgency != SafetyAssessment::Urgency::kEmergency) return o;
  o["category"] = a.category;
  json signals = json::array();
  for (const assistant::SafetySignal& s : a.signals) {
    signals.push_back({{"signal", s.signal}, {"rule", s.rule}, {"matched_text", s.matched_text}});
  }
  o["signals"] = std::move(signals);
  return o;
}

void LogEmergency(const SafetyAssessment& a) {
  std::string names;
  for (const assistant::SafetySignal& s : a.signals)
    names += (names.empty() ? "" : ", ") + s.signal;
  spdlog::warn("red flag: {} ({}); the answer begins with the escalation", a.category, names);
}

}  // namespace

std::optional<SafetyNotice> ChatSafetyNotice(const ServerOptions& options,
                                             std::span<const tokenizer::ChatMessage> messages) {
  if (!options.safety) return std::nullopt;
  SafetyAssessment a = options.safety->Assess(messages);
  switch (a.urgency) {
    case SafetyAssessment::Urgency::kNone:
      return std::nullopt;
    case SafetyAssessment::Urgency::kPersonal:
      if (!options.safety_disclaimers || a.disclaimer.empty()) return std::nullopt;
      return SafetyNotice{.object = SafetyObject(a), .suffix = "\n\n" + a.disclaimer};
    case SafetyAssessment::Urgency::kEmergency:
      LogEmergency(a);
      return SafetyNotice{.object = SafetyObject(a), .prefix = a.escalation + "\n\n"};
  }
  return std::nullopt;
}

std::optional<SafetyNotice> PromptSafetyNotice(const ServerOptions& options,
                                               const std::string& prompt, bool generate_route) {
  if (!options.safety) return std::nullopt;
  SafetyAssessment a = options.safety->AssessText(prompt);
  if (a.urgency != SafetyAssessment::Urgency::kEmergency) return std::nullopt;
  LogEmergency(a);
  SafetyNotice n{.object = SafetyObject(a)};
  if (generate_route && options.safety_prefix_generate) n.prefix = a.escalation + "\n\n";
  return n;
}

}  // namespace medassist::server
