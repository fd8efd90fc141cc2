// `medassist eval`: the medical evaluation harness (src/eval/) on the local engine or a remote
// OpenAI-compatible endpoint; see docs/evaluation.md.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

void AddEvalCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
