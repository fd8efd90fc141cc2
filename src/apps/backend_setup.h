// Building the backends `serve` and `eval` run on, from their command-line values: the local
// engine on a loaded model, and the lists of upstream URLs of the remote backend.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/generation_session.h"
#include "server/local_backend.h"

namespace medassist::apps {

// The engine's settings (--context, --kv-cache-mib, --kv-type, ... as serve declares them).
struct LocalEngineArgs {
  std::string model = {};
  std::string tokenizer = {};
  std::string system_prompt = {};
  std::string kv_type = "f16";
  int context = 0, kv_cache_mib = 0, max_batch_tokens = 0, max_running = 0;
  int max_pending = 256;
  ComputeArgs compute = {};
};

// Loads the model (downloading a repo id that is not cached), merges --lora, converts its weights
// to --dtype and starts the engine; nullptr after logging why not.
std::unique_ptr<server::LocalBackend> LocalBackendOrReport(const LocalEngineArgs& a);

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitCommas(const std::string& s);
// Comma-separated URLs with credentials and queries removed, for logs and reports.
std::string RedactedUrls(const std::string& urls);

}  // namespace medassist::apps
