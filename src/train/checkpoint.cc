#include "train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "train/lora_export.h"

namespace medassist::train {
namespace fs = std::filesystem;
namespace {

constexpr char kStateFile[] = "trainer_state.json";
constexpr char kOptimizerFile[] = "optimizer.pt";

// (step, path) of each complete checkpoint under output_dir.
std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !name.starts_with("checkpoint-")) continue;
    if (!fs::exists(entry.path() / kStateFile)) continue;
    try {
      found.emplace_back(std::stoll(name.substr(11)), entry.path().string());
    } catch (const std::exception&) {
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

nlohmann::json StateJson(const TrainerState& s) {
  return {{"global_step", s.global_step},
          {"epoch", s.epoch},
          {"best_eval_loss", std::isfinite(s.best_eval_loss) ? nlohmann::json(s.best_eval_loss)
                                                             : nlohmann::json(nullptr)},
          {"best_checkpoint", s.best_checkpoint},
          {"seed", s.seed},
          {"global_batch", s.global_batch},
          {"n_train_examples", s.n_train_examples}};
}

}  // namespace

std::string CheckpointDir(const std::string& output_dir, int64_t step) {
  return (fs::path(output_dir) / fmt::format("checkpoint-{}", step)).string();
}

Status SaveCheckpoint(const std::string& dir, const TorchQwen2& net, torch::optim::Optimizer& opt,
                      const TrainerState& state, const std::string& base_model_name) {
  const std::string tmp = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  RETURN_IF_ERROR(model::WritePeftAdapter(tmp, ExportLora(net, base_model_name)));
  try {
    torch::serialize::OutputArchive archive;
    opt.save(archive);
    archive.save_to((fs::path(tmp) / kOptimizerFile).string());
  } catch (const std::exception& e) {
    return IoError(fmt::format("{}: writing the optimizer state: {}", tmp, e.what()));
  }
  std::ofstream out(fs::path(tmp) / kStateFile);
  out << StateJson(state).dump(2) << "\n";
  out.close();
  if (!out) return IoError(fmt::format("{}: cannot write {}", tmp, kStateFile));
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return IoError(fmt::format("renaming {} to {}: {}", tmp, dir, ec.message()));
  return Status::Ok();
}

Result<TrainerState> LoadCheckpoint(const std::string& dir, TorchQwen2& net,
                                    torch::optim::Optimizer& opt) {
  std::ifstream in(fs::path(dir) / kStateFile);
  if (!in) return NotFound(fmt::format("{}: no {} (not a checkpoint folder?)", dir, kStateFile));
  TrainerState s;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    s.global_step = j.at("global_step").get<int64_t>();
    s.epoch = j.at("epoch").get<double>();
    // null: no evaluation yet (JSON has no infinity)
    s.best_eval_loss = j.at("best_eval_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                        : j.at("best_eval_loss").get<double>();
    s.best_checkpoint = j.at("best_checkpoint").get<std::string>();
    s.seed = j.at("seed").get<uint64_t>();
    s.global_batch = j.at("global_batch").get<int64_t>();
    s.n_train_examples = j.at("n_train_examples").get<int64_t>();
  } catch (const std::exception& e) {
    return DataLoss(fmt::format("{}/{}: {}", dir, kStateFile, e.what()));
  }
  ASSIGN_OR_RETURN(model::LoraAdapter adapter, model::ReadPeftAdapter(dir));
  RETURN_IF_ERROR(LoadLora(net, adapter).WithContext(dir));
  try {
    torch::serialize::InputArchive archive;
    archive.load_from((fs::path(dir) / kOptimizerFile).string());
    opt.load(archive);
  } catch (const std::exception& e) {
    return DataLoss(fmt::format("{}/{}: {}", dir, kOptimizerFile, e.what()));
  }
  return s;
}

Result<std::string> ResolveResume(const std::string& output_dir, const std::string& resume) {
  if (resume != "latest") return resume;
  auto found = ListCheckpoints(output_dir);
  if (found.empty())
    return NotFound(fmt::format("--resume latest: no checkpoint under {}", output_dir));
  return found.back().second;
}

void RotateCheckpoints(const std::string& output_dir, int64_t keep, const std::string& protect) {
  auto found = ListCheckpoints(output_dir);
  int64_t excess = std::ssize(found) - keep;
  for (const auto& [step, path] : found) {
    if (excess <= 0) break;
    if (fs::path(path) == fs::path(protect)) continue;
    std::error_code ec;
    fs::remove_all(path, ec);
    spdlog::info("removed {} (--save-total-limit {})", path, keep);
    --excess;
  }
}

}  // namespace medassist::train
