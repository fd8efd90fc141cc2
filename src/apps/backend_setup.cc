#include "apps/backend_setup.h"

#include <spdlog/spdlog.h>

#include "kernels/cpu_features.h"
#include "net/http_client.h"
#include "runtime/engine_core.h"

namespace medassist::apps {

std::unique_ptr<server::LocalBackend> LocalBackendOrReport(const LocalEngineArgs& a) {
  std::optional<runtime::LoadedModel> m = LoadModelOrReport(a.model, a.tokenizer);
  if (!m || !PrepareWeightsOrReport(m->model, a.compute)) return nullptr;
  auto pool = std::make_unique<ThreadPool>(a.compute.threads > 0 ? a.compute.threads
                                                                 : DefaultThreadCount());
  spdlog::info("compute: {} on {} threads", kernels::IsaName(kernels::BestIsa()),
               pool->n_threads());
  const int64_t kv_bytes = static_cast<int64_t>(a.kv_cache_mib) << 20;
  const model::KvType kv_type = *model::ParseKvType(a.kv_type);  // checked by the parser
  server::LocalBackendOptions options{
      .engine = {.n_kv_blocks = runtime::KvBlocksForBudget(m->model.config(), kv_bytes, kv_type),
                 .context = a.context,
                 .max_batch_tokens = a.max_batch_tokens,
                 .max_running = a.max_running,
                 .kv_type = kv_type},
      .max_pending = a.max_pending,
      .system_prompt = a.system_prompt};
  spdlog::info("KV cache: {} MiB of {}, {} blocks of {} positions", a.kv_cache_mib, a.kv_type,
               options.engine.n_kv_blocks, model::kDefaultKvBlockSize);
  Result<std::unique_ptr<server::LocalBackend>> b = server::LocalBackend::Create(
      std::move(*m), std::move(pool), model::Forward::Options{}, options);
  if (!b.ok()) {
    spdlog::error("cannot start the engine: {}", b.status().message());
    return nullptr;
  }
  return std::move(b).value();
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string RedactedUrls(const std::string& urls) {
  std::string shown;
  for (const std::string& url : SplitCommas(urls)) {
    if (!shown.empty()) shown += ", ";
    shown += net::RedactUrl(url);
  }
  return shown;
}

}  // namespace medassist::apps
