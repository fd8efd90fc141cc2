// Every option of the program is declared once here: its flag, its environment variable, its
// default and its help text. The same table feeds the CLI parser, --help, and docs/configuration.md
// (`medassist config-doc` prints that page; a test keeps the committed copy in step).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace medassist::apps {

struct OptionSpec {
  const char* flag;           // "--tokenizer"
  const char* env;            // "MEDASSIST_TOKENIZER", or "" when there is none
  const char* default_value;  // as text; "" when there is none
  const char* commands;       // subcommands that take it ("all" for global options)
  const char* help;
};

std::span<const OptionSpec> AllOptions();
// The declaration of flag; for a flag declared for different commands with different defaults
// (--dtype), the one whose commands name `command`.
const OptionSpec& FindOption(const char* flag, std::string_view command = "");

// Adds a declared option with a value to app, bound to target (which gets the default).
CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, std::string& target);
CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, int& target);
CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, double& target);
CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, int64_t& target);
// Adds a declared on/off flag.
CLI::Option* AddDeclaredFlag(CLI::App& app, const char* flag, bool& target);

// The markdown of docs/configuration.md.
std::string ConfigurationMarkdown();

}  // namespace medassist::apps
