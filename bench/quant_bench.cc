// Quantized kernel throughput, single thread.
//   BM_QuantDotRows/<format>/<isa>/<rows>: decode-style matrix-vector, one prepared activation
//     row of 2048 against <rows> weight rows through dot_rows; weight bytes per second. 11008 rows
//     (a 7B-class FFN up-projection, about 24 MB in Q8_0) stream from L3; 384 rows (under 1 MB)
//     stay in L2, which shows the kernel's own speed rather than the cache's.
//   BM_QuantPrefill/<format>/<d_in>/<d_out>/<rows>/<path>: prefill matrix product; items per
//     second are int8 ops (2 * d_in * d_out * rows). path 0 = row by row (k.dot_rows per
//     activation row over tiles of 4 weight rows: what Matmul did before quantized tiles),
//     path 1 = Matmul (its tile kernel when the kernel has one). Both give the same bits.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
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
  const int64_t rows = state.range(2);
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const DotKernel& k = SelectDotKernel(format, isa);
  const int64_t row_bytes = RowBytes(format, kCols);
  std::vector<uint8_t> w(static_cast<size_t>(row_bytes * rows));
  const std::vector<float> wf = Pseudo(kCols, 1);
  for (int64_t r = 0; r < rows; ++r) QuantizeRow(format, wf.data(), kCols, &w[r * row_bytes]);
  const std::vector<float> x = Pseudo(kCols, 2);
  std::vector<uint8_t> xp(static_cast<size_t>(k.prepared_row_bytes(kCols)));
  std::vector<float> y(rows);
  for (auto _ : state) {
    k.prepare(x.data(), kCols, xp.data());
    k.dot_rows(w.data(), row_bytes, rows, xp.data(), kCols, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * row_bytes * rows);
  state.SetLabel(std::string(Traits(format).name) + " " + IsaName(k.isa));
}

void Args(benchmark::internal::Benchmark* b) {
  for (WeightFormat f : {WeightFormat::kQ8_0, WeightFormat::kQ4_0, WeightFormat::kQ5_0,
                         WeightFormat::kQ4_K, WeightFormat::kQ6_K}) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      for (int64_t rows : {kRows, int64_t{384}}) {
        b->Args({static_cast<int64_t>(f), static_cast<int64_t>(isa), rows});
      }
    }
  }
}
BENCHMARK(BM_QuantDotRows)->Apply(Args)->Unit(benchmark::kMillisecond);

void BM_QuantPrefill(benchmark::State& state) {
  const auto format = static_cast<WeightFormat>(state.range(0));
  const int64_t d_in = state.range(1), d_out = state.range(2), rows = state.range(3);
  const bool matmul = state.range(4) != 0;
  const DotKernel& k = SelectDotKernel(format, BestIsa());
  const int64_t row_bytes = RowBytes(format, d_in);
  std::vector<uint8_t> w(static_cast<size_t>(row_bytes * d_out));
  for (int64_t r = 0; r < d_out; ++r) {
    const std::vector<float> wf = Pseudo(d_in, static_cast<uint32_t>(r + 1));
    QuantizeRow(format, wf.data(), d_in, &w[r * row_bytes]);
  }
  const std::vector<float> x = Pseudo(d_in * rows, 7);
  std::vector<float> y(static_cast<size_t>(d_out * rows));
  ThreadPool pool(1);
  MatmulWorkspace ws;
  const int64_t xp_bytes = k.prepared_row_bytes(d_in);
  std::vector<uint8_t> xp(static_cast<size_t>(xp_bytes * rows));
  for (auto _ : state) {
    if (matmul) {
      Matmul(pool, k, w.data(), d_out, d_in, x.data(), rows, y.data(), ws);
    } else {
      for (int64_t r = 0; r < rows; ++r) k.prepare(&x[r * d_in], d_in, &xp[r * xp_bytes]);
      for (int64_t o = 0; o < d_out; o += 4) {
        for (int64_t r = 0; r < rows; ++r) {
          k.dot_rows(&w[o * row_bytes], row_bytes, std::min<int64_t>(4, d_out - o),
                     &xp[r * xp_bytes], d_in, &y[r * d_out + o]);
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * d_in * d_out * rows);
  state.SetLabel(std::string(Traits(format).name) + " " + IsaName(k.isa) +
                 (matmul ? " matmul" : " row-by-row"));
}

void PrefillArgs(benchmark::internal::Benchmark* b) {
  for (WeightFormat f : {WeightFormat::kQ8_0, WeightFormat::kQ4_0, WeightFormat::kQ5_0,
                         WeightFormat::kQ4_K, WeightFormat::kQ6_K}) {
    const bool k_quant = f == WeightFormat::kQ4_K || f == WeightFormat::kQ6_K;
    // 896 is no multiple of 256: K-quants take 1024 for the 0.5B-class shape.
    for (auto [d_in, d_out] : {std::pair<int64_t, int64_t>{k_quant ? 1024 : 896, 4864},
                               std::pair<int64_t, int64_t>{2048, 11008}}) {
      for (int64_t rows : {64, 512}) {
        for (int64_t path : {0, 1}) b->Args({static_cast<int64_t>(f), d_in, d_out, rows, path});
      }
    }
  }
}
BENCHMARK(BM_QuantPrefill)->Apply(PrefillArgs)->Unit(benchmark::kMillisecond)->MinTime(0.3);

}  // namespace
}  // namespace medassist::kernels

BENCHMARK_MAIN();
