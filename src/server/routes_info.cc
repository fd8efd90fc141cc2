// The routes that do not generate: GET /, /health, /v1/models, /metrics; POST /tokenize and
// /detokenize (llama.cpp server's shapes).
#include <string>

#include "server/api_docs.h"
#include "server/chat_page.h"
#include "server/json_fields.h"
#include "server/server_context.h"
#include "tokenizer/unicode.h"

namespace medassist::server {
namespace {

using nlohmann::json;

void Home(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value("Accept").find("text/html") != std::string::npos) {
    res.set_content(std::string(ChatPageHtml()), "text/html; charset=utf-8");
    return;
  }
  SendJson(res, 200,
           {{"name", "medassist"},
            {"version", ctx.options.version},
            {"model", ctx.options.model_name},
            {"docs", "/docs"},
            {"openapi", "/openapi.json"},
            {"health", "/health"}});
}

void Health(const ServerContext& ctx, httplib::Response& res) {
  std::shared_ptr<Backend> backend = ctx.backend();
  if (ctx.draining.load()) {
    return SendJson(res, 503, {{"status", "draining"}, {"error", "the server is shutting down"}});
  }
  if (backend == nullptr) {
    std::string failure = ctx.backend_error();
    if (failure.empty()) {
      return SendJson(res, 503, {{"status", "loading"}, {"error", "the model is loading"}});
    }
    return SendJson(res, 503, {{"status", "unavailable"}, {"error", failure}});
  }
  BackendHealth h = backend->Health();
  json body = {
      {"status", h.state}, {"model", ctx.options.model_name}, {"backend", backend->kind()}};
  if (!h.ready) body["error"] = h.detail;
  if (!h.upstreams.empty()) {
    json upstreams = json::array();
    for (const UpstreamHealth& u : h.upstreams) {
      upstreams.push_back({{"url", u.url},
                           {"state", u.state},
                           {"breaker", u.breaker},
                           {"last_error", u.last_error},
                           {"requests", u.requests},
                           {"failures", u.failures}});
    }
    body["upstreams"] = std::move(upstreams);
  }
  SendJson(res, h.ready ? 200 : 503, body);
}

json ModelJson(const ServerContext& ctx) {
  return {{"id", ctx.options.model_name},
          {"object", "model"},
          {"created", ctx.started_unix},
          {"owned_by", "medassist"}};
}

// The tokenizer of the loaded backend, or the error already sent.
const tokenizer::Tokenizer* TokenizerOrError(ServerContext& ctx, std::shared_ptr<Backend>* keep,
                                             httplib::Response& res) {
  *keep = BackendOrError(ctx, "", res);
  if (!*keep) return nullptr;
  const tokenizer::Tokenizer* tok = (*keep)->tokenizer();
  if (tok == nullptr) {
    SendError(res, InvalidRequest("this backend has no local tokenizer (it forwards to a remote "
                                  "server)",
                                  "", "unsupported"));
  }
  return tok;
}

void Tokenize(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json body;
  if (auto e = ParseJsonObject(req.body, &body)) return SendError(res, *e);
  std::shared_ptr<Backend> keep;
  const tokenizer::Tokenizer* tok = TokenizerOrError(ctx, &keep, res);
  if (tok == nullptr) return;
  FieldReader f(body);
  std::optional<std::string> content = f.String("content");
  bool add_special = f.Bool("add_special").value_or(false);
  bool with_pieces = f.Bool("with_pieces").value_or(false);
  if (f.error()) return SendError(res, *f.error());
  if (!content) return SendError(res, InvalidRequest("'content' is required", "content"));
  std::vector<int32_t> ids = tok->Encode(*content, {.add_bos = add_special && tok->add_bos()});
  json tokens = json::array();
  for (int32_t id : ids) {
    if (with_pieces) {
      // A piece that is not valid UTF-8 alone (part of a character) is sent as its bytes.
      std::string_view piece = tok->TokenBytes(id);
      json bytes = json::array();
      for (unsigned char c : piece) bytes.push_back(c);
      tokens.push_back(
          {{"id", id}, {"piece", tokenizer::IsValidUtf8(piece) ? json(piece) : std::move(bytes)}});
    } else {
      tokens.push_back(id);
    }
  }
  SendJson(res, 200, {{"tokens", std::move(tokens)}});
}

void Detokenize(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  json body;
  if (auto e = ParseJsonObject(req.body, &body)) return SendError(res, *e);
  std::shared_ptr<Backend> keep;
  const tokenizer::Tokenizer* tok = TokenizerOrError(ctx, &keep, res);
  if (tok == nullptr) return;
  auto it = body.find("tokens");
  if (it == body.end() || !it->is_array()) {
    return SendError(res, InvalidRequest("'tokens' must be an array of token ids", "tokens"));
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= tok->vocab_size()) {
      return SendError(res, InvalidRequest("'tokens[" + std::to_string(i) +
                                               "]' is not a token id "
                                               "of this model (0.." +
                                               std::to_string(tok->vocab_size() - 1) + ")",
                                           "tokens"));
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  SendJson(res, 200, {{"content", tok->Decode(ids)}});
}

}  // namespace

void RegisterInfoRoutes(httplib::Server& http, ServerContext& ctx) {
  http.Get("/",
           [&ctx](const httplib::Request& req, httplib::Response& res) { Home(ctx, req, res); });
  http.Get("/health",
           [&ctx](const httplib::Request&, httplib::Response& res) { Health(ctx, res); });
  http.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"object", "list"}, {"data", json::array({ModelJson(ctx)})}});
  });
  http.Get("/v1/models/(.+)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != ctx.options.model_name && ctx.options.strict_model_names) {
      return SendError(
          res, ApiError{.http_status = 404,
                        .message = "The model '" + req.matches[1].str() + "' does not exist",
                        .param = "model",
                        .code = "model_not_found"});
    }
    json m = ModelJson(ctx);
    m["id"] = req.matches[1].str();
    SendJson(res, 200, m);
  });
  http.Post("/tokenize", [&ctx](const httplib::Request& req, httplib::Response& res) {
    Tokenize(ctx, req, res);
  });
  http.Post("/detokenize", [&ctx](const httplib::Request& req, httplib::Response& res) {
    Detokenize(ctx, req, res);
  });
  http.Get("/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(OpenApiJson()), "application/json");
  });
  http.Get("/docs", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(SwaggerHtml()), "text/html; charset=utf-8");
  });
  for (const StaticAsset& asset : DocsAssets()) {
    http.Get(std::string(asset.path), [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "public, max-age=86400");
      res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
    });
  }
  http.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    std::shared_ptr<Backend> b = ctx.backend();
    std::optional<runtime::EngineMetrics> engine = b ? b->engine_metrics() : std::nullopt;
    std::string text = ctx.metrics.Render(engine, ctx.in_flight.load());
    if (b) text += b->MetricsText();
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace medassist::server
