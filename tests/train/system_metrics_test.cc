#include "train/system_metrics.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <map>
#include <thread>

namespace medassist::train {
namespace {

// No NVML under this name: the sampler must run without GPUs.
const SystemSamplerOptions kNoNvml{.nvml_library = "libmedassist-no-such-nvml.so.1"};

std::map<std::string, double> AsMap(const MetricValues& values) {
  return {values.begin(), values.end()};
}

double ProcessCpuClockSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double SteadySeconds() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

// Spins until this process has used `cpu_seconds` of CPU (however busy the machine is).
void SpinForCpu(double cpu_seconds) {
  double end = ProcessCpuClockSeconds() + cpu_seconds;
  volatile uint64_t sink = 0;
  while (ProcessCpuClockSeconds() < end) {
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<uint64_t>(i);
  }
}

TEST(SystemSamplerTest, CpuPercentRisesUnderABusyLoop) {
  SystemSampler sampler(kNoNvml);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::map<std::string, double> idle = AsMap(sampler.Sample());
  double cpu0 = ProcessCpuClockSeconds(), wall0 = SteadySeconds();
  SpinForCpu(0.4);
  std::map<std::string, double> busy = AsMap(sampler.Sample());
  double cpu1 = ProcessCpuClockSeconds(), wall1 = SteadySeconds();
  ASSERT_TRUE(idle.count("system/cpu_percent"));
  ASSERT_TRUE(busy.count("system/cpu_percent"));
  EXPECT_LT(idle["system/cpu_percent"], 20.0);
  // The same ratio measured with the kernel's precise process clock; /proc/self/stat counts in
  // 10 ms ticks, so allow two ticks of difference. On an idle machine both are about 100.
  double expected = 100.0 * (cpu1 - cpu0) / (wall1 - wall0);
  double tolerance = 100.0 * 0.02 / (wall1 - wall0) + 2.0;
  EXPECT_NEAR(busy["system/cpu_percent"], expected, tolerance);
  EXPECT_GT(busy["system/cpu_percent"], idle["system/cpu_percent"] + 10.0);
}

TEST(SystemSamplerTest, ReadsResidentAndSystemMemory) {
  std::vector<char> touched(64 << 20, 1);  // 64 MB resident while sampling
  SystemSampler sampler(kNoNvml);
  std::map<std::string, double> m = AsMap(sampler.Sample());
  EXPECT_GT(m["system/process_rss_mb"], 64.0);
  EXPECT_LT(m["system/process_rss_mb"], 1e6);
  EXPECT_GT(m["system/memory_used_percent"], 0.0);
  EXPECT_LE(m["system/memory_used_percent"], 100.0);
  EXPECT_EQ(touched[12345], 1);
}

TEST(SystemSamplerTest, NoGpuKeysWithoutNvml) {
  SystemSampler sampler(kNoNvml);
  EXPECT_EQ(sampler.gpu_count(), 0);
  for (const auto& [name, value] : sampler.Sample()) {
    EXPECT_FALSE(name.starts_with("system/gpu.")) << name;
  }
}

TEST(SystemSamplerTest, GpuKeysMatchTheGpusNvmlReports) {
  SystemSampler sampler;  // the real libnvidia-ml.so.1 when the machine has one
  int n_gpu_keys = 0;
  for (const auto& [name, value] : sampler.Sample()) {
    if (name.starts_with("system/gpu.")) ++n_gpu_keys;
  }
  EXPECT_LE(n_gpu_keys, 4 * sampler.gpu_count());
  if (sampler.gpu_count() == 0) {
    EXPECT_EQ(n_gpu_keys, 0);
  }
}

}  // namespace
}  // namespace medassist::train
