#include "apps/quantize_command.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/options.h"
#include "model/gguf_export.h"
#include "model/model_path.h"

namespace medassist::apps {
namespace {

struct QuantizeArgs {
  std::string in, out, type, tokenizer;
  bool allow_requantize = false;
};

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
double Bpw(uint64_t bytes, uint64_t n) { return n == 0 ? 0 : 8.0 * static_cast<double>(bytes) / n; }

// One row per output type and a total, as llama-quantize ends with model and quant sizes.
void PrintSummary(const QuantizeArgs& a, const model::GgufExportSummary& s, double seconds) {
  std::printf("quantize: %s -> %s as %s (general.file_type %u) in %.2f s\n\n", a.in.c_str(),
              a.out.c_str(), a.type.c_str(), s.file_type, seconds);
  std::printf("| type | tensors | weights | size before | size after | bits/weight |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  uint64_t n_elements = 0;
  for (const model::GgufTypeCount& t : s.by_type) {
    std::printf("| %s | %zu | %.2f M | %.2f MiB | %.2f MiB | %.2f |\n", t.type.c_str(), t.n_tensors,
                static_cast<double>(t.n_elements) / 1e6, Mib(t.source_bytes), Mib(t.bytes),
                Bpw(t.bytes, t.n_elements));
    n_elements += t.n_elements;
  }
  std::printf("| total | %zu | %.2f M | %.2f MiB | %.2f MiB | %.2f |\n\n", s.n_tensors,
              static_cast<double>(n_elements) / 1e6, Mib(s.source_bytes), Mib(s.tensor_bytes),
              Bpw(s.tensor_bytes, n_elements));
  std::printf("model size = %.2f MiB (%.2f BPW), quant size = %.2f MiB (%.2f BPW), file %.2f MiB\n",
              Mib(s.source_bytes), Bpw(s.source_bytes, n_elements), Mib(s.tensor_bytes),
              Bpw(s.tensor_bytes, n_elements), Mib(s.file_bytes));
}

// --type: the mixes a quantized file can have ("keep" is export-gguf's, not a type).
Result<model::WeightMix> ParseType(const std::string& type) {
  Result<model::WeightMix> mix = model::ParseWeightMix(type);
  if (!mix.ok() || *mix == model::WeightMix::kKeep) {
    return InvalidArgument("--type '" + type +
                           "' is not one of Q8_0, Q4_0, Q4_K, Q4_K_M, F16, BF16, F32");
  }
  return mix;
}

Status RunQuantizeOrError(const QuantizeArgs& a) {
  ASSIGN_OR_RETURN(model::WeightMix mix, ParseType(a.type));
  ASSIGN_OR_RETURN(std::string in, model::ResolveModelPath(a.in));
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(model::GgufExportSummary summary,
                   model::ExportGguf({.model_dir = in,
                                      .out_path = a.out,
                                      .tokenizer_path = a.tokenizer,
                                      .out_type = mix,
                                      .allow_requantize = a.allow_requantize}));
  PrintSummary(a, summary,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status::Ok();
}

}  // namespace

void AddQuantizeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Write a model (HF folder, .gguf or cached repo id) as a GGUF file of another type, "
      "e.g. quantize IN OUT.gguf --type Q4_K_M");
  cmd->add_option("in", args->in, "Model to read: a HF folder, a .gguf file or ORG/NAME")
      ->required();
  cmd->add_option("out", args->out,
                  "GGUF file to write (under a temporary name, renamed when complete)")
      ->required();
  AddDeclaredOption(*cmd, "--type", args->type)->required();
  AddDeclaredFlag(*cmd, "--allow-requantize", args->allow_requantize);
  AddDeclaredOption(*cmd, "--tokenizer", args->tokenizer);
  cmd->callback([args, exit_code] {
    const Status s = RunQuantizeOrError(*args);
    if (!s.ok()) std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    *exit_code = s.ok() ? 0 : 1;
  });
}

}  // namespace medassist::apps
