// Memory bandwidth of this machine, for judging decode speed against it (docs/performance.md):
// decode reads every weight once per token, so its ceiling is the read bandwidth.
//
//   membw [--threads N] [--mib M] [--reps R]
//
// Prints two lines, best of R repetitions over arrays of M MiB each (default 256, far beyond the
// caches), split over N threads of the project's thread pool (default: the physical cores):
//   triad: a[i] = b[i] + s * c[i], counted as 3 streams (STREAM's convention);
//   read:  the sum of one array, prefetched 4 KiB ahead (what a decode step does with the
//          weights: one core's hardware prefetchers alone reach about 80% of this).
#include <xmmintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"

namespace {

struct Options {
  int threads = medassist::DefaultThreadCount();
  int64_t mib = 256;
  int reps = 5;
};

bool ParsePositive(const char* text, int64_t* out) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0) return false;
  *out = v;
  return true;
}

int Usage(const char* why) {
  std::fprintf(stderr, "membw: %s\nusage: membw [--threads N] [--mib M] [--reps R]\n", why);
  return 2;
}

template <typename F>
double BestSeconds(int reps, F&& run) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    int64_t value = 0;
    if (i + 1 >= argc) return Usage(("missing value after " + arg).c_str());
    if (!ParsePositive(argv[++i], &value)) return Usage(("bad value for " + arg).c_str());
    if (arg == "--threads") {
      o.threads = static_cast<int>(std::min<int64_t>(value, 1024));
    } else if (arg == "--mib") {
      o.mib = std::min<int64_t>(value, 1 << 16);
    } else if (arg == "--reps") {
      o.reps = static_cast<int>(std::min<int64_t>(value, 1000));
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  const int64_t n = o.mib * (1 << 20) / static_cast<int64_t>(sizeof(double));
  medassist::ThreadPool pool(o.threads);
  std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)),
      c(static_cast<size_t>(n));
  // First touch on the threads that will use the pages.
  pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
  });
  const double bytes = static_cast<double>(n) * sizeof(double);
  const double triad = BestSeconds(o.reps, [&] {
    pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) a[i] = b[i] + 3.0 * c[i];
    });
  });
  // The read: an integer sum over the array's bits, which the compiler vectorises (a double sum
  // may not be reordered, and its add latency would cap the rate below the memory's).
  const auto* bits = reinterpret_cast<const uint64_t*>(b.data());
  std::vector<uint64_t> partial(static_cast<size_t>(o.threads), 0);
  const double read = BestSeconds(o.reps, [&] {
    pool.ParallelFor(o.threads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t begin = n * t / o.threads, end = n * (t + 1) / o.threads;
        uint64_t sum = 0;
        int64_t i = begin;
        for (; i + 8 <= end; i += 8) {  // prefetching 4 KiB ahead, as the decode kernels do
          _mm_prefetch(reinterpret_cast<const char*>(bits + i) + 4096, _MM_HINT_T0);
          for (int k = 0; k < 8; ++k) sum += bits[i + k];
        }
        for (; i < end; ++i) sum += bits[i];
        partial[static_cast<size_t>(t)] = sum;
      }
    });
  });
  uint64_t check = 0;
  for (uint64_t p : partial) check += p;
  const uint64_t want = static_cast<uint64_t>(n) * 0x3FF0000000000000ull;  // n copies of 1.0
  std::printf("triad %.1f GB/s (%d threads, 3 x %lld MiB, best of %d)\n", 3 * bytes / triad / 1e9,
              o.threads, static_cast<long long>(o.mib), o.reps);
  std::printf("read  %.1f GB/s\n", bytes / read / 1e9);
  return check == want ? 0 : 1;
}
