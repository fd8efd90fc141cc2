#include "apps/cli.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/bench_command.h"
#include "apps/chat_command.h"
#include "apps/eval_command.h"
#include "apps/export_gguf_command.h"
#include "apps/generate_command.h"
#include "apps/kl_divergence_command.h"
#include "apps/load_command.h"
#include "apps/logits_command.h"
#include "apps/merge_command.h"
#include "apps/options.h"
#include "apps/pull_command.h"
#include "apps/push_command.h"
#include "apps/quantize_command.h"
#include "apps/serve_command.h"
#include "apps/synth_model_command.h"
#include "apps/tokenize_commands.h"
#include "apps/train_command.h"
#include "apps/train_report_command.h"
#include "core/log.h"

namespace medassist::apps {

int RunCli(int argc, char** argv) {
  CLI::App app{"medassist: a medical-assistant LLM system"};
  app.require_subcommand(1);
  std::string log_level;
  AddDeclaredOption(app, "--log-level", log_level);
  int exit_code = 0;
  app.add_subcommand("version", "Print the version")->callback([] {
    std::puts("medassist 0.1.0");
  });
  app.add_subcommand("config-doc", "Print the configuration reference (docs/configuration.md)")
      ->callback([] { std::fputs(ConfigurationMarkdown().c_str(), stdout); });
  AddTokenizeCommand(app, &exit_code);
  AddDetokenizeCommand(app, &exit_code);
  AddTokenizeBenchCommand(app, &exit_code);
  AddSynthModelCommand(app, &exit_code);
  AddExportGgufCommand(app, &exit_code);
  AddQuantizeCommand(app, &exit_code);
  AddGenerateCommand(app, &exit_code);
  AddChatCommand(app, &exit_code);
  AddLogitsCommand(app, &exit_code);
  AddBenchCommand(app, &exit_code);
  AddKlDivergenceCommand(app, &exit_code);
  AddServeCommand(app, &exit_code);
  AddEvalCommand(app, &exit_code);
  AddLoadCommand(app, &exit_code);
  AddPullCommand(app, &exit_code);
  AddPushCommand(app, &exit_code);
  AddTrainReportCommand(app, &exit_code);
  AddMergeCommand(app, &exit_code);
  AddTrainCommand(app, std::vector<std::string>(argv, argv + argc), &exit_code);
  // Logging must be set up before any subcommand runs: parse_complete_callback runs after
  // parsing and before the subcommands' callbacks.
  app.parse_complete_callback([&] {
    Status s = InitLogging(log_level);
    if (!s.ok()) throw CLI::ValidationError("--log-level", s.message());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace medassist::apps
