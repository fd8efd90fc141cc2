#include "apps/logits_command.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/generation_session.h"
#include "apps/options.h"
#include "model/forward_reference.h"
#include "model/model_path.h"

namespace medassist::apps {
namespace {

struct LogitsArgs {
  std::string model, ids, out, dtype, lora;
};

// "1,403,407" -> ids; InvalidArgument for anything but comma-separated non-negative integers.
Result<std::vector<int32_t>> ParseIds(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const long value = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value < 0 || value > INT32_MAX) {
      return InvalidArgument("--token-ids: '" + item + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  if (ids.empty())
    return InvalidArgument("--token-ids: give at least one token id, e.g. --token-ids 1,403");
  return ids;
}

// Every position's logits for ids run as one prompt of one sequence.
Result<nlohmann::json> ComputeLogits(const model::Model& m, const std::vector<int32_t>& ids) {
  const int32_t n = static_cast<int32_t>(ids.size());
  const int32_t block_size = model::kDefaultKvBlockSize;
  ASSIGN_OR_RETURN(model::KvCache kv, model::KvCache::Create(model::KvCacheShape::ForModel(
                                          m.config(), (n + block_size - 1) / block_size)));
  model::Batch batch;
  batch.block_tables.emplace_back();
  for (int32_t b = 0; b < kv.shape().n_blocks; ++b) batch.block_tables[0].push_back(b);
  for (int32_t i = 0; i < n; ++i) batch.rows.push_back({0, ids[i], i, true});
  const int64_t vocab = m.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  RETURN_IF_ERROR(model::ForwardReference(m, batch, kv, logits));
  nlohmann::json rows = nlohmann::json::array();
  for (int32_t i = 0; i < n; ++i) {
    rows.push_back(
        std::vector<float>(logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab));
  }
  return nlohmann::json{{"model", m.path()}, {"n_vocab", vocab}, {"ids", ids}, {"logits", rows}};
}

int RunLogits(const LogitsArgs& a) {
  if (a.model.empty() || a.ids.empty()) {
    std::fprintf(stderr, "error: logits needs --model PATH and --token-ids ID,ID,...\n");
    return 1;
  }
  Result<std::vector<int32_t>> ids = ParseIds(a.ids);
  Result<std::string> path = ids.ok() ? model::ResolveModelPath(a.model) : ids.status();
  Result<model::Model> m = path.ok() ? model::Model::Open(*path) : path.status();
  if (m.ok() && !PrepareWeightsOrReport(*m, {.dtype = a.dtype, .lora = a.lora})) return 1;
  Result<nlohmann::json> out = m.ok() ? ComputeLogits(*m, *ids) : m.status();
  if (!out.ok()) {
    std::fprintf(stderr, "error: %s\n", out.status().ToString().c_str());
    return 1;
  }
  const std::string text = out->dump() + "\n";
  if (a.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::ofstream file(a.out, std::ios::binary);
  file << text;
  if (!file.flush()) {
    std::fprintf(stderr, "error: cannot write %s\n", a.out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void AddLogitsCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Print the reference forward pass's logits for token ids, as JSON");
  AddDeclaredOption(*cmd, "--model", args->model);
  AddDeclaredOption(*cmd, "--token-ids", args->ids);
  AddDeclaredOption(*cmd, "--out", args->out);
  AddDtypeOption(*cmd, args->dtype);
  AddLoraOption(*cmd, args->lora);
  cmd->callback([args, exit_code] { *exit_code = RunLogits(*args); });
}

}  // namespace medassist::apps
