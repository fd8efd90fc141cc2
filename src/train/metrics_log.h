// The training run's metrics: one JSON line per Log() call in RUN_DIR/metrics.jsonl, and the same
// values as TensorBoard scalars in RUN_DIR/tensorboard/ (docs/training-metrics.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "train/tensorboard_writer.h"

namespace medassist::train {

// Metric names the trainer logs (the names of Hugging Face's Trainer and TRL's SFTTrainer).
// Train step:
inline constexpr std::string_view kMetricLoss = "loss";
inline constexpr std::string_view kMetricMeanTokenAccuracy = "mean_token_accuracy";
inline constexpr std::string_view kMetricEntropy = "entropy";
inline constexpr std::string_view kMetricGradNorm = "grad_norm";
inline constexpr std::string_view kMetricLearningRate = "learning_rate";
inline constexpr std::string_view kMetricEpoch = "epoch";
inline constexpr std::string_view kMetricNumTokens = "num_tokens";
inline constexpr std::string_view kMetricTrainTokensPerSecond = "train_tokens_per_second";
// Evaluation (eval_ prefix, as the HF Trainer's evaluate()):
inline constexpr std::string_view kMetricEvalLoss = "eval_loss";
inline constexpr std::string_view kMetricEvalMeanTokenAccuracy = "eval_mean_token_accuracy";
inline constexpr std::string_view kMetricEvalEntropy = "eval_entropy";
inline constexpr std::string_view kMetricEvalRuntime = "eval_runtime";
inline constexpr std::string_view kMetricEvalSamplesPerSecond = "eval_samples_per_second";
inline constexpr std::string_view kMetricEvalStepsPerSecond = "eval_steps_per_second";
// System (SystemSampler, system_metrics.h):
inline constexpr std::string_view kMetricSystemCpuPercent = "system/cpu_percent";
inline constexpr std::string_view kMetricSystemProcessRssMb = "system/process_rss_mb";
inline constexpr std::string_view kMetricSystemMemoryUsedPercent = "system/memory_used_percent";
// Per GPU: GpuMetricName(0, kGpuUtilizationPercent) == "system/gpu.0.utilization_percent".
inline constexpr std::string_view kGpuUtilizationPercent = "utilization_percent";
inline constexpr std::string_view kGpuMemoryUsedMb = "memory_used_mb";
inline constexpr std::string_view kGpuTemperatureC = "temperature_c";
inline constexpr std::string_view kGpuPowerW = "power_w";
std::string GpuMetricName(int gpu_index, std::string_view what);

// The keys every metrics.jsonl line starts with: the optimizer step and the Unix time it was
// logged.
inline constexpr std::string_view kJsonlStep = "step";
inline constexpr std::string_view kJsonlTime = "time";

// The TensorBoard tag of a metric, as transformers' TensorBoardCallback rewrites log keys
// (integrations/integration_utils.py rewrite_logs: "eval_x" -> "eval/x", "test_x" -> "test/x",
// anything else -> "train/x"), except that our "system/..." names keep their own group.
std::string TensorBoardTag(std::string_view name);

using MetricValues = std::vector<std::pair<std::string, double>>;

struct MetricsLogOptions {
  // Start metrics.jsonl afresh instead of appending (a resumed run appends).
  bool truncate = false;
  // Also write TensorBoard event files under RUN_DIR/tensorboard/.
  bool tensorboard = true;
};

class MetricsLog {
 public:
  // Creates run_dir if needed and opens RUN_DIR/metrics.jsonl and a new TensorBoard event file.
  static Result<MetricsLog> Open(const std::string& run_dir, const MetricsLogOptions& options = {});

  MetricsLog() = default;
  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&& other) noexcept;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  // Writes {"step":N,"time":T,"name":value,...} (values in the order given; NaN and infinities as
  // null) as one line, the values as TensorBoard scalars at step N, and flushes both.
  Status Log(int64_t step, const MetricValues& values);
  Status Close();

  const std::string& jsonl_path() const { return jsonl_path_; }
  // RUN_DIR/tensorboard
  const std::string& tensorboard_dir() const { return tensorboard_dir_; }

 private:
  Status WriteLine(const std::string& line);

  std::FILE* jsonl_ = nullptr;
  std::string jsonl_path_;
  std::string tensorboard_dir_;
  TensorBoardWriter tensorboard_;
};

}  // namespace medassist::train
