// The red-flag check (assistant/safety.h) as the routes apply it, before generation on every
// request whatever the backend:
//   chat, emergency: the answer begins with the escalation (a content delta of its own when
//                    streamed, before any model token) and the response carries `safety`;
//   chat, personal:  the short disclaimer closes the answer (unless disclaimers are off);
//   /v1/generate and /v1/completions: the `safety` object only; the text stays as the model wrote
//                    it unless the deployment asks for the escalation prefix on /v1/generate.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <span>
#include <string>

#include "assistant/safety.h"
#include "server/server.h"

namespace medassist::server {

struct SafetyNotice {
  nlohmann::json object = {};  // {"urgency", "category", "signals": [{signal, rule, matched_text}]}
  std::string prefix = {};     // put before the answer's text ("" for none)
  std::string suffix = {};     // put after it ("" for none)
};

// nullopt when the check is off, or for a general question (nothing to add).
std::optional<SafetyNotice> ChatSafetyNotice(const ServerOptions& options,
                                             std::span<const tokenizer::ChatMessage> messages);
// For raw prompts: the object, and the prefix only on /v1/generate when the deployment asks.
std::optional<SafetyNotice> PromptSafetyNotice(const ServerOptions& options,
                                               const std::string& prompt, bool generate_route);

}  // namespace medassist::server
