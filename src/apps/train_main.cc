// medassist-train: the LibTorch half of `medassist train` (see train_command.h). Run by medassist,
// or directly with the same arguments: `medassist-train train --model ... --data ...`.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "apps/options.h"
#include "apps/train_command.h"
#include "core/log.h"
#include "kernels/cpu_features.h"

namespace {

// OpenBLAS (LibTorch's F32 GEMM) reads OPENBLAS_CORETYPE once, when it loads, and picks its AVX2
// kernels on this machine's AVX-512 cores without it (2.4x slower measured on a training step).
// So the program sets it and starts itself again, once, before any work.
void ChooseOpenBlasKernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  if (!medassist::kernels::DetectCpuFeatures().avx512f) return;
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  execv("/proc/self/exe", argv);  // on failure, carry on with what OpenBLAS chose
}

}  // namespace

int main(int argc, char** argv) {
  ChooseOpenBlasKernels(argv);
  CLI::App app{"medassist-train: LoRA fine-tuning (run as `medassist train ...`)"};
  app.require_subcommand(1);
  std::string log_level;
  medassist::apps::AddDeclaredOption(app, "--log-level", log_level);
  int exit_code = 0;
  medassist::apps::AddTrainCommand(app, std::vector<std::string>(argv, argv + argc), &exit_code);
  app.parse_complete_callback([&] {
    medassist::Status s = medassist::InitLogging(log_level);
    if (!s.ok()) throw CLI::ValidationError("--log-level", s.message());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
