#include "server/requests.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "server/json_fields.h"

namespace medassist::server {
namespace {

using nlohmann::json;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

int64_t MaxTokensLimit(const RequestLimits& limits) {
  return limits.context > 0 ? limits.context : kInt32Max;
}

// logit_bias: {"token id": bias in [-100, 100], ...}.
void ReadLogitBias(FieldReader& f, const RequestLimits& limits, BackendRequest* b) {
  const json* v = f.Raw("logit_bias");
  if (v == nullptr) return;
  if (!v->is_object())
    return f.Fail("logit_bias", "'logit_bias' must be an object of token id -> bias");
  const int64_t vocab = limits.vocab_size > 0 ? limits.vocab_size : kInt32Max;
  for (const auto& [key, bias] : v->items()) {
    int64_t id = -1;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0 || id >= vocab) {
      return f.Fail(
          "logit_bias",
          fmt::format("'logit_bias' key \"{}\" is not a token id in [0, {})", key, vocab));
    }
    if (!bias.is_number() || !(bias.get<double>() >= -100.0 && bias.get<double>() <= 100.0)) {
      // An array or object is named, not dumped: dump() recurses, and a body nested a million
      // levels deep would overflow the stack.
      std::string got = bias.is_structured() ? bias.type_name() : bias.dump();
      return f.Fail("logit_bias", fmt::format("'logit_bias' value for {} must be a number in "
                                              "[-100, 100]; got {}",
                                              key, got));
    }
    b->logit_bias.emplace_back(static_cast<int32_t>(id), bias.get<float>());
  }
}

void ReadStreamFields(FieldReader& f, GenerationFields* g) {
  g->stream = f.Bool("stream").value_or(false);
  const json* options = f.Raw("stream_options");
  if (options == nullptr) return;
  if (!g->stream) {
    return f.Fail("stream_options", "'stream_options' is only allowed when 'stream' is true");
  }
  if (!options->is_object()) return f.Fail("stream_options", "'stream_options' must be an object");
  FieldReader o(*options, "stream_options.");
  g->include_usage = o.Bool("include_usage").value_or(false);
  if (o.error()) f.Fail("stream_options", o.error()->message);
}

// The sampling fields every generating route accepts (max tokens are read by each route).
void ReadSampling(FieldReader& f, const RequestLimits& limits, GenerationFields* g) {
  runtime::SamplingOverrides& s = g->backend.request;
  if (auto v = f.Number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = f.Number("top_p", 0, 1)) {
    // top_p 0 (allowed by OpenAI) keeps only the most probable token.
    if (*v == 0.0) {
      s.top_k = 1;
    } else {
      s.top_p = static_cast<float>(*v);
    }
  }
  if (auto v = f.Integer("top_k", -1, kInt32Max)) {
    if (!s.top_k) s.top_k = static_cast<int32_t>(std::max<int64_t>(*v, 0));  // -1: off (vLLM)
  }
  if (auto v = f.Number("min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = f.Number("repetition_penalty", 0, 10)) {
    if (*v <= 0) f.Fail("repetition_penalty", "'repetition_penalty' must be > 0");
    s.repetition_penalty = static_cast<float>(*v);
  }
  if (auto v = f.Number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = f.Number("frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.Integer("seed", std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max())) {
    s.seed = static_cast<uint64_t>(*v);
  }
  if (auto v = f.StringOrList("stop", static_cast<size_t>(limits.max_stop))) g->backend.stop = *v;
  ReadLogitBias(f, limits, &g->backend);
  if (auto v = f.Integer("n", 1, limits.max_n)) g->n = static_cast<int32_t>(*v);
  (void)f.String("user");  // accepted for compatibility; only its type is checked
  ReadStreamFields(f, g);
}

std::optional<int32_t> ReadMaxTokens(FieldReader& f, const char* name, const RequestLimits& l) {
  std::optional<int64_t> v = f.Integer(name, 1, MaxTokensLimit(l));
  return v ? std::optional<int32_t>(static_cast<int32_t>(*v)) : std::nullopt;
}

// One message's content: a string, or text parts [{"type": "text", "text": "..."}] joined by
// newlines (as vLLM joins them).
std::optional<ApiError> ReadContent(const json& content, const std::string& param,
                                    std::string* out) {
  if (content.is_string()) {
    *out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) {
    return InvalidRequest(fmt::format("'{}' must be a string or an array of text parts, not {}",
                                      param, content.type_name()),
                          param);
  }
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    std::string part_param = fmt::format("{}[{}]", param, i);
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
        !part.contains("text") || !part["text"].is_string()) {
      return InvalidRequest(fmt::format("'{}' must be {{\"type\": \"text\", \"text\": string}}; "
                                        "this server accepts text content only",
                                        part_param),
                            part_param);
    }
    if (i > 0) *out += '\n';
    *out += part["text"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> ReadMessages(const json* messages,
                                     std::vector<tokenizer::ChatMessage>* out) {
  if (messages == nullptr) return InvalidRequest("'messages' is required", "messages");
  if (!messages->is_array() || messages->empty()) {
    return InvalidRequest("'messages' must be a non-empty array of messages", "messages");
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) {
      return InvalidRequest(fmt::format("'{}' must be an object with 'role' and 'content'", param),
                            param);
    }
    auto role_it = m.find("role");
    if (role_it == m.end() || !role_it->is_string()) {
      return InvalidRequest(fmt::format("'{}.role' is required and must be a string", param),
                            param + ".role");
    }
    std::string role = role_it->get<std::string>();
    if (role == "developer") role = "system";  // OpenAI's newer name for the system role
    if (role != "system" && role != "user" && role != "assistant") {
      return InvalidRequest(fmt::format("'{}.role' must be one of system, developer, user, "
                                        "assistant; got \"{}\" (tools are not supported)",
                                        param, role_it->get<std::string>()),
                            param + ".role");
    }
    auto content_it = m.find("content");
    if (content_it == m.end() || content_it->is_null()) {
      return InvalidRequest(fmt::format("'{}.content' is required", param), param + ".content");
    }
    tokenizer::ChatMessage msg{.role = role, .content = {}};
    if (auto e = ReadContent(*content_it, param + ".content", &msg.content)) return e;
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ReasoningMode> ReadReasoning(FieldReader& f) {
  std::optional<std::string> v = f.String("reasoning");
  if (!v || *v == "auto") return ReasoningMode::kAuto;
  if (*v == "on") return ReasoningMode::kOn;
  if (*v == "off") return ReasoningMode::kOff;
  f.Fail("reasoning",
         fmt::format("'reasoning' must be \"auto\", \"on\" or \"off\"; got \"{}\"", *v));
  return std::nullopt;
}

}  // namespace

runtime::SamplingOverrides GenerateRouteDefaults() {
  return {.temperature = 0.7f, .top_p = 0.9f, .max_new_tokens = 128};
}

runtime::SamplingOverrides CompletionRouteDefaults() { return {.max_new_tokens = 16}; }

std::optional<ApiError> ParseChatRequest(const json& body, const RequestLimits& limits,
                                         ChatRequest* out) {
  FieldReader f(body);
  out->model = f.String("model").value_or("");
  if (auto e = ReadMessages(f.Raw("messages"), &out->gen.backend.messages)) return e;
  out->gen.backend.is_chat = true;
  ReadSampling(f, limits, &out->gen);
  std::optional<int32_t> max_tokens = ReadMaxTokens(f, "max_tokens", limits);
  std::optional<int32_t> max_completion = ReadMaxTokens(f, "max_completion_tokens", limits);
  out->gen.backend.request.max_new_tokens = max_completion ? max_completion : max_tokens;
  out->gen.backend.logprobs = f.Bool("logprobs").value_or(false);
  if (auto v = f.Integer("top_logprobs", 0, runtime::kMaxTopLogprobs)) {
    if (!out->gen.backend.logprobs) {
      f.Fail("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    }
    out->gen.backend.top_logprobs = static_cast<int32_t>(*v);
  }
  if (auto mode = ReadReasoning(f)) out->reasoning = *mode;
  return f.error();
}

std::optional<ApiError> ParseCompletionRequest(const json& body, const RequestLimits& limits,
                                               CompletionRequest* out) {
  FieldReader f(body);
  out->model = f.String("model").value_or("");
  const json* prompt = f.Raw("prompt");
  if (prompt == nullptr) return InvalidRequest("'prompt' is required", "prompt");
  if (prompt->is_array() && prompt->size() == 1 &&
      ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
    prompt = &(*prompt)[0];  // a batch of one
  }
  if (prompt->is_string()) {
    out->gen.backend.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && !prompt->empty()) {  // token ids
    for (const json& id : *prompt) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kInt32Max) {
        return InvalidRequest("'prompt' must be a string or an array of token ids", "prompt");
      }
      out->gen.backend.prompt_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  } else {
    return InvalidRequest(
        "'prompt' must be a string or an array of token ids (one prompt per request)", "prompt");
  }
  ReadSampling(f, limits, &out->gen);
  out->gen.backend.route = CompletionRouteDefaults();
  out->gen.backend.request.max_new_tokens = ReadMaxTokens(f, "max_tokens", limits);
  out->echo = f.Bool("echo").value_or(false);
  if (auto v = f.Integer("logprobs", 0, 5)) {
    out->logprobs = static_cast<int32_t>(*v);
    out->gen.backend.logprobs = true;
    out->gen.backend.top_logprobs = out->logprobs;
  }
  (void)f.Integer("best_of", 1, 1);       // accepted only as 1
  if (out->echo && out->logprobs >= 0) {  // the prompt tokens' logprobs too (log-likelihoods)
    if (out->gen.stream) {
      f.Fail("echo", "'echo' with 'logprobs' is answered without streaming; set 'stream' false");
    }
    out->gen.backend.prompt_logprobs = out->logprobs;
  }
  return f.error();
}

std::optional<ApiError> ParseGenerateRequest(const json& body, const RequestLimits& limits,
                                             GenerateRequest* out) {
  FieldReader f(body);
  std::optional<std::string> prompt = f.String("prompt");
  if (f.error()) return f.error();
  if (!prompt) return InvalidRequest("'prompt' is required", "prompt");
  out->gen.backend.prompt = *prompt;
  ReadSampling(f, limits, &out->gen);
  out->gen.backend.route = GenerateRouteDefaults();
  out->gen.backend.request.max_new_tokens = ReadMaxTokens(f, "max_new_tokens", limits);
  return f.error();
}

}  // namespace medassist::server
