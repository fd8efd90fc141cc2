// The load subcommand: closed-loop clients streaming /v1/chat/completions against a running
// server (ours or any OpenAI-compatible one) for a fixed time; reports aggregate generated
// tokens/s, time to first token and inter-token latency percentiles (see docs/performance.md,
// "Server under load").
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers load on app; its callback sets *exit_code (0 when every request succeeded, else 1).
void AddLoadCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
