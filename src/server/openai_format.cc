#include "server/openai_format.h"

#include "server/generation_run.h"

#include <cmath>

namespace medassist::server {

using nlohmann::json;

namespace {

json Bytes(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

json NullIfEmpty(const std::string& s) { return s.empty() ? json() : json(s); }

}  // namespace

json UsageJson(int32_t n_prompt, int32_t n_completion) {
  return {{"prompt_tokens", n_prompt},
          {"completion_tokens", n_completion},
          {"total_tokens", n_prompt + n_completion}};
}

json ChatLogprobEntry(const BackendEvent& t) {
  json top = json::array();
  for (const auto& [bytes, lp] : t.top_logprobs) {
    top.push_back({{"token", bytes}, {"logprob", lp}, {"bytes", Bytes(bytes)}});
  }
  return {{"token", t.token_bytes},
          {"logprob", t.logprob},
          {"bytes", Bytes(t.token_bytes)},
          {"top_logprobs", std::move(top)}};
}

json ChatCompletionJson(const AnswerHeader& h, const std::vector<ChoiceResult>& choices,
                        bool logprobs, int32_t n_prompt, int32_t n_completion) {
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    json message = {{"role", "assistant"}, {"content", c.content}};
    if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
    json lp;
    if (logprobs) {
      json content = json::array();
      for (const BackendEvent& t : c.tokens) content.push_back(ChatLogprobEntry(t));
      lp = {{"content", std::move(content)}};
    }
    out_choices.push_back({{"index", i},
                           {"message", std::move(message)},
                           {"logprobs", std::move(lp)},
                           {"finish_reason", OpenAiFinishReason(c.reason)}});
  }
  return {{"id", h.id},
          {"object", "chat.completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", std::move(out_choices)},
          {"usage", UsageJson(n_prompt, n_completion)}};
}

json ChatChunkJson(const AnswerHeader& h, int32_t index, json delta, json logprobs,
                   const std::string& finish_reason) {
  return {{"id", h.id},
          {"object", "chat.completion.chunk"},
          {"created", h.created},
          {"model", h.model},
          {"choices", json::array({{{"index", index},
                                    {"delta", std::move(delta)},
                                    {"logprobs", std::move(logprobs)},
                                    {"finish_reason", NullIfEmpty(finish_reason)}}})}};
}

json CompletionLogprobs(const std::vector<PromptToken>& prompt_tokens,
                        const std::vector<BackendEvent>& tokens, size_t text_offset_base) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  size_t offset = prompt_tokens.empty() ? text_offset_base : 0;
  for (const PromptToken& t : prompt_tokens) {
    const bool first = std::isnan(t.logprob);
    out["tokens"].push_back(t.bytes);
    out["token_logprobs"].push_back(first ? json() : json(t.logprob));
    json top = json::object();
    for (const auto& [bytes, lp] : t.top) top[bytes] = lp;
    out["top_logprobs"].push_back(first ? json() : std::move(top));
    out["text_offset"].push_back(offset);
    offset += t.bytes.size();
  }
  for (const BackendEvent& t : tokens) {
    out["tokens"].push_back(t.token_bytes);
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const auto& [bytes, lp] : t.top_logprobs) top[bytes] = lp;
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += t.token_bytes.size();
  }
  return out;
}

json CompletionJson(const AnswerHeader& h, const std::vector<ChoiceResult>& choices,
                    const std::string& echo_prefix, bool logprobs, int32_t n_prompt,
                    int32_t n_completion) {
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    out_choices.push_back(
        {{"index", i},
         {"text", echo_prefix + c.content},
         {"logprobs",
          logprobs ? CompletionLogprobs(c.prompt_tokens, c.tokens, echo_prefix.size()) : json()},
         {"finish_reason", OpenAiFinishReason(c.reason)}});
  }
  return {{"id", h.id},
          {"object", "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", std::move(out_choices)},
          {"usage", UsageJson(n_prompt, n_completion)}};
}

json CompletionChunkJson(const AnswerHeader& h, int32_t index, const std::string& text,
                         json logprobs, const std::string& finish_reason) {
  return {{"id", h.id},
          {"object", "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", json::array({{{"index", index},
                                    {"text", text},
                                    {"logprobs", std::move(logprobs)},
                                    {"finish_reason", NullIfEmpty(finish_reason)}}})}};
}

}  // namespace medassist::server
