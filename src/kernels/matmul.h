// The matrix product every projection goes through (DESIGN §2b, §3):
//
//   W (d_out, d_in) @ x_r (d_in,) -> y_r (d_out,)   for each of n_rows activation rows r
//   y[r * d_out + o] = k.dot(W row o, prepared x row r, d_in)
//
// W is row-major in k.format, RowBytes(k.format, d_in) bytes per row; x is (n_rows, d_in) F32 and
// y is (n_rows, d_out) F32. Every value is exactly one k.dot, so its bits do not depend on
// n_rows, the thread count or the tiling: decode (n_rows = 1) and prefill agree bit for bit.
// Bias, if any, is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/thread_pool.h"
#include "kernels/dot.h"

namespace medassist::kernels {

// Prepared activation rows, kept between calls: it grows when a call needs more and is otherwise
// reused, so a decode step allocates nothing. One per thread driving Matmul.
class MatmulWorkspace {
 public:
  // At least bytes bytes, 64-byte aligned; contents are not kept when it grows.
  std::byte* Reserve(size_t bytes);
  size_t capacity() const { return capacity_; }

 private:
  struct AlignedFree {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], AlignedFree> data_;
  size_t capacity_ = 0;
};

// How the work is cut; any choice gives the same bits (tests vary it, benchmarks tune it).
struct MatmulTiling {
  int64_t chunk_rows = 16;  // output rows per ParallelFor task (the unit split over threads)
  // Weight rows that stay in cache while activation rows pass; 0: the kernel's choice (4 for
  // the float tiles' register blocks, 64 for the quantized tiles' 16-row panels).
  int64_t weight_rows = 0;
  int64_t activation_rows = 64;  // activation rows per pass over a thread's weight rows
};

void Matmul(ThreadPool& pool, const DotKernel& k, const void* w, int64_t d_out, int64_t d_in,
            const float* x, int64_t n_rows, float* y, MatmulWorkspace& ws,
            const MatmulTiling& tiling = {});

// Reference: one k.dot per output value, one thread, no tiling. Matmul must equal it bit for bit.
void MatmulNaive(const DotKernel& k, const void* w, int64_t d_out, int64_t d_in, const float* x,
                 int64_t n_rows, float* y);

}  // namespace medassist::kernels
