#include "apps/load_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "apps/load_client.h"
#include "apps/options.h"

namespace medassist::apps {
namespace {

struct LoadArgs {
  std::string url, api_key, output;
  int clients = 0, duration_s = 0, max_tokens = 0, prompt_tokens = 0;
};

// Shared by every request, so a server with a prefix cache may reuse it; the user prompts differ
// from their first word, so nothing more can be shared.
constexpr const char* kSystemPrompt =
    "You are a careful medical assistant. Answer briefly and say when a doctor is needed.";

// Short common words: about one token each with a BPE vocabulary such as Qwen2.5's.
constexpr const char* kWords[] = {
    "pain",  "fever",  "cough", "chest", "head",   "sleep", "blood", "heart", "skin",  "rash",
    "night", "day",    "week",  "child", "adult",  "water", "food",  "drug",  "dose",  "test",
    "left",  "right",  "arm",   "leg",   "back",   "eye",   "ear",   "mild",  "sharp", "dull",
    "worse", "better", "after", "since", "before", "with",  "and",   "the",   "of",    "my",
    "had",   "has",    "feel",  "tired", "weak",   "cold",  "hot",   "short", "long",  "two",
    "three", "four",   "old",   "new",   "high",   "low",   "home",  "work",  "walk",  "eat"};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

// The user prompt of request `seq` of client `client`: the same for every run, so two servers
// measured one after the other get the same prompts, and unique from its first word.
std::string UserPrompt(int client, int seq, int n_words) {
  std::mt19937 rng(static_cast<uint32_t>(client) * 1000003u + static_cast<uint32_t>(seq));
  std::string text = "Case " + std::to_string(client) + "-" + std::to_string(seq) + ":";
  for (int i = 0; i < n_words; ++i) {
    text += ' ';
    text += kWords[rng() % kNumWords];  // not uniform_int_distribution: its output varies by libc++
  }
  text += ". What should I do?";
  return text;
}

// Nearest-rank percentile of v (sorted here); 0 for an empty v.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// One closed-loop client: a request, then the next as soon as it ends, until the deadline.
// Requests in flight at the deadline run to their end and are counted.
std::vector<StreamTiming> RunClient(const LoadArgs& a, const std::string& model, int client,
                                    LoadClock::time_point deadline) {
  LoadClient http(a.url, a.api_key);
  std::vector<StreamTiming> out;
  for (int seq = 0; LoadClock::now() < deadline; ++seq) {
    std::string body = ChatRequestBody(model, kSystemPrompt,
                                       UserPrompt(client, seq, a.prompt_tokens), a.max_tokens);
    out.push_back(http.StreamChat(body));
    // A refused connection fails at once; do not spin on it.
    if (out.back().transport_error) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return out;
}

struct LoadReport {
  int n_requests = 0, n_errors = 0;
  double wall_s = 0;
  int64_t n_tokens_generated = 0;
  std::vector<double> ttft_s, itl_s, latency_s;
  double tokens_per_request = 0, prompt_tokens_mean = 0;
  int n_without_usage = 0;
  std::vector<std::string> first_errors;  // a few, to show what went wrong
};

LoadReport Summarise(const std::vector<std::vector<StreamTiming>>& per_client, double wall_s) {
  constexpr size_t kErrorsShown = 5;
  LoadReport r;
  r.wall_s = wall_s;
  int64_t n_prompt_tokens = 0;
  int n_with_prompt = 0;
  for (const std::vector<StreamTiming>& client : per_client) {
    for (const StreamTiming& t : client) {
      if (!t.ok) {
        ++r.n_errors;
        if (r.first_errors.size() < kErrorsShown) r.first_errors.push_back(t.error);
        continue;
      }
      ++r.n_requests;
      // Tokens as the server counted them; chunks with text when it sent no usage.
      if (t.n_tokens_completion < 0) ++r.n_without_usage;
      r.n_tokens_generated += t.n_tokens_completion >= 0 ? t.n_tokens_completion : t.n_chunks_text;
      if (t.n_tokens_prompt >= 0) {
        n_prompt_tokens += t.n_tokens_prompt;
        ++n_with_prompt;
      }
      if (t.ttft_s >= 0) r.ttft_s.push_back(t.ttft_s);
      r.itl_s.insert(r.itl_s.end(), t.gaps_s.begin(), t.gaps_s.end());
      r.latency_s.push_back(t.latency_s);
    }
  }
  if (r.n_requests > 0) {
    r.tokens_per_request = static_cast<double>(r.n_tokens_generated) / r.n_requests;
  }
  if (n_with_prompt > 0) {
    r.prompt_tokens_mean = static_cast<double>(n_prompt_tokens) / n_with_prompt;
  }
  return r;
}

void PrintJson(const LoadArgs& a, const LoadReport& r) {
  nlohmann::json out = {
      {"url", a.url},
      {"clients", a.clients},
      {"duration_s", a.duration_s},
      {"max_tokens", a.max_tokens},
      {"wall_s", r.wall_s},
      {"requests", r.n_requests},
      {"errors", r.n_errors},
      {"generated_tokens", r.n_tokens_generated},
      {"generated_t_s", r.wall_s > 0 ? r.n_tokens_generated / r.wall_s : 0.0},
      {"tokens_per_request", r.tokens_per_request},
      {"prompt_tokens_mean", r.prompt_tokens_mean},
      {"ttft_s",
       {{"p50", Percentile(r.ttft_s, 50)},
        {"p95", Percentile(r.ttft_s, 95)},
        {"p99", Percentile(r.ttft_s, 99)}}},
      {"itl_ms", {{"p50", 1e3 * Percentile(r.itl_s, 50)}, {"p95", 1e3 * Percentile(r.itl_s, 95)}}},
      {"latency_s", {{"p50", Percentile(r.latency_s, 50)}, {"p95", Percentile(r.latency_s, 95)}}},
      {"error_examples", r.first_errors}};
  std::printf("%s\n", out.dump(2).c_str());
}

void PrintMarkdown(const LoadArgs& a, const LoadReport& r) {
  std::printf(
      "| clients | requests | errors | generated t/s | TTFT p50 / p95 / p99 s | ITL p50 / p95 ms "
      "| latency p50 / p95 s | tokens/request | prompt tokens |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf(
      "| %d | %d | %d | %.1f | %.2f / %.2f / %.2f | %.1f / %.1f | %.2f / %.2f | %.1f | %.0f |\n",
      a.clients, r.n_requests, r.n_errors, r.wall_s > 0 ? r.n_tokens_generated / r.wall_s : 0.0,
      Percentile(r.ttft_s, 50), Percentile(r.ttft_s, 95), Percentile(r.ttft_s, 99),
      1e3 * Percentile(r.itl_s, 50), 1e3 * Percentile(r.itl_s, 95), Percentile(r.latency_s, 50),
      Percentile(r.latency_s, 95), r.tokens_per_request, r.prompt_tokens_mean);
  std::printf("\n%lld tokens generated in %.1f s (%d s of new requests, then those in flight)\n",
              static_cast<long long>(r.n_tokens_generated), r.wall_s, a.duration_s);
  if (r.n_without_usage > 0) {
    std::printf("%d requests sent no usage; their chunks with text were counted as tokens\n",
                r.n_without_usage);
  }
}

int RunLoad(const LoadArgs& a) {
  if (a.clients < 1 || a.duration_s < 1 || a.max_tokens < 1 || a.prompt_tokens < 0) {
    std::fprintf(stderr,
                 "error: load needs --clients >= 1, --duration >= 1, --max-tokens >= 1 and "
                 "--prompt-tokens >= 0\n");
    return 1;
  }
  if (a.output != "md" && a.output != "json") {
    std::fprintf(stderr, "error: --output must be md or json, not '%s'\n", a.output.c_str());
    return 1;
  }
  LoadClient probe(a.url, a.api_key);
  if (!probe.valid()) {
    std::fprintf(stderr, "error: --url '%s' is not http[s]://HOST:PORT[/PREFIX]\n", a.url.c_str());
    return 1;
  }
  // The name the server lists, so a server that checks names accepts ours.
  std::string model = probe.FirstModelId().value_or("");
  std::fprintf(stderr, "load: %d clients for %d s against %s (model '%s')\n", a.clients,
               a.duration_s, a.url.c_str(), model.c_str());
  const LoadClock::time_point start = LoadClock::now();
  const LoadClock::time_point deadline = start + std::chrono::seconds(a.duration_s);
  std::vector<std::vector<StreamTiming>> per_client(static_cast<size_t>(a.clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < a.clients; ++c) {
    threads.emplace_back(
        [&, c] { per_client[static_cast<size_t>(c)] = RunClient(a, model, c, deadline); });
  }
  for (std::thread& t : threads) t.join();
  const double wall_s = std::chrono::duration<double>(LoadClock::now() - start).count();
  LoadReport r = Summarise(per_client, wall_s);
  if (a.output == "json") {
    PrintJson(a, r);
  } else {
    PrintMarkdown(a, r);
  }
  for (const std::string& e : r.first_errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  if (r.n_requests == 0 && r.n_errors == 0) std::fprintf(stderr, "error: no request completed\n");
  return r.n_errors > 0 || r.n_requests == 0 ? 1 : 0;
}

}  // namespace

void AddLoadCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LoadArgs>();
  CLI::App* cmd = app.add_subcommand(
      "load", "Load-test a running server: closed-loop streaming chat clients, TTFT and tokens/s");
  AddDeclaredOption(*cmd, "--url", args->url);
  AddDeclaredOption(*cmd, "--api-key", args->api_key);
  AddDeclaredOption(*cmd, "--clients", args->clients);
  AddDeclaredOption(*cmd, "--duration", args->duration_s);
  AddDeclaredOption(*cmd, "--max-tokens", args->max_tokens);
  AddDeclaredOption(*cmd, "--prompt-tokens", args->prompt_tokens);
  AddDeclaredOption(*cmd, "--output", args->output);
  cmd->callback([args, exit_code] { *exit_code = RunLoad(*args); });
}

}  // namespace medassist::apps
