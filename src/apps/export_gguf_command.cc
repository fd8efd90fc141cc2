#include "apps/export_gguf_command.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/options.h"
#include "core/log.h"
#include "model/gguf_export.h"

namespace medassist::apps {
namespace {

struct ExportArgs {
  std::string model, out, tokenizer, out_type;
};

int RunExportGguf(const ExportArgs& a) {
  if (a.model.empty() || a.out.empty()) {
    std::fprintf(stderr, "error: export-gguf needs --model HF_FOLDER and --out FILE.gguf\n");
    return 1;
  }
  Result<model::GgufExportType> out_type = model::ParseGgufExportType(a.out_type);
  if (!out_type.ok()) {
    std::fprintf(stderr, "error: --out-type: %s\n", out_type.status().message().c_str());
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  Result<model::GgufExportSummary> summary = model::ExportGguf({.model_dir = a.model,
                                                                .out_path = a.out,
                                                                .tokenizer_path = a.tokenizer,
                                                                .out_type = *out_type});
  if (!summary.ok()) {
    std::fprintf(stderr, "error: %s\n", summary.status().ToString().c_str());
    return 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info(
      "export-gguf: wrote {} (arch {}, file type {}): {} tensors, {:.1f} MB of tensor "
      "data, {} bytes in all, in {:.2f} s",
      a.out, summary->arch, summary->file_type, summary->n_tensors,
      static_cast<double>(summary->tensor_bytes) / 1e6, summary->file_bytes, s);
  return 0;
}

}  // namespace

void AddExportGgufCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export-gguf", "Write a HF Qwen2 / Llama model folder as one GGUF file for llama.cpp");
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--out", args->out);
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  AddDeclaredOption(*cmd, "--out-type", args->out_type);
  cmd->callback([args, exit_code] { *exit_code = RunExportGguf(*args); });
}

}  // namespace medassist::apps
