// The one command-line program: `medassist <subcommand> ...`.
#pragma once

namespace medassist::apps {

// Parses argv, runs the chosen subcommand and returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace medassist::apps
