#include "apps/cli.h"

#include <CLI/CLI.hpp>

#include "core/log.h"

namespace medassist::apps {

int RunCli(int argc, char** argv) {
  CLI::App app{"medassist: a medical-assistant LLM system"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->envname("MEDASSIST_LOG_LEVEL");
  app.add_subcommand("version", "Print the version")->callback([] { std::puts("medassist 0.1.0"); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

}  // namespace medassist::apps
