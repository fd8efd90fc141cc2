#include "train/system_metrics.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <vector>

namespace medassist::train {
namespace {

// The few NVML declarations used, as in nvml.h (not included: no build dependency on CUDA).
using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of time a kernel ran over the last sample period
  unsigned int memory;  // percent of time device memory was read or written
};
struct nvmlMemory_t {
  unsigned long long total, free, used;  // bytes
};
constexpr int kNvmlTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU

// A value from a "Key:   123 kB" line of a /proc file, or -1.
double ProcKeyValue(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      return std::strtod(line.c_str() + key.size() + 1, nullptr);
    }
  }
  return -1;
}

}  // namespace

// Function pointers into a dlopen'ed libnvidia-ml, and the device handles found at start.
struct SystemSampler::Nvml {
  void* library = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;  // milliwatts
  std::vector<nvmlDevice_t> devices;

  ~Nvml() {
    if (shutdown != nullptr) shutdown();
    if (library != nullptr) dlclose(library);
  }

  template <typename Fn>
  bool Load(Fn& fn, const char* name) {
    fn = reinterpret_cast<Fn>(dlsym(library, name));
    return fn != nullptr;
  }

  // Loads the library and lists the devices; false when NVML is absent or fails to start.
  bool Open(const std::string& path) {
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return false;
    nvmlReturn_t (*init)() = nullptr;
    nvmlReturn_t (*count)(unsigned int*) = nullptr;
    nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
    if (!Load(init, "nvmlInit_v2") || !Load(count, "nvmlDeviceGetCount_v2") ||
        !Load(handle, "nvmlDeviceGetHandleByIndex_v2") ||
        !Load(utilization, "nvmlDeviceGetUtilizationRates") ||
        !Load(memory, "nvmlDeviceGetMemoryInfo") ||
        !Load(temperature, "nvmlDeviceGetTemperature") || !Load(power, "nvmlDeviceGetPowerUsage")) {
      return false;
    }
    if (init() != 0) return false;
    Load(shutdown, "nvmlShutdown");  // only once init succeeded
    unsigned int n = 0;
    if (count(&n) != 0) return false;
    for (unsigned int i = 0; i < n; ++i) {
      nvmlDevice_t device = nullptr;
      if (handle(i, &device) == 0) devices.push_back(device);
    }
    return true;
  }
};

double ProcessCpuSeconds() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after "(comm)", which may hold spaces: state(3) ... utime(14) stime(15).
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  double utime = -1, stime = -1;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  if (utime < 0 || stime < 0) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ProcessRssMb() {
  double kb = ProcKeyValue("/proc/self/status", "VmRSS");
  return kb < 0 ? -1 : kb / 1024.0;
}

double MemoryUsedPercent() {
  double total = ProcKeyValue("/proc/meminfo", "MemTotal");
  double available = ProcKeyValue("/proc/meminfo", "MemAvailable");
  if (total <= 0 || available < 0) return -1;
  return 100.0 * (1.0 - available / total);
}

SystemSampler::SystemSampler(const SystemSamplerOptions& options)
    : nvml_(std::make_unique<Nvml>()),
      cpu_seconds_(ProcessCpuSeconds()),
      sampled_at_(std::chrono::steady_clock::now()) {
  if (!nvml_->Open(options.nvml_library)) nvml_.reset();
}

SystemSampler::~SystemSampler() = default;

int SystemSampler::gpu_count() const {
  return nvml_ == nullptr ? 0 : static_cast<int>(nvml_->devices.size());
}

MetricValues SystemSampler::Sample() {
  MetricValues out;
  auto now = std::chrono::steady_clock::now();
  double cpu_seconds = ProcessCpuSeconds();
  double wall_seconds = std::chrono::duration<double>(now - sampled_at_).count();
  if (cpu_seconds >= 0 && cpu_seconds_ >= 0 && wall_seconds > 0) {
    out.emplace_back(kMetricSystemCpuPercent, 100.0 * (cpu_seconds - cpu_seconds_) / wall_seconds);
  }
  cpu_seconds_ = cpu_seconds;
  sampled_at_ = now;
  if (double rss = ProcessRssMb(); rss >= 0) out.emplace_back(kMetricSystemProcessRssMb, rss);
  if (double used = MemoryUsedPercent(); used >= 0) {
    out.emplace_back(kMetricSystemMemoryUsedPercent, used);
  }
  if (nvml_ != nullptr) SampleGpus(out);
  return out;
}

void SystemSampler::SampleGpus(MetricValues& out) const {
  for (size_t i = 0; i < nvml_->devices.size(); ++i) {
    nvmlDevice_t device = nvml_->devices[i];
    int index = static_cast<int>(i);
    nvmlUtilization_t utilization{};
    if (nvml_->utilization(device, &utilization) == 0) {
      out.emplace_back(GpuMetricName(index, kGpuUtilizationPercent), utilization.gpu);
    }
    nvmlMemory_t memory{};
    if (nvml_->memory(device, &memory) == 0) {
      out.emplace_back(GpuMetricName(index, kGpuMemoryUsedMb), memory.used / (1024.0 * 1024.0));
    }
    unsigned int celsius = 0, milliwatts = 0;
    if (nvml_->temperature(device, kNvmlTemperatureGpu, &celsius) == 0) {
      out.emplace_back(GpuMetricName(index, kGpuTemperatureC), celsius);
    }
    if (nvml_->power(device, &milliwatts) == 0) {
      out.emplace_back(GpuMetricName(index, kGpuPowerW), milliwatts / 1000.0);
    }
  }
}

}  // namespace medassist::train
