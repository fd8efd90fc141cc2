#include "train/metrics_log.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

namespace medassist::train {
namespace {

constexpr std::string_view kEvalPrefix = "eval_";
constexpr std::string_view kTestPrefix = "test_";
constexpr std::string_view kSystemPrefix = "system/";

std::string JsonLine(int64_t step, double wall_time, const MetricValues& values) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line[std::string(kJsonlStep)] = step;
  line[std::string(kJsonlTime)] = std::round(wall_time * 1000.0) / 1000.0;
  for (const auto& [name, value] : values) {
    if (std::isfinite(value)) {
      line[name] = value;
    } else {
      line[name] = nullptr;
    }
  }
  return line.dump() + "\n";
}

}  // namespace

std::string GpuMetricName(int gpu_index, std::string_view what) {
  return fmt::format("system/gpu.{}.{}", gpu_index, what);
}

std::string TensorBoardTag(std::string_view name) {
  if (name.starts_with(kEvalPrefix)) return "eval/" + std::string(name.substr(kEvalPrefix.size()));
  if (name.starts_with(kTestPrefix)) return "test/" + std::string(name.substr(kTestPrefix.size()));
  if (name.starts_with(kSystemPrefix)) return std::string(name);
  return "train/" + std::string(name);
}

Result<MetricsLog> MetricsLog::Open(const std::string& run_dir, const MetricsLogOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) return IoError(fmt::format("cannot create run folder {}: {}", run_dir, ec.message()));
  MetricsLog log;
  log.jsonl_path_ = run_dir + "/metrics.jsonl";
  log.tensorboard_dir_ = run_dir + "/tensorboard";
  log.jsonl_ = std::fopen(log.jsonl_path_.c_str(), options.truncate ? "wb" : "ab");
  if (log.jsonl_ == nullptr) {
    return IoError(fmt::format("cannot open {}: {}", log.jsonl_path_, std::strerror(errno)));
  }
  if (options.tensorboard) {
    ASSIGN_OR_RETURN(log.tensorboard_, TensorBoardWriter::Create(log.tensorboard_dir_));
  }
  return log;
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : jsonl_(std::exchange(other.jsonl_, nullptr)),
      jsonl_path_(std::move(other.jsonl_path_)),
      tensorboard_dir_(std::move(other.tensorboard_dir_)),
      tensorboard_(std::move(other.tensorboard_)) {}

MetricsLog& MetricsLog::operator=(MetricsLog&& other) noexcept {
  if (this != &other) {
    if (jsonl_ != nullptr) std::fclose(jsonl_);
    jsonl_ = std::exchange(other.jsonl_, nullptr);
    jsonl_path_ = std::move(other.jsonl_path_);
    tensorboard_dir_ = std::move(other.tensorboard_dir_);
    tensorboard_ = std::move(other.tensorboard_);
  }
  return *this;
}

MetricsLog::~MetricsLog() {
  if (jsonl_ != nullptr) std::fclose(jsonl_);
}

Status MetricsLog::WriteLine(const std::string& line) {
  if (jsonl_ == nullptr) return Internal("metrics log is closed");
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return IoError(fmt::format("cannot write {}: {}", jsonl_path_, std::strerror(errno)));
  }
  return Status::Ok();
}

Status MetricsLog::Log(int64_t step, const MetricValues& values) {
  for (const auto& [name, value] : values) {
    if (name == kJsonlStep || name == kJsonlTime || name.empty()) {
      return InvalidArgument(fmt::format("metric name '{}' is reserved or empty", name));
    }
  }
  double now = WallTimeNow();
  RETURN_IF_ERROR(WriteLine(JsonLine(step, now, values)));
  if (!tensorboard_.is_open()) return Status::Ok();
  for (const auto& [name, value] : values) {
    RETURN_IF_ERROR(
        tensorboard_.AddScalar(TensorBoardTag(name), step, static_cast<float>(value), now));
  }
  return tensorboard_.Flush();
}

Status MetricsLog::Close() {
  Status tb = tensorboard_.Close();
  if (jsonl_ != nullptr && std::fclose(std::exchange(jsonl_, nullptr)) != 0) {
    return IoError(fmt::format("cannot close {}: {}", jsonl_path_, std::strerror(errno)));
  }
  return tb;
}

}  // namespace medassist::train
