#include "apps/bench_command.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/generation_session.h"
#include "apps/options.h"
#include "model/model_path.h"
#include "runtime/engine_core.h"

namespace medassist::apps {
namespace {

struct BenchArgs {
  std::string model, output, kv_type;
  int n_prompt = 0, n_gen = 0, repetitions = 0, depth = 0, concurrency = 1;
  ComputeArgs compute;
};

struct Stats {
  double mean = 0, stdev = 0;
};

Stats MeanStdev(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stdev += (x - s.mean) * (x - s.mean);
  s.stdev = v.size() > 1 ? std::sqrt(s.stdev / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// Bytes of every weight tensor (tied output counted once).
uint64_t WeightBytes(const model::ModelWeights& w) {
  auto bytes = [](const model::Weight& t) -> uint64_t {
    return t.present() ? static_cast<uint64_t>(t.rows * t.row_bytes()) : 0;
  };
  uint64_t total = bytes(w.token_embedding) + bytes(w.final_norm);
  if (w.output.data != w.token_embedding.data) total += bytes(w.output);
  for (const model::LayerWeights& l : w.layers) {
    for (const model::Weight* t :
         {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.bo, &l.ffn_norm,
          &l.w_gate, &l.w_up, &l.w_down, &l.b_gate, &l.b_up, &l.b_down}) {
      total += bytes(*t);
    }
  }
  return total;
}

// One sequence in a KV cache of its own, driven the way llama-bench does: random tokens, pp as one
// batch with logits for the last row, tg as single-token steps from an empty context.
class BenchRunner {
 public:
  BenchRunner(const model::Model& m, model::Forward& forward, model::KvCache kv)
      : model_(m), forward_(forward), kv_(std::move(kv)) {
    batch_.block_tables.emplace_back();
    for (int32_t b = 0; b < kv_.shape().n_blocks; ++b) batch_.block_tables[0].push_back(b);
    logits_.resize(static_cast<size_t>(m.config().vocab_size));
  }

  // Fills positions [0, depth) of the cache (in chunks of 512, untimed), as llama-bench -d does
  // before each test, so the passes below attend over a context of depth tokens.
  Status FillContext(int32_t depth) {
    for (int32_t start = 0; start < depth; start += 512) {
      RETURN_IF_ERROR(PromptPass(std::min(512, depth - start), start).status());
    }
    return Status::Ok();
  }

  // Seconds for one pass: n prompt tokens at positions start.. in one batch.
  Result<double> PromptPass(int32_t n, int32_t start_pos) {
    batch_.rows.clear();
    for (int32_t i = 0; i < n; ++i) {
      batch_.rows.push_back({0, RandomToken(), start_pos + i, i + 1 == n});
    }
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(forward_.Run(batch_, kv_, logits_));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // Seconds for n single-token steps at positions start_pos...
  Result<double> GenerationPass(int32_t n, int32_t start_pos) {
    const auto start = std::chrono::steady_clock::now();
    for (int32_t i = 0; i < n; ++i) {
      batch_.rows = {{0, RandomToken(), start_pos + i, true}};
      RETURN_IF_ERROR(forward_.Run(batch_, kv_, logits_));
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  int32_t RandomToken() {
    return std::uniform_int_distribution<int32_t>(
        0, static_cast<int32_t>(model_.config().vocab_size - 1))(rng_);
  }

  const model::Model& model_;
  model::Forward& forward_;
  model::KvCache kv_;
  model::Batch batch_;
  std::vector<float> logits_;
  std::mt19937 rng_{42};
};

struct TestResult {
  std::string name;  // "pp512", "tg128"
  int n_tokens;
  Stats tokens_per_s;
};

// Tokens/s over repetitions, after one untimed warm-up pass. With depth > 0 the test runs after a
// context of depth tokens ("tg128 @ d4096"), which is filled once (positions past it are
// overwritten by each pass, so the context stays the same).
Result<TestResult> RunTest(BenchRunner& runner, bool prompt, int n, int repetitions, int depth) {
  auto pass = [&]() {
    return prompt ? runner.PromptPass(n, depth) : runner.GenerationPass(n, depth);
  };
  RETURN_IF_ERROR(runner.FillContext(depth));
  ASSIGN_OR_RETURN(double warmup, pass());
  (void)warmup;
  std::vector<double> rates;
  for (int r = 0; r < repetitions; ++r) {
    ASSIGN_OR_RETURN(double seconds, pass());
    rates.push_back(n / seconds);
  }
  std::string name = (prompt ? "pp" : "tg") + std::to_string(n);
  if (depth > 0) name += " @ d" + std::to_string(depth);
  return TestResult{name, n, MeanStdev(rates)};
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void Print(const BenchArgs& a, const model::Model& m, const Compute& c,
           const std::vector<TestResult>& results) {
  const double size_gib = static_cast<double>(WeightBytes(m.weights())) / (1 << 30);
  const double params_b = static_cast<double>(formats::CountParameters(m.config())) / 1e9;
  const std::string backend =
      a.compute.reference ? "reference" : std::string("CPU ") + kernels::IsaName(c.forward->isa());
  if (a.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const TestResult& r : results) {
      out.push_back({{"model", m.path()},
                     {"size_gib", size_gib},
                     {"params_b", params_b},
                     {"backend", backend},
                     {"threads", c.pool->n_threads()},
                     {"test", r.name},
                     {"t_s_mean", r.tokens_per_s.mean},
                     {"t_s_stdev", r.tokens_per_s.stdev},
                     {"peak_rss_mb", PeakRssMb()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("| model | size | params | backend | threads | test | t/s |\n");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  for (const TestResult& r : results) {
    std::printf("| %s | %.2f GiB | %.2f B | %s | %d | %s | %.2f ± %.2f |\n", m.path().c_str(),
                size_gib, params_b, backend.c_str(), c.pool->n_threads(), r.name.c_str(),
                r.tokens_per_s.mean, r.tokens_per_s.stdev);
  }
  std::printf("\npeak RSS: %.0f MB\n", PeakRssMb());
}

// ---- Concurrency mode (-c N): N requests through the engine at once. ----

struct ConcurrencyResult {
  int n_sequences = 0;
  double decode_tokens_per_s = 0;  // all sequences' tokens after their first, per second of decode
  double ttft_ms_mean = 0;         // submission to first token
  double itl_ms_mean = 0;          // between consecutive tokens of one sequence
};

// n random token ids of the model's vocabulary.
std::vector<int32_t> RandomPrompt(std::mt19937& rng, int n, int64_t vocab_size) {
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab_size - 1));
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(token(rng));
  return ids;
}

// Submits n requests at once (random prompts of n_prompt tokens, greedy, n_gen tokens, no EOS)
// and steps the engine until all finish, timing every token.
Result<ConcurrencyResult> RunConcurrent(const model::Model& m, model::Forward& forward, int n,
                                        int n_prompt, int n_gen, model::KvType kv_type) {
  const int32_t block = model::kDefaultKvBlockSize;
  const int32_t per_sequence = (n_prompt + n_gen + block - 1) / block;
  ASSIGN_OR_RETURN(runtime::EngineCore engine,
                   runtime::EngineCore::Create(m, &forward,
                                               {.n_kv_blocks = per_sequence * n,
                                                .context = n_prompt + n_gen,
                                                .max_batch_tokens = std::max(512, n),
                                                .max_running = n,
                                                .kv_type = kv_type}));
  std::mt19937 rng(7);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) {
    runtime::GenerationRequest r{.prompt = RandomPrompt(rng, n_prompt, m.config().vocab_size),
                                 .max_new_tokens = n_gen};
    r.sampling.temperature = 0.0f;
    RETURN_IF_ERROR(engine.Add(std::move(r)).status());
  }
  std::vector<std::vector<Clock::time_point>> times(static_cast<size_t>(n));
  std::vector<runtime::TokenEvent> events;
  while (!engine.idle()) {
    events.clear();
    RETURN_IF_ERROR(engine.Step(&events));
    const Clock::time_point now = Clock::now();
    for (const runtime::TokenEvent& e : events) {
      if (e.has_token) times[static_cast<size_t>(e.id)].push_back(now);
    }
  }
  ConcurrencyResult r{.n_sequences = n};
  Clock::time_point last_first = start, end = start;
  double ttft = 0, itl = 0;
  int64_t gaps = 0, decoded = 0;
  for (const auto& t : times) {
    if (t.empty()) continue;
    last_first = std::max(last_first, t.front());
    end = std::max(end, t.back());
    ttft += std::chrono::duration<double, std::milli>(t.front() - start).count();
    for (size_t i = 1; i < t.size(); ++i) {
      itl += std::chrono::duration<double, std::milli>(t[i] - t[i - 1]).count();
      ++gaps;
    }
  }
  // Decode throughput over the window where every sequence is decoding (prefill excluded).
  for (const auto& t : times) {
    for (size_t i = 1; i < t.size(); ++i) decoded += t[i] > last_first ? 1 : 0;
  }
  const double window = std::chrono::duration<double>(end - last_first).count();
  r.decode_tokens_per_s = window > 0 ? static_cast<double>(decoded) / window : 0;
  r.ttft_ms_mean = ttft / n;
  r.itl_ms_mean = gaps > 0 ? itl / static_cast<double>(gaps) : 0;
  return r;
}

// Time to first token of two requests one after the other that share their first n_prompt
// tokens (a system prompt) and differ in 8 more: the second reuses the first's KV blocks.
Result<std::pair<double, double>> SharedPrefixTtft(const model::Model& m, model::Forward& forward,
                                                   int n_prompt, model::KvType kv_type) {
  const int32_t block = model::kDefaultKvBlockSize;
  const int32_t positions = n_prompt + 8 + 2;
  ASSIGN_OR_RETURN(
      runtime::EngineCore engine,
      runtime::EngineCore::Create(m, &forward,
                                  {.n_kv_blocks = 2 * ((positions + block - 1) / block),
                                   .context = positions,
                                   .max_batch_tokens = 512,
                                   .kv_type = kv_type}));
  std::mt19937 rng(11);
  const std::vector<int32_t> shared = RandomPrompt(rng, n_prompt, m.config().vocab_size);
  double ttft[2] = {0, 0};
  for (double& t : ttft) {
    runtime::GenerationRequest r{.prompt = shared, .max_new_tokens = 2};
    for (int32_t id : RandomPrompt(rng, 8, m.config().vocab_size)) r.prompt.push_back(id);
    r.sampling.temperature = 0.0f;
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(engine.Add(std::move(r)).status());
    std::vector<runtime::TokenEvent> events;
    bool first = false;
    while (!engine.idle()) {
      events.clear();
      RETURN_IF_ERROR(engine.Step(&events));
      for (const runtime::TokenEvent& e : events) {
        if (e.has_token && !first) {
          first = true;
          t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
        }
      }
    }
  }
  return std::pair<double, double>{ttft[0], ttft[1]};
}

int RunConcurrencyBench(const BenchArgs& a, const model::Model& m, model::Forward& forward) {
  const model::KvType kv = *model::ParseKvType(a.kv_type);
  if (a.n_gen < 2) {
    std::fprintf(stderr, "error: -c needs -n >= 2 (decode speed is measured between tokens)\n");
    return 1;
  }
  std::vector<ConcurrencyResult> results;
  for (int n : {1, a.concurrency}) {
    Result<ConcurrencyResult> warm = RunConcurrent(m, forward, n, a.n_prompt, 2, kv);  // untimed
    Result<ConcurrencyResult> r =
        warm.ok() ? RunConcurrent(m, forward, n, a.n_prompt, a.n_gen, kv) : warm.status();
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
      return 1;
    }
    results.push_back(*r);
  }
  Result<std::pair<double, double>> prefix = SharedPrefixTtft(m, forward, a.n_prompt, kv);
  if (!prefix.ok()) {
    std::fprintf(stderr, "error: %s\n", prefix.status().ToString().c_str());
    return 1;
  }
  if (a.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const ConcurrencyResult& r : results) {
      out.push_back({{"model", m.path()},
                     {"test", "concurrent"},
                     {"sequences", r.n_sequences},
                     {"n_prompt", a.n_prompt},
                     {"n_gen", a.n_gen},
                     {"decode_t_s", r.decode_tokens_per_s},
                     {"ttft_ms", r.ttft_ms_mean},
                     {"itl_ms", r.itl_ms_mean}});
    }
    out.push_back({{"model", m.path()},
                   {"test", "shared-prefix"},
                   {"n_prompt", a.n_prompt},
                   {"ttft_first_ms", prefix->first},
                   {"ttft_second_ms", prefix->second}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("| model | sequences | test | decode t/s (all) | TTFT ms | ITL ms |\n");
  std::printf("| --- | ---: | --- | ---: | ---: | ---: |\n");
  for (const ConcurrencyResult& r : results) {
    std::printf("| %s | %d | pp%d+tg%d | %.2f | %.1f | %.1f |\n", m.path().c_str(), r.n_sequences,
                a.n_prompt, a.n_gen, r.decode_tokens_per_s, r.ttft_ms_mean, r.itl_ms_mean);
  }
  std::printf("\naggregate decode with %d sequences: %.2fx one sequence\n", a.concurrency,
              results[0].decode_tokens_per_s > 0
                  ? results[1].decode_tokens_per_s / results[0].decode_tokens_per_s
                  : 0.0);
  std::printf(
      "shared %d-token prefix: time to first token %.1f ms cold, %.1f ms reusing it (%.0f%%)\n",
      a.n_prompt, prefix->first, prefix->second,
      prefix->first > 0 ? 100.0 * prefix->second / prefix->first : 0.0);
  return 0;
}

int RunBench(const BenchArgs& a) {
  if (a.n_prompt < 0 || a.n_gen < 0 || a.repetitions < 1 || a.depth < 0 || a.concurrency < 1 ||
      (a.n_prompt == 0 && a.n_gen == 0)) {
    std::fprintf(
        stderr, "error: bench needs -p >= 0, -n >= 0 (not both 0), -d >= 0, -r >= 1 and -c >= 1\n");
    return 1;
  }
  if (a.output != "md" && a.output != "json") {
    std::fprintf(stderr, "error: --output must be md or json, not '%s'\n", a.output.c_str());
    return 1;
  }
  Result<std::string> path = model::ResolveModelPath(a.model);
  Result<model::Model> m = path.ok() ? model::Model::Open(*path) : path.status();
  const int32_t n_ctx = a.depth + std::max(a.n_prompt, a.n_gen);
  if (m.ok() && n_ctx > m->config().max_position_embeddings) {
    m = InvalidArgument("-d + max(-p, -n) exceeds the model's context of " +
                        std::to_string(m->config().max_position_embeddings));
  }
  if (!m.ok()) {
    std::fprintf(stderr, "error: %s\n", m.status().ToString().c_str());
    return 1;
  }
  if (!PrepareWeightsOrReport(*m, a.compute)) return 1;
  Compute compute = MakeCompute(*m, a.compute);
  if (a.concurrency > 1) {
    if (a.n_prompt < 1) {
      std::fprintf(stderr, "error: -c needs -p >= 1 (each request needs a prompt)\n");
      return 1;
    }
    return RunConcurrencyBench(a, *m, *compute.forward);
  }
  const int32_t block = model::kDefaultKvBlockSize;
  Result<model::KvCache> kv = model::KvCache::Create(model::KvCacheShape::ForModel(
      m->config(), (n_ctx + block - 1) / block, block, *model::ParseKvType(a.kv_type)));
  if (!kv.ok()) {
    std::fprintf(stderr, "error: %s\n", kv.status().ToString().c_str());
    return 1;
  }
  BenchRunner runner(*m, *compute.forward, std::move(kv).value());
  std::vector<TestResult> results;
  for (bool prompt : {true, false}) {
    const int n = prompt ? a.n_prompt : a.n_gen;
    if (n == 0) continue;
    Result<TestResult> r = RunTest(runner, prompt, n, a.repetitions, a.depth);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
      return 1;
    }
    results.push_back(*r);
  }
  Print(a, *m, compute, results);
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prompt processing and generation speed (tokens/s), in the manner of llama-bench");
  AddDeclaredOption(*cmd, "--model", args->model)->required();
  AddDeclaredOption(*cmd, "-p,--n-prompt", args->n_prompt);
  AddDeclaredOption(*cmd, "-n,--n-gen", args->n_gen);
  AddDeclaredOption(*cmd, "-r,--repetitions", args->repetitions);
  AddDeclaredOption(*cmd, "-d,--n-depth", args->depth);
  AddDeclaredOption(*cmd, "-c,--concurrency", args->concurrency);
  AddDeclaredOption(*cmd, "--output", args->output);
  AddDeclaredOption(*cmd, "--kv-type", args->kv_type)->check(CLI::IsMember({"f32", "f16"}));
  AddComputeOptions(*cmd, args->compute);
  cmd->callback([args, exit_code] { *exit_code = RunBench(*args); });
}

}  // namespace medassist::apps
