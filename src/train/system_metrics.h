// System metrics logged beside the training metrics: this process's CPU use and resident memory,
// the machine's memory use, and per-GPU utilization, memory, temperature and power from NVML.
// NVML (libnvidia-ml.so.1, installed with the NVIDIA driver) is loaded at run time with dlopen, so
// the program neither links nor needs it: without it there are simply no GPU metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "train/metrics_log.h"

namespace medassist::train {

struct SystemSamplerOptions {
  // The NVML library to load; a name that does not load means "no GPUs" (tests use that).
  std::string nvml_library = "libnvidia-ml.so.1";
};

class SystemSampler {
 public:
  explicit SystemSampler(const SystemSamplerOptions& options = {});
  ~SystemSampler();
  SystemSampler(const SystemSampler&) = delete;
  SystemSampler& operator=(const SystemSampler&) = delete;

  // system/cpu_percent (this process since the previous Sample() or construction; 100 = one core
  // busy), system/process_rss_mb, system/memory_used_percent, then for each GPU N
  // system/gpu.N.{utilization_percent, memory_used_mb, temperature_c, power_w}. A value that cannot
  // be read is left out; this never fails.
  MetricValues Sample();

  // GPUs NVML reported at construction (0 without NVML).
  int gpu_count() const;

 private:
  struct Nvml;
  void SampleGpus(MetricValues& out) const;

  std::unique_ptr<Nvml> nvml_;
  double cpu_seconds_ = 0;  // utime + stime at the previous sample
  std::chrono::steady_clock::time_point sampled_at_;
};

// The readings behind Sample(), each < 0 when it cannot be read (no /proc).
double ProcessCpuSeconds();  // /proc/self/stat utime + stime
double ProcessRssMb();       // /proc/self/status VmRSS
double MemoryUsedPercent();  // /proc/meminfo 100 * (1 - MemAvailable / MemTotal)

}  // namespace medassist::train
