#include "apps/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "apps/backend_setup.h"
#include "apps/generation_session.h"
#include "apps/options.h"
#include "net/http_client.h"
#include "runtime/engine_core.h"
#include "server/local_backend.h"
#include "server/remote_backend.h"
#include "server/server.h"

namespace medassist::apps {
namespace {

constexpr const char* kDefaultModel = "diyorarti/med-mixed-merged";

struct RemoteArgs {
  std::string urls, token, protocol, model;
  int connect_timeout = 0, idle_timeout = 0, retries = 0, cold_start_wait = 0;
  int breaker_failures = 0, breaker_open = 0, health_interval = 0;
};

struct ServeArgs {
  std::string host, api_key, model, model_name, tokenizer, system_prompt, reasoning, cors, backend;
  std::string kv_type, safety, safety_rules, safety_disclaimers;
  bool safety_generate_prefix = false;
  int port = 8000, context = 0, kv_cache_mib = 0, max_batch_tokens = 0, max_running = 0;
  int max_pending = 0, http_threads = 0, max_body_mib = 0, shutdown_seconds = 0;
  bool strict_model_names = false;
  ComputeArgs compute;
  RemoteArgs remote;
};

// --backend local|remote; empty: remote when an endpoint URL is configured. nullopt after
// logging a bad choice.
std::optional<bool> UseRemoteBackend(const ServeArgs& a) {
  if (a.backend != "" && a.backend != "local" && a.backend != "remote") {
    spdlog::error("--backend (BACKEND) must be local or remote; got '{}'", a.backend);
    return std::nullopt;
  }
  const bool remote = a.backend == "remote" || (a.backend.empty() && !a.remote.urls.empty());
  if (remote && a.remote.urls.empty()) {
    spdlog::error(
        "the remote backend needs the upstream's URL: --endpoint-url or HF_ENDPOINT_URL (several, "
        "comma-separated, for failover)");
    return std::nullopt;
  }
  return remote;
}

// The chat template TGI's /generate prompts are rendered with: that of --tokenizer when given,
// else Qwen2.5's ChatML (the original deployment's model family); --system-prompt replaces the
// default system message.
std::optional<tokenizer::ChatTemplate> RemoteChatTemplate(const ServeArgs& a) {
  tokenizer::ChatTemplate t = tokenizer::ChatTemplate::ChatMl(
      "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  if (!a.tokenizer.empty()) {
    Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(a.tokenizer);
    if (!tok.ok()) {
      spdlog::error("--tokenizer: {}", tok.status().message());
      return std::nullopt;
    }
    Result<tokenizer::ChatTemplate> found = tokenizer::ChatTemplate::ForTokenizer(*tok, true);
    if (!found.ok()) {
      spdlog::error("--tokenizer: {}", found.status().message());
      return std::nullopt;
    }
    t = std::move(found).value();
  }
  if (!a.system_prompt.empty() && t.format() == tokenizer::ChatFormat::kChatMl) {
    t = tokenizer::ChatTemplate::ChatMl(a.system_prompt);
  }
  return t;
}

std::shared_ptr<server::Backend> MakeRemoteBackend(const ServeArgs& a) {
  const RemoteArgs& r = a.remote;
  Result<server::RemoteProtocolKind> protocol = server::ParseRemoteProtocol(r.protocol);
  if (!protocol.ok()) {
    spdlog::error("--remote-protocol: {}", protocol.status().message());
    return nullptr;
  }
  std::optional<tokenizer::ChatTemplate> chat = RemoteChatTemplate(a);
  if (!chat) return nullptr;
  using std::chrono::seconds;
  server::RemoteBackendOptions o{
      .urls = SplitCommas(r.urls),
      .protocol = *protocol,
      .token = r.token,
      .model = r.model,
      .chat_template = std::move(*chat),
      .connect_timeout = seconds(r.connect_timeout),
      .idle_timeout = seconds(r.idle_timeout),
      .max_retries = r.retries,
      .cold_start_max_wait = seconds(r.cold_start_wait),
      .pool = {.failure_threshold = r.breaker_failures, .open_for = seconds(r.breaker_open)},
      .max_pending = a.max_pending,
      .context_length = a.context,
      .health_interval = seconds(r.health_interval)};
  Result<std::unique_ptr<server::RemoteBackend>> b = server::RemoteBackend::Create(std::move(o));
  if (!b.ok()) {
    spdlog::error("remote backend: {}", b.status().message());
    return nullptr;
  }
  spdlog::info("remote backend: {} protocol, upstream {}{}", r.protocol, RedactedUrls(r.urls),
               r.token.empty() ? " (no token)" : " (with token)");
  return std::shared_ptr<server::Backend>(std::move(b).value());
}

std::optional<server::ServerOptions> MakeServerOptions(const ServeArgs& a) {
  Result<assistant::ReasoningMarkers> markers = assistant::ParseReasoningMarkers(a.reasoning);
  if (!markers.ok()) {
    spdlog::error("--reasoning-markers: {}", markers.status().message());
    return std::nullopt;
  }
  if (a.port < 0 || a.port > 65535 || a.max_body_mib < 1 || a.http_threads < 4) {
    spdlog::error("--port must be 0..65535, --max-body-mib >= 1 and --http-threads >= 4");
    return std::nullopt;
  }
  std::shared_ptr<const assistant::SafetyPolicy> safety;
  if (a.safety == "on") {
    Result<assistant::SafetyPolicy> policy = a.safety_rules.empty()
                                                 ? assistant::SafetyPolicy::Default()
                                                 : assistant::SafetyPolicy::Load(a.safety_rules);
    if (!policy.ok()) {
      spdlog::error("--safety-rules: {}", policy.status().message());
      return std::nullopt;
    }
    safety = std::make_shared<const assistant::SafetyPolicy>(std::move(policy).value());
  } else {
    spdlog::warn("--safety off: no red-flag check (meant for evaluation runs)");
  }
  server::ServerOptions o;
  o.safety = std::move(safety);
  o.safety_disclaimers = a.safety_disclaimers == "on";
  o.safety_prefix_generate = a.safety_generate_prefix;
  o.host = a.host;
  o.port = a.port;
  o.api_key = a.api_key;
  o.model_name = a.model_name.empty() ? a.model : a.model_name;
  o.strict_model_names = a.strict_model_names;
  o.cors_origins = SplitCommas(a.cors);
  o.max_body_bytes = static_cast<size_t>(a.max_body_mib) << 20;
  o.http_threads = a.http_threads;
  o.reasoning = *markers;
  return o;
}

// Loads the model and starts the engine; nullptr after logging why not.
std::shared_ptr<server::Backend> LoadBackend(const ServeArgs& a) {
  std::unique_ptr<server::LocalBackend> b =
      LocalBackendOrReport({.model = a.model,
                            .tokenizer = a.tokenizer,
                            .system_prompt = a.system_prompt,
                            .kv_type = a.kv_type,
                            .context = a.context,
                            .kv_cache_mib = a.kv_cache_mib,
                            .max_batch_tokens = a.max_batch_tokens,
                            .max_running = a.max_running,
                            .max_pending = a.max_pending,
                            .compute = a.compute});
  if (!b && a.model == kDefaultModel) {
    spdlog::error(
        "the default model {} could not be loaded from the Hugging Face cache or the Hub "
        "(above). Pass --model (or MODEL=) a model folder, a .gguf file or a repo id; for an "
        "offline demo try --model assets/demo/stories260K.gguf",
        kDefaultModel);
  }
  return b;
}

int RunServe(const ServeArgs& a) {
  std::optional<bool> remote = UseRemoteBackend(a);
  if (!remote) return 1;
  std::optional<server::ServerOptions> options = MakeServerOptions(a);
  if (!options) return 1;
  // SIGTERM / SIGINT are taken by one thread with sigwait: blocked here, before any other thread
  // starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ApiServer api(*options);
  if (Status s = api.Bind(); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  if (options->api_key.empty()) {
    spdlog::warn(
        "no API key configured (--api-key / API_KEY): the API is open to anyone who can "
        "reach {}:{}",
        options->host, api.port());
  }
  spdlog::info("listening on http://{}:{} (docs at /docs); loading {}", options->host, api.port(),
               a.model);
  std::thread http([&] { api.Serve(); });
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: draining for up to {} s", sig, a.shutdown_seconds);
    api.Shutdown(std::chrono::seconds(a.shutdown_seconds));
  });
  int code = 0;
  if (std::shared_ptr<server::Backend> backend = *remote ? MakeRemoteBackend(a) : LoadBackend(a)) {
    api.SetBackend(backend);
    spdlog::info("ready: serving {} as '{}', context {} tokens",
                 *remote ? "the remote backend" : a.model, options->model_name,
                 backend->context_length());
  } else {
    code = 1;
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  http.join();
  stopper.join();
  spdlog::info("server stopped");
  return code;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the HTTP API (/v1/chat/completions, /v1/generate, ...) on the local engine or in "
      "front of a remote one (TGI, an Inference Endpoint, any OpenAI-compatible server)");
  AddDeclaredOption(*cmd, "--host", args->host);
  AddDeclaredOption(*cmd, "--port", args->port);
  AddDeclaredOption(*cmd, "--api-key", args->api_key);
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--model-name", args->model_name);
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredOption(*cmd, "--backend", args->backend);
  AddDeclaredOption(*cmd, "--context", args->context);
  AddDeclaredOption(*cmd, "--kv-cache-mib", args->kv_cache_mib);
  AddDeclaredOption(*cmd, "--kv-type", args->kv_type)->check(CLI::IsMember({"f32", "f16"}));
  AddDeclaredOption(*cmd, "--max-batch-tokens", args->max_batch_tokens);
  AddDeclaredOption(*cmd, "--max-running", args->max_running);
  AddDeclaredOption(*cmd, "--max-pending", args->max_pending);
  AddDeclaredOption(*cmd, "--system-prompt", args->system_prompt);
  AddDeclaredOption(*cmd, "--reasoning-markers", args->reasoning);
  AddDeclaredOption(*cmd, "--safety", args->safety)->check(CLI::IsMember({"on", "off"}));
  AddDeclaredOption(*cmd, "--safety-rules", args->safety_rules);
  AddDeclaredOption(*cmd, "--safety-disclaimers", args->safety_disclaimers)
      ->check(CLI::IsMember({"on", "off"}));
  AddDeclaredFlag(*cmd, "--safety-generate-prefix", args->safety_generate_prefix);
  AddDeclaredFlag(*cmd, "--strict-model-names", args->strict_model_names);
  AddDeclaredOption(*cmd, "--cors-origins", args->cors);
  AddDeclaredOption(*cmd, "--max-body-mib", args->max_body_mib);
  AddDeclaredOption(*cmd, "--http-threads", args->http_threads);
  AddDeclaredOption(*cmd, "--shutdown-timeout", args->shutdown_seconds);
  RemoteArgs& r = args->remote;
  AddDeclaredOption(*cmd, "--endpoint-url", r.urls);
  AddDeclaredOption(*cmd, "--endpoint-token", r.token);
  AddDeclaredOption(*cmd, "--remote-protocol", r.protocol)->check(CLI::IsMember({"tgi", "openai"}));
  AddDeclaredOption(*cmd, "--remote-model", r.model);
  AddDeclaredOption(*cmd, "--remote-connect-timeout", r.connect_timeout)
      ->check(CLI::Range(1, 3600));
  AddDeclaredOption(*cmd, "--remote-idle-timeout", r.idle_timeout)->check(CLI::Range(1, 86400));
  AddDeclaredOption(*cmd, "--remote-retries", r.retries)->check(CLI::Range(0, 100));
  AddDeclaredOption(*cmd, "--remote-cold-start-wait", r.cold_start_wait)
      ->check(CLI::Range(0, 86400));
  AddDeclaredOption(*cmd, "--remote-breaker-failures", r.breaker_failures)
      ->check(CLI::Range(1, 1000));
  AddDeclaredOption(*cmd, "--remote-breaker-open", r.breaker_open)->check(CLI::Range(1, 86400));
  AddDeclaredOption(*cmd, "--remote-health-interval", r.health_interval)
      ->check(CLI::Range(0, 86400));
  AddDeclaredOption(*cmd, "--threads", args->compute.threads);
  AddDtypeOption(*cmd, args->compute.dtype);
  AddLoraOption(*cmd, args->compute.lora);
  cmd->callback([args, exit_code] { *exit_code = RunServe(*args); });
}

}  // namespace medassist::apps
