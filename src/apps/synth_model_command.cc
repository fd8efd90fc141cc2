#include "apps/synth_model_command.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/options.h"
#include "model/synth_model.h"

namespace medassist::apps {
namespace {

struct SynthArgs {
  std::string config, out, dtype, tokenizer_files;
  int seed = 0;
};

int RunSynthModel(const SynthArgs& a) {
  if (a.config.empty() || a.out.empty()) {
    std::fprintf(stderr, "error: synth-model needs --config CONFIG.json and --out DIR\n");
    return 1;
  }
  if (a.seed < 0) {
    std::fprintf(stderr, "error: --seed must be >= 0, not %d\n", a.seed);
    return 1;
  }
  Result<formats::SafetensorsDtype> dtype = model::ParseSynthDtype(a.dtype);
  if (!dtype.ok()) {
    std::fprintf(stderr, "error: --dtype: %s\n", dtype.status().message().c_str());
    return 1;
  }
  model::SynthModelOptions options{.config_path = a.config,
                                   .out_dir = a.out,
                                   .tokenizer_dir = a.tokenizer_files.empty()
                                                        ? MEDASSIST_TOKENIZER_ASSETS_DIR
                                                        : a.tokenizer_files,
                                   .dtype = *dtype,
                                   .seed = static_cast<uint64_t>(a.seed)};
  const auto start = std::chrono::steady_clock::now();
  Result<model::SynthModelSummary> summary = model::SynthModelFolder(options);
  if (!summary.ok()) {
    std::fprintf(stderr, "error: %s\n", summary.status().ToString().c_str());
    return 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mb = static_cast<double>(summary->weight_bytes) / 1e6;
  std::printf("wrote %s: %s\n  %zu tensors, %.1f MB of %s weights in %.2f s (%.0f MB/s)\n",
              a.out.c_str(), formats::DescribeModelConfig(summary->config).c_str(),
              summary->n_tensors, mb, a.dtype.c_str(), s, s > 0 ? mb / s : 0.0);
  return 0;
}

}  // namespace

void AddSynthModelCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth-model", "Write a HF model folder with random weights of a config.json's shapes");
  AddDeclaredOption(*cmd, "--config", args->config);
  AddDeclaredOption(*cmd, "--out", args->out);
  AddDeclaredOption(*cmd, "--dtype", args->dtype);
  AddDeclaredOption(*cmd, "--seed", args->seed);
  AddDeclaredOption(*cmd, "--tokenizer-files", args->tokenizer_files);
  cmd->callback([args, exit_code] { *exit_code = RunSynthModel(*args); });
}

}  // namespace medassist::apps
