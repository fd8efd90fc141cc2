// OpenAI-compatible upstreams (OpenAI's API reference for chat completions, completions and their
// streaming chunks; TGI's Messages API, vLLM and llama.cpp's server follow it):
//   POST /v1/chat/completions {model, messages, stream: true, stream_options: {include_usage}}
//        -> SSE chunks {choices: [{delta: {content}, logprobs: {content: [...]}, finish_reason}],
//           usage}, then `data: [DONE]`
//   POST /v1/completions {model, prompt, ...}; with echo + logprobs (prompt logprobs) not streamed.
// Each of our choices is its own upstream request (n = 1): the routes start n streams.
#include <limits>

#include <fmt/format.h>

#include "server/remote_protocol.h"

namespace medassist::server {
namespace {

using nlohmann::json;

template <typename T>
std::optional<T> Chosen(const std::optional<T>& request, const std::optional<T>& route) {
  return request ? request : route;
}

runtime::FinishReason OpenAiReason(const json& reason) {
  if (reason.is_string() && reason.get<std::string>() == "length") {
    return runtime::FinishReason::kLength;
  }
  return runtime::FinishReason::kStop;
}

float NumberOr(const json& j, const char* key, float fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<float>() : fallback;
}

class OpenAiProtocol : public RemoteProtocol {
 public:
  explicit OpenAiProtocol(OpenAiProtocolOptions options) : options_(std::move(options)) {
    if (options_.model.empty()) options_.model = "tgi";
  }
  RemoteProtocolKind kind() const override { return RemoteProtocolKind::kOpenAi; }

  Result<UpstreamCall> BuildCall(const BackendRequest& r) const override {
    if (!r.assistant_prefill.empty() || !r.forbid_opening.empty()) {
      return InvalidArgument(
          "`reasoning` on/off needs control of the assistant's first tokens, which an "
          "OpenAI-compatible upstream does not offer; leave `reasoning` unset");
    }
    UpstreamCall call;
    json& b = call.body;
    b = {{"model", options_.model}};
    if (r.is_chat) {
      call.path = "/v1/chat/completions";
      json messages = json::array();
      for (const tokenizer::ChatMessage& m : r.messages) {
        messages.push_back({{"role", m.role}, {"content", m.content}});
      }
      b["messages"] = std::move(messages);
      if (r.logprobs) {
        b["logprobs"] = true;
        if (r.top_logprobs > 0) b["top_logprobs"] = r.top_logprobs;
      }
    } else {
      call.path = "/v1/completions";
      b["prompt"] = r.prompt_ids.empty() ? json(r.prompt) : json(r.prompt_ids);
      if (r.logprobs || r.prompt_logprobs >= 0) {
        b["logprobs"] = std::max(r.top_logprobs, std::max(r.prompt_logprobs, 0));
      }
      if (r.prompt_logprobs >= 0) b["echo"] = true;
    }
    AddSampling(r, b);
    call.stream = r.prompt_logprobs < 0;  // echo's prompt logprobs come in one answer
    if (call.stream) {
      b["stream"] = true;
      b["stream_options"] = {{"include_usage", true}};
    }
    return call;
  }

  Status ParseStreamData(std::string_view data, std::vector<UpstreamChunk>* out) const override {
    if (data == "[DONE]") return {};
    json e = json::parse(data, nullptr, false);
    if (!e.is_object()) return UpstreamError("the upstream sent a stream chunk that is not JSON");
    if (auto err = e.find("error"); err != e.end() && !err->is_null()) {
      out->push_back({.finished = true,
                      .reason = runtime::FinishReason::kError,
                      .error = UpstreamErrorMessage(data)});
      return {};
    }
    int32_t n_prompt = -1, n_generated = -1;
    if (auto usage = e.find("usage"); usage != e.end() && usage->is_object()) {
      n_prompt = usage->value("prompt_tokens", -1);
      n_generated = usage->value("completion_tokens", -1);
    }
    auto choices = e.find("choices");
    if (choices == e.end() || !choices->is_array()) {
      return UpstreamError("the upstream's stream chunk has no `choices`");
    }
    if (choices->empty()) {  // the usage chunk
      out->push_back({.n_prompt_tokens = n_prompt, .n_generated_tokens = n_generated});
      return {};
    }
    return ParseChoice((*choices)[0], /*streamed=*/true, n_prompt, out);
  }

  // Not streamed: legacy completions with echo + logprobs. The answer's tokens and text start
  // with the prompt's; usage.prompt_tokens says where the prompt ends (else the text offsets).
  Status ParseComplete(const BackendRequest& r, std::string_view body,
                       std::vector<UpstreamChunk>* out) const override {
    json e = json::parse(body, nullptr, false);
    if (!e.is_object() || !e.contains("choices") || !e["choices"].is_array() ||
        e["choices"].empty() || !e["choices"][0].is_object()) {
      return UpstreamError("the upstream's answer has no `choices`");
    }
    const json& choice = e["choices"][0];
    int32_t n_prompt = -1;
    if (e.contains("usage") && e["usage"].is_object()) {
      n_prompt = e["usage"].value("prompt_tokens", -1);
    }
    std::string text = choice.value("text", "");
    if (r.prompt_logprobs >= 0 && text.starts_with(r.prompt)) text.erase(0, r.prompt.size());
    const json logprobs = choice.value("logprobs", json());
    if (!logprobs.is_object() || !logprobs.contains("tokens") || !logprobs["tokens"].is_array()) {
      return UpstreamError(
          "the upstream answered without `logprobs`: it does not give prompt logprobs (echo)");
    }
    LegacyTokens(logprobs, n_prompt, r.prompt.size(), out);
    out->front().text = std::move(text);
    out->back().finished = true;
    out->back().reason = OpenAiReason(choice.value("finish_reason", json()));
    out->back().n_prompt_tokens = static_cast<int32_t>(out->front().prompt_tokens.size());
    return {};
  }

 private:
  void AddSampling(const BackendRequest& r, json& b) const {
    const runtime::SamplingOverrides& q = r.request;
    const runtime::SamplingOverrides& d = r.route;
    if (auto v = Chosen(q.temperature, d.temperature)) b["temperature"] = *v;
    if (auto v = Chosen(q.top_p, d.top_p)) b["top_p"] = *v;
    if (auto v = Chosen(q.max_new_tokens, d.max_new_tokens)) b["max_tokens"] = *v;
    if (auto v = Chosen(q.presence_penalty, d.presence_penalty)) b["presence_penalty"] = *v;
    if (auto v = Chosen(q.frequency_penalty, d.frequency_penalty)) b["frequency_penalty"] = *v;
    // Not in OpenAI's API but accepted by vLLM, TGI and llama.cpp's server.
    if (auto v = Chosen(q.top_k, d.top_k)) b["top_k"] = *v;
    if (auto v = Chosen(q.min_p, d.min_p)) b["min_p"] = *v;
    if (auto v = Chosen(q.repetition_penalty, d.repetition_penalty)) b["repetition_penalty"] = *v;
    if (auto seed = Chosen(q.seed, d.seed)) b["seed"] = *seed + r.seed_offset;
    if (!r.stop.empty()) b["stop"] = r.stop;
    if (!r.logit_bias.empty()) {
      json bias = json::object();
      for (const auto& [id, value] : r.logit_bias) bias[std::to_string(id)] = value;
      b["logit_bias"] = std::move(bias);
    }
  }

  // One choice of a chunk or an answer: chat (delta/message.content, logprobs.content[]) or
  // legacy completion (text, logprobs.tokens / token_logprobs / top_logprobs).
  Status ParseChoice(const json& choice, bool streamed, int32_t n_prompt,
                     std::vector<UpstreamChunk>* out) const {
    if (!choice.is_object()) return UpstreamError("the upstream's choice is not an object");
    std::string text;
    if (auto m = choice.find(streamed ? "delta" : "message"); m != choice.end() && m->is_object()) {
      if (auto c = m->find("content"); c != m->end() && c->is_string())
        text = c->get<std::string>();
    } else if (auto t = choice.find("text"); t != choice.end() && t->is_string()) {
      text = t->get<std::string>();
    }
    const size_t first = out->size();
    const json logprobs = choice.value("logprobs", json());
    if (logprobs.is_object() && logprobs.contains("content") && logprobs["content"].is_array()) {
      ChatTokens(logprobs["content"], out);
    } else if (logprobs.is_object() && logprobs.contains("tokens")) {
      LegacyTokens(logprobs, 0, 0, out);
    }
    if (out->size() == first) out->push_back({});
    (*out)[first].text = std::move(text);  // the chunk's text goes with its first token
    if (!choice.value("finish_reason", json()).is_null()) {
      out->back().finished = true;
      out->back().reason = OpenAiReason(choice["finish_reason"]);
      out->back().n_prompt_tokens = n_prompt;
    }
    return {};
  }

  static void ChatTokens(const json& content, std::vector<UpstreamChunk>* out) {
    for (const json& t : content) {
      UpstreamChunk c{.has_token = true,
                      .token_bytes = t.value("token", ""),
                      .logprob = NumberOr(t, "logprob", 0.0f)};
      if (auto top = t.find("top_logprobs"); top != t.end() && top->is_array()) {
        for (const json& alt : *top) {
          c.top_logprobs.emplace_back(alt.value("token", ""), NumberOr(alt, "logprob", 0.0f));
        }
      }
      out->push_back(std::move(c));
    }
  }

  // Legacy completions' logprobs: parallel arrays tokens / token_logprobs / top_logprobs /
  // text_offset. The first n_prompt tokens (or, when that is unknown, those starting before
  // prompt_chars) are the prompt's, reported as prompt tokens on the first chunk.
  static void LegacyTokens(const json& lp, int32_t n_prompt, size_t prompt_chars,
                           std::vector<UpstreamChunk>* out) {
    const json tokens = lp.value("tokens", json::array());
    const json values = lp.value("token_logprobs", json::array());
    const json tops = lp.value("top_logprobs", json::array());
    const json offsets = lp.value("text_offset", json::array());
    const size_t first = out->size();
    out->push_back({});
    for (size_t i = 0; i < tokens.size(); ++i) {
      const float value = i < values.size() && values[i].is_number()
                              ? values[i].get<float>()
                              : std::numeric_limits<float>::quiet_NaN();
      std::vector<std::pair<std::string, float>> top;
      if (i < tops.size() && tops[i].is_object()) {
        for (const auto& [k, v] : tops[i].items()) {
          top.emplace_back(k, v.is_number() ? v.get<float>() : 0.0f);
        }
      }
      const std::string token = tokens[i].is_string() ? tokens[i].get<std::string>() : "";
      const bool in_prompt = n_prompt >= 0
                                 ? static_cast<int32_t>(i) < n_prompt
                                 : i < offsets.size() && offsets[i].is_number_unsigned() &&
                                       offsets[i].get<size_t>() < prompt_chars;
      if (in_prompt) {
        (*out)[first].prompt_tokens.push_back(
            {.bytes = token, .logprob = value, .top = std::move(top)});
        continue;
      }
      UpstreamChunk c{.has_token = true, .token_bytes = token, .logprob = value};
      c.top_logprobs = std::move(top);
      if (out->size() == first + 1 && !(*out)[first].has_token) {
        c.prompt_tokens = std::move((*out)[first].prompt_tokens);
        (*out)[first] = std::move(c);
      } else {
        out->push_back(std::move(c));
      }
    }
  }

  OpenAiProtocolOptions options_;
};

}  // namespace

std::unique_ptr<RemoteProtocol> MakeOpenAiProtocol(OpenAiProtocolOptions options) {
  return std::make_unique<OpenAiProtocol>(std::move(options));
}

}  // namespace medassist::server
