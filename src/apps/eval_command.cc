#include "apps/eval_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "apps/backend_setup.h"
#include "apps/generation_session.h"
#include "apps/options.h"
#include "core/file.h"
#include "eval/datasets.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "kernels/cpu_features.h"
#include "net/http_client.h"
#include "runtime/engine_core.h"
#include "server/local_backend.h"
#include "server/remote_backend.h"

namespace medassist::apps {
namespace {

struct EvalArgs {
  std::string sets, protocol, out, data_dir, model, endpoint_url, endpoint_token, remote_model;
  std::string kv_type;
  int limit = 0, seed = 0, concurrency = 0, max_tokens = 0;
  int context = 0, kv_cache_mib = 0, max_batch_tokens = 0, max_running = 0;
  ComputeArgs compute;
};

std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// The local engine, as `serve` builds it; the runner bounds what is in flight.
std::unique_ptr<server::Backend> LocalEngineOrReport(const EvalArgs& a) {
  return LocalBackendOrReport({.model = a.model,
                               .kv_type = a.kv_type,
                               .context = a.context,
                               .kv_cache_mib = a.kv_cache_mib,
                               .max_batch_tokens = a.max_batch_tokens,
                               .max_running = a.max_running,
                               .max_pending = 1 << 20,
                               .compute = a.compute});
}

// An OpenAI-compatible endpoint (/v1/completions with echo, /v1/chat/completions).
std::unique_ptr<server::Backend> RemoteBackendOrReport(const EvalArgs& a) {
  server::RemoteBackendOptions o{.urls = SplitCommas(a.endpoint_url),
                                 .protocol = server::RemoteProtocolKind::kOpenAi,
                                 .token = a.endpoint_token,
                                 .model = a.remote_model,
                                 .max_pending = 1 << 20,
                                 .health_interval = std::chrono::milliseconds(0)};
  Result<std::unique_ptr<server::RemoteBackend>> b = server::RemoteBackend::Create(std::move(o));
  if (!b.ok()) {
    spdlog::error("remote backend: {}", b.status().message());
    return nullptr;
  }
  spdlog::info("remote backend: openai protocol, upstream {}", RedactedUrls(a.endpoint_url));
  return std::move(b).value();
}

Result<std::vector<eval::EvalItem>> LoadItems(const EvalArgs& a) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, eval::ExpandSetNames(a.sets));
  std::vector<eval::EvalItem> items;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(eval::LoadedSet set, eval::LoadSet(a.data_dir, name));
    if (set.n_multi_answer_skipped > 0) {
      spdlog::info("{}: {} questions with several right options left out", name,
                   set.n_multi_answer_skipped);
    }
    std::vector<eval::EvalItem> chosen =
        eval::SelectSubset(std::move(set.items), a.limit, static_cast<uint64_t>(a.seed));
    spdlog::info("{}: {} items", name, chosen.size());
    for (eval::EvalItem& item : chosen) items.push_back(std::move(item));
  }
  return items;
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError(path + ": cannot write");
  return Status::Ok();
}

Status WriteReports(const EvalArgs& a, const eval::EvalSummary& summary) {
  const std::string base = a.out + "/";
  RETURN_IF_ERROR(
      WriteText(base + "summary-" + a.protocol + ".md", eval::SummaryMarkdown(summary)));
  RETURN_IF_ERROR(WriteText(base + "summary-" + a.protocol + ".json", eval::SummaryJson(summary)));
  return WriteText(base + "report-" + a.protocol + ".html", eval::SummaryHtml(summary));
}

int RunEvalCommand(const EvalArgs& a) {
  const eval::Protocol protocol = *eval::ParseProtocol(a.protocol);  // checked by the parser
  Result<std::vector<eval::EvalItem>> items = LoadItems(a);
  if (!items.ok()) {
    spdlog::error("{}", items.status().message());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) {
    spdlog::error("--out {}: {}", a.out, ec.message());
    return 1;
  }
  const bool remote = !a.endpoint_url.empty();
  std::unique_ptr<server::Backend> backend =
      remote ? RemoteBackendOrReport(a) : LocalEngineOrReport(a);
  if (!backend) return 1;
  const std::string model =
      remote ? RedactedUrls(a.endpoint_url) + (a.remote_model.empty() ? "" : " " + a.remote_model)
             : a.model;
  eval::RunnerOptions o{.protocol = protocol,
                        .results_path = a.out + "/items-" + a.protocol + ".jsonl",
                        .model = model,
                        .concurrency = a.concurrency,
                        .max_new_tokens = a.max_tokens,
                        .seed = static_cast<uint64_t>(a.seed),
                        .progress = isatty(STDERR_FILENO) != 0,
                        .cancel = &g_interrupted};
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  Result<eval::RunOutcome> run = eval::RunEval(*backend, *items, o);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!run.ok()) {
    spdlog::error("{} (items finished so far are kept in {}; run again to resume)",
                  run.status().message(), o.results_path);
    return 1;
  }
  spdlog::info("{} items resumed from {}, {} scored now", run->n_resumed, o.results_path,
               run->n_new);
  const eval::EvalSummary summary = eval::Summarize(run->results, protocol, model);
  if (Status s = WriteReports(a, summary); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  std::fputs(eval::SummaryMarkdown(summary).c_str(), stdout);
  if (run->interrupted) {
    spdlog::warn("interrupted: {} of {} items scored; run the same command again to resume",
                 run->results.size(), items->size());
    return 130;
  }
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a model on medical QA sets (MedQA, MedMCQA, PubMedQA, MMLU medical, CMExam, ...) "
      "by option log-likelihood or by generating and extracting the answer; local or remote");
  AddDeclaredOption(*cmd, "--sets", args->sets);
  AddDeclaredOption(*cmd, "--protocol", args->protocol)
      ->check(CLI::IsMember({"loglikelihood", "generate"}));
  AddDeclaredOption(*cmd, "--limit", args->limit)->check(CLI::NonNegativeNumber);
  AddDeclaredOption(*cmd, "--seed", args->seed)->check(CLI::NonNegativeNumber);
  AddDeclaredOption(*cmd, "--out", args->out);
  AddDeclaredOption(*cmd, "--data-dir", args->data_dir);
  AddDeclaredOption(*cmd, "-c,--concurrency", args->concurrency)->check(CLI::Range(1, 1024));
  AddDeclaredOption(*cmd, "--max-tokens", args->max_tokens)->check(CLI::Range(1, 1 << 20));
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--endpoint-url", args->endpoint_url);
  AddDeclaredOption(*cmd, "--endpoint-token", args->endpoint_token);
  AddDeclaredOption(*cmd, "--remote-model", args->remote_model);
  AddDeclaredOption(*cmd, "--context", args->context);
  AddDeclaredOption(*cmd, "--kv-cache-mib", args->kv_cache_mib);
  AddDeclaredOption(*cmd, "--kv-type", args->kv_type)->check(CLI::IsMember({"f32", "f16"}));
  AddDeclaredOption(*cmd, "--max-batch-tokens", args->max_batch_tokens);
  AddDeclaredOption(*cmd, "--max-running", args->max_running);
  AddDeclaredOption(*cmd, "--threads", args->compute.threads);
  AddDtypeOption(*cmd, args->compute.dtype);
  AddLoraOption(*cmd, args->compute.lora);
  cmd->callback([args, exit_code] {
    if (args->model.empty() == args->endpoint_url.empty()) {
      spdlog::error("eval needs a model: --model (local) or --endpoint-url (remote), not both");
      *exit_code = 1;
      return;
    }
    *exit_code = RunEvalCommand(*args);
  });
}

}  // namespace medassist::apps
