// The kl-divergence subcommand: how far a model's next-token distributions are from a base
// model's (normally a quantised file against its F32 original) over a fixed text, teacher-forced,
// reported as llama-perplexity --kl-divergence reports it (see kl_divergence.h and
// docs/performance.md, "Quantization quality").
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "core/status.h"

namespace medassist::apps {

// Registers kl-divergence on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddKlDivergenceCommand(CLI::App& app, int* exit_code);

// The text of a JSON-lines file of Question, Complex_CoT and Response rows: per row
// Question + "\n\n" + Complex_CoT + "\n\n" + Response, rows joined by "\n\n". NotFound for a
// missing file; InvalidArgument naming the line for bad JSON, a missing field and an empty file.
Result<std::string> SftJsonlText(const std::string& path);

}  // namespace medassist::apps
