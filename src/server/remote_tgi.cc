// TGI's native API (text-generation-inference, its OpenAPI document:
// https://huggingface.github.io/text-generation-inference/openapi.json):
//   POST /generate_stream {inputs, parameters} -> SSE `data:{"token":{id,text,logprob,special},
//        "top_tokens":[...], "generated_text":null|"...", "details":null|{finish_reason,
//        generated_tokens, seed, input_length}}`, or `data:{"error":"...","error_type":"..."}`
//   POST /generate -> {"generated_text": "...", "details": {..., "prefill": [{id,text,logprob}],
//        "tokens": [...]}} (used for prompt logprobs: decoder_input_details)
// TGI validates strictly: top_p must be in (0, 1) and temperature > 0, so greedy decoding is sent
// as do_sample false with neither, and top_p 1 is left out (it means "no top-p" anyway).
#include <cmath>

#include <fmt/format.h>

#include "server/remote_protocol.h"

namespace medassist::server {
namespace {

using nlohmann::json;

runtime::FinishReason TgiFinishReason(const std::string& reason) {
  if (reason == "length") return runtime::FinishReason::kLength;
  if (reason == "stop_sequence") return runtime::FinishReason::kStop;
  return runtime::FinishReason::kEos;  // "eos_token"
}

template <typename T>
std::optional<T> Chosen(const std::optional<T>& request, const std::optional<T>& route) {
  return request ? request : route;
}

class TgiProtocol : public RemoteProtocol {
 public:
  explicit TgiProtocol(TgiProtocolOptions options) : options_(std::move(options)) {}
  RemoteProtocolKind kind() const override { return RemoteProtocolKind::kTgi; }

  Result<UpstreamCall> BuildCall(const BackendRequest& r) const override {
    ASSIGN_OR_RETURN(json parameters, Parameters(r));
    std::string inputs;
    if (r.is_chat) {
      ASSIGN_OR_RETURN(inputs, options_.chat_template.Render(r.messages, true));
    } else if (!r.prompt_ids.empty()) {
      return InvalidArgument(
          "the remote TGI backend takes text prompts, not token ids; send the prompt as a string");
    } else {
      inputs = r.prompt;
    }
    inputs += r.assistant_prefill;
    UpstreamCall call{.path = "/generate_stream",
                      .body = {{"inputs", inputs}, {"parameters", parameters}}};
    if (r.prompt_logprobs >= 0) {
      call.path = "/generate";
      call.stream = false;
      call.body["parameters"]["details"] = true;
      call.body["parameters"]["decoder_input_details"] = true;
    }
    return call;
  }

  Status ParseStreamData(std::string_view data, std::vector<UpstreamChunk>* out) const override {
    json e = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (!e.is_object()) return UpstreamError("the upstream sent a stream event that is not JSON");
    if (auto err = e.find("error"); err != e.end() && !err->is_null()) {
      // TGI validates a streamed request after answering 200: its refusal comes as an event.
      out->push_back({.finished = true,
                      .reason = runtime::FinishReason::kError,
                      .error = err->is_string() ? err->get<std::string>() : err->dump(),
                      .error_is_validation = e.value("error_type", "") == "validation"});
      return {};
    }
    auto token = e.find("token");
    if (token == e.end() || !token->is_object()) {
      return UpstreamError("the upstream's stream event has no `token`");
    }
    UpstreamChunk c;
    if (!token->value("special", false)) c.text = token->value("text", "");
    c.has_token = true;
    c.token_bytes = token->value("text", "");
    c.logprob = LogprobOf(*token);
    if (auto top = e.find("top_tokens"); top != e.end() && top->is_array()) {
      for (const json& t : *top) c.top_logprobs.emplace_back(t.value("text", ""), LogprobOf(t));
    }
    if (auto details = e.find("details"); details != e.end() && details->is_object()) {
      c.finished = true;
      c.reason = TgiFinishReason(details->value("finish_reason", "length"));
      c.n_prompt_tokens = details->value("input_length", -1);
    }
    out->push_back(std::move(c));
    return {};
  }

  Status ParseComplete(const BackendRequest&, std::string_view body,
                       std::vector<UpstreamChunk>* out) const override {
    json e = json::parse(body, nullptr, false);
    if (!e.is_object() || !e.contains("generated_text") || !e["generated_text"].is_string()) {
      return UpstreamError("the upstream's answer has no `generated_text`");
    }
    const json details = e.value("details", json::object());
    UpstreamChunk first;
    if (auto prefill = details.find("prefill"); prefill != details.end() && prefill->is_array()) {
      for (const json& t : *prefill) {
        first.prompt_tokens.push_back({.bytes = t.value("text", ""), .logprob = LogprobOf(t)});
      }
    }
    const json tokens = details.value("tokens", json::array());
    if (!tokens.is_array() || tokens.empty()) {  // no details: the text as one piece
      first.text = e["generated_text"].get<std::string>();
      out->push_back(std::move(first));
    } else {
      for (size_t i = 0; i < tokens.size(); ++i) {
        UpstreamChunk c = i == 0 ? std::move(first) : UpstreamChunk{};
        if (!tokens[i].value("special", false)) c.text = tokens[i].value("text", "");
        c.has_token = true;
        c.token_bytes = tokens[i].value("text", "");
        c.logprob = LogprobOf(tokens[i]);
        out->push_back(std::move(c));
      }
    }
    out->back().finished = true;
    out->back().reason = TgiFinishReason(details.value("finish_reason", "length"));
    if (details.contains("input_length")) {
      out->back().n_prompt_tokens = details.value("input_length", -1);
    } else if (!out->front().prompt_tokens.empty()) {
      out->back().n_prompt_tokens = static_cast<int32_t>(out->front().prompt_tokens.size());
    }
    return {};
  }

 private:
  static float LogprobOf(const json& token) {
    auto it = token.find("logprob");
    return it != token.end() && it->is_number() ? it->get<float>()
                                                : std::numeric_limits<float>::quiet_NaN();
  }

  static Result<json> Parameters(const BackendRequest& r) {
    if (!r.logit_bias.empty()) {
      return InvalidArgument("logit_bias is not supported by the remote TGI backend");
    }
    if (!r.forbid_opening.empty()) {
      return InvalidArgument(
          "reasoning \"off\" needs token-level control that the remote backend does not have; "
          "leave `reasoning` unset");
    }
    const runtime::SamplingOverrides& q = r.request;
    const runtime::SamplingOverrides& d = r.route;
    if (Chosen(q.presence_penalty, d.presence_penalty).value_or(0.0f) != 0.0f ||
        Chosen(q.min_p, d.min_p).value_or(0.0f) != 0.0f) {
      return InvalidArgument("presence_penalty and min_p are not supported by TGI's native API");
    }
    json p = json::object();
    std::optional<float> temperature = Chosen(q.temperature, d.temperature);
    if (temperature && *temperature <= 0.0f) {
      p["do_sample"] = false;  // greedy: TGI refuses temperature 0
    } else {
      if (temperature) p["temperature"] = *temperature;
      p["do_sample"] = true;
      std::optional<float> top_p = Chosen(q.top_p, d.top_p);
      if (top_p && *top_p < 1.0f) p["top_p"] = *top_p;  // TGI refuses top_p >= 1
      std::optional<int32_t> top_k = Chosen(q.top_k, d.top_k);
      if (top_k && *top_k > 0) p["top_k"] = *top_k;
    }
    if (auto v = Chosen(q.max_new_tokens, d.max_new_tokens)) p["max_new_tokens"] = *v;
    if (auto v = Chosen(q.repetition_penalty, d.repetition_penalty); v && *v != 1.0f) {
      p["repetition_penalty"] = *v;
    }
    if (auto v = Chosen(q.frequency_penalty, d.frequency_penalty); v && *v != 0.0f) {
      p["frequency_penalty"] = *v;
    }
    if (auto seed = Chosen(q.seed, d.seed)) p["seed"] = *seed + r.seed_offset;
    if (!r.stop.empty()) p["stop"] = r.stop;
    if (r.logprobs && r.top_logprobs > 0) p["top_n_tokens"] = r.top_logprobs;
    p["details"] = true;  // the finish reason and token counts
    return p;
  }

  TgiProtocolOptions options_;
};

}  // namespace

std::unique_ptr<RemoteProtocol> MakeTgiProtocol(TgiProtocolOptions options) {
  return std::make_unique<TgiProtocol>(std::move(options));
}

Result<RemoteProtocolKind> ParseRemoteProtocol(std::string_view name) {
  if (name == "tgi") return RemoteProtocolKind::kTgi;
  if (name == "openai") return RemoteProtocolKind::kOpenAi;
  return InvalidArgument(fmt::format("unknown remote protocol '{}': use tgi or openai", name));
}

std::string UpstreamErrorMessage(std::string_view body) {
  json e = json::parse(body, nullptr, false);
  if (e.is_object()) {
    auto err = e.find("error");
    if (err != e.end() && err->is_string()) return err->get<std::string>();
    if (err != e.end() && err->is_object() && err->contains("message") &&
        (*err)["message"].is_string()) {
      return (*err)["message"].get<std::string>();
    }
    if (auto m = e.find("message"); m != e.end() && m->is_string()) return m->get<std::string>();
  }
  std::string text(body.substr(0, 300));
  return text.empty() ? "(empty body)" : text;
}

std::optional<double> EstimatedTimeSeconds(std::string_view body) {
  json e = json::parse(body, nullptr, false);
  if (!e.is_object()) return std::nullopt;
  auto t = e.find("estimated_time");
  if (t == e.end() || !t->is_number()) return std::nullopt;
  double v = t->get<double>();
  return std::isfinite(v) && v >= 0 ? std::optional<double>(v) : std::nullopt;
}

}  // namespace medassist::server
