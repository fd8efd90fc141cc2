// Matmul micro-benchmarks on Qwen2.5 projection shapes, and the thread pool's dispatch latency.
//
//   Matmul/<format>/<isa>/<d_in>x<d_out>/rows:<n>/t<threads>
//   bytes_per_second: weight bytes read (the decode figure to compare with memory bandwidth)
//   items_per_second: FLOPs (2 * d_out * d_in * rows; the prefill figure)
//
// Each iteration reads the next copy of the weights from a 512 MiB arena (wider than the last
// level cache), so decode figures are memory bandwidth as in a real forward pass, not cache reads.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/dot_float.h"
#include "kernels/matmul.h"

namespace medassist::kernels {
namespace {

constexpr size_t kArenaBytes = size_t{512} << 20;

// Random 16-bit words that are normal numbers read as F16 (exponent field 13..16), as BF16 and
// (in pairs) as F32, so no format meets denormals, infinities or NaN.
const std::byte* Arena() {
  static const std::unique_ptr<uint16_t[]> arena = [] {
    std::unique_ptr<uint16_t[]> a(new uint16_t[kArenaBytes / 2]);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < kArenaBytes / 2; ++i) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      a[i] = static_cast<uint16_t>((s & 0x83FFu) | ((13 + (s >> 20) % 4) << 10));
    }
    return a;
  }();
  return reinterpret_cast<const std::byte*>(arena.get());
}

ThreadPool& Pool(int n_threads) {
  static ThreadPool one(1), two(2);
  return n_threads == 1 ? one : two;
}

struct MatmulCase {
  const DotKernel* k;
  int64_t d_in, d_out, n_rows;
  int threads;
  bool hot = false;  // same weights every iteration (cache-resident: compute, not memory, bound)
};

void BM_Matmul(benchmark::State& state, MatmulCase c) {
  const int64_t w_bytes = RowBytes(c.k->format, c.d_in) * c.d_out;
  const int64_t n_copies = c.hot ? 1 : static_cast<int64_t>(kArenaBytes) / w_bytes;
  std::vector<float> x(static_cast<size_t>(c.n_rows * c.d_in));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) / 97.0f - 0.5f;
  std::vector<float> y(static_cast<size_t>(c.n_rows * c.d_out));
  MatmulWorkspace ws;
  ThreadPool& pool = Pool(c.threads);
  const std::byte* arena = Arena();
  int64_t copy = 0;
  for (auto _ : state) {
    const std::byte* w = arena + copy * w_bytes;
    copy = (copy + 1) % n_copies;
    Matmul(pool, *c.k, w, c.d_out, c.d_in, x.data(), c.n_rows, y.data(), ws);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * w_bytes);
  state.SetItemsProcessed(state.iterations() * 2 * c.d_out * c.d_in * c.n_rows);
}

void Register(const DotKernel* k, const char* kernel_name, int64_t d_in, int64_t d_out,
              int64_t n_rows, int threads, bool hot = false) {
  const std::string name = std::string("Matmul/") + kernel_name + "/" + std::to_string(d_in) + "x" +
                           std::to_string(d_out) + "/rows:" + std::to_string(n_rows) + "/t" +
                           std::to_string(threads) + (hot ? "/hot" : "");
  benchmark::RegisterBenchmark(name.c_str(), BM_Matmul,
                               MatmulCase{k, d_in, d_out, n_rows, threads, hot})
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

std::string KernelName(WeightFormat format, Isa isa) {
  return std::string(Traits(format).name) + "/" + IsaName(isa);
}

void RegisterMatmuls() {
  const WeightFormat formats[] = {WeightFormat::kF32, WeightFormat::kF16, WeightFormat::kBF16};
  const std::pair<int64_t, int64_t> decode_shapes[] = {
      {896, 896}, {896, 4864}, {4864, 896}, {2048, 11008}};  // 0.5B q/o, up/gate, down; 3B up
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    for (WeightFormat format : formats) {
      const DotKernel* k = &SelectDotKernel(format, isa);
      const std::string name = KernelName(format, isa);
      for (auto [d_in, d_out] : decode_shapes) {
        for (int t : {1, 2}) Register(k, name.c_str(), d_in, d_out, 1, t);
      }
      Register(k, name.c_str(), 896, 896, 1, 1, /*hot=*/true);
      if (isa == Isa::kScalar) {
        if (format == WeightFormat::kF32) Register(k, name.c_str(), 896, 896, 64, 1);
        continue;
      }
      for (int t : {1, 2}) {
        Register(k, name.c_str(), 896, 896, 64, t);
        Register(k, name.c_str(), 896, 4864, 64, t);
        if (isa == Isa::kAvx512 && format != WeightFormat::kF16) {
          Register(k, name.c_str(), 896, 4864, 512, t);
        }
      }
    }
  }
  if (const DotKernel* k = Bf16DotProductKernel()) {  // opt-in, activations rounded to BF16
    for (int t : {1, 2}) {
      Register(k, "BF16xBF16/avx512bf16", 896, 4864, 1, t);
      Register(k, "BF16xBF16/avx512bf16", 896, 4864, 64, t);
      Register(k, "BF16xBF16/avx512bf16", 896, 4864, 512, t);
    }
  }
}

// Cost of one ParallelFor with one trivial task per thread: the per-call overhead a decode step
// pays ~200 times per token.
void BM_ThreadPoolDispatch(benchmark::State& state) {
  ThreadPool& pool = Pool(static_cast<int>(state.range(0)));
  int64_t sink[2] = {0, 0};
  for (auto _ : state) {
    pool.ParallelFor(pool.n_threads(), [&sink](int64_t begin, int64_t end) { sink[begin] += end; });
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(sink);
}
BENCHMARK(BM_ThreadPoolDispatch)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace medassist::kernels

int main(int argc, char** argv) {
  medassist::kernels::RegisterMatmuls();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
