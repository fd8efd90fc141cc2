// Subcommands about the tokenizer: tokenize, detokenize, tokenize-bench.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Each registers its subcommand on app; the subcommand's callback sets *exit_code.
void AddTokenizeCommand(CLI::App& app, int* exit_code);
void AddDetokenizeCommand(CLI::App& app, int* exit_code);
void AddTokenizeBenchCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
