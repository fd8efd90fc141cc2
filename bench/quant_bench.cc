// Decode-style quantized matrix-vector throughput: one prepared activation row of 2048 against
// 11008 weight rows (a 7B-class FFN up-projection), single thread, through dot_rows. Reports
// weight bytes per second, per (format, ISA).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/quantize.h"
#include "kernels/weight_format.h"

namespace medassist::kernels {
namespace {

constexpr int64_t kCols = 2048, kRows = 11008;

std::vector<float> Pseudo(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(seed >> 8) - (1 << 23)) / (1 << 23);
  }
  return v;
}

void BM_QuantDotRows(benchmark::State& state) {
  const auto format = static_cast<WeightFormat>(state.range(0));
  const auto isa = static_cast<Isa>(state.range(1));
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const DotKernel& k = SelectDotKernel(format, isa);
  const int64_t row_bytes = RowBytes(format, kCols);
  std::vector<uint8_t> w(static_cast<size_t>(row_bytes * kRows));
  const std::vector<float> wf = Pseudo(kCols, 1);
  for (int64_t r = 0; r < kRows; ++r) QuantizeRow(format, wf.data(), kCols, &w[r * row_bytes]);
  const std::vector<float> x = Pseudo(kCols, 2);
  std::vector<uint8_t> xp(static_cast<size_t>(k.prepared_row_bytes(kCols)));
  std::vector<float> y(kRows);
  for (auto _ : state) {
    k.prepare(x.data(), kCols, xp.data());
    k.dot_rows(w.data(), row_bytes, kRows, xp.data(), kCols, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * row_bytes * kRows);
  state.SetLabel(std::string(Traits(format).name) + " " + IsaName(k.isa));
}

void Args(benchmark::internal::Benchmark* b) {
  for (WeightFormat f :
       {WeightFormat::kQ8_0, WeightFormat::kQ4_0, WeightFormat::kQ4_K, WeightFormat::kQ6_K}) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      b->Args({static_cast<int64_t>(f), static_cast<int64_t>(isa)});
    }
  }
}
BENCHMARK(BM_QuantDotRows)->Apply(Args)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace medassist::kernels

BENCHMARK_MAIN();
