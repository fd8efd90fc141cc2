// Internal to kernels: software prefetch of the weight stream in the decode (matrix-vector)
// kernels. One decode step reads every weight once, from memory. The hardware prefetchers alone
// keep too few lines in flight for one core to reach its share of the bandwidth while the core
// is also computing: on the 2-core AVX-512 machine of docs/performance.md, prefetching 4 KiB
// ahead took Qwen2.5-3B Q8_0 decode from 5.6 to 7.35 t/s (18 -> 24 GB/s read).
#pragma once

#include <xmmintrin.h>

#include <cstdint>

namespace medassist::kernels {

// How far ahead of the bytes being computed on a single stream prefetches. 2 KiB was slower,
// 8-16 KiB no faster.
inline constexpr int64_t kPrefetchAheadBytes = 4096;

// Asks for the cache lines holding [p, p + bytes). Static, so each ISA file has its own copy
// (see dot_quant.h on shared inline functions). A prefetch never faults, so p may run past the
// end of a mapping (the last rows prefetch what follows the matrix).
static inline void PrefetchLines(const void* p, int64_t bytes) {
  const char* first = static_cast<const char*>(p);
  for (int64_t offset = 0; offset < bytes + 63; offset += 64) {
    _mm_prefetch(first + offset, _MM_HINT_T0);
  }
}

// The same into L2 only (_MM_HINT_T1): for data fetched far ahead, which would otherwise push
// the lines being computed on out of L1.
static inline void PrefetchLinesL2(const void* p, int64_t bytes) {
  const char* first = static_cast<const char*>(p);
  for (int64_t offset = 0; offset < bytes + 63; offset += 64) {
    _mm_prefetch(first + offset, _MM_HINT_T1);
  }
}

}  // namespace medassist::kernels
