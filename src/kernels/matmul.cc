#include "kernels/matmul.h"

#include <algorithm>
#include <new>
#include <vector>

#include "core/check.h"
#include "kernels/dot_float.h"
#include "kernels/dot_registry.h"

namespace medassist::kernels {
namespace {

constexpr size_t kAlign = 64;

int64_t RoundUp(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// What one Matmul call needs, shared by the pool's threads through ParallelFor's context.
struct Job {
  const DotKernel* k;
  const std::byte* w;
  int64_t w_row_bytes, d_out, d_in;
  const std::byte* x_prepared;  // n_rows rows of x_stride bytes
  int64_t x_stride, n_rows;
  float* y;
  MatmulTiling tiling;
  DotTileFn tile;  // register-blocked several-rows kernel, or nullptr (then dot_rows per row)
  QuantDotTileFn quant_tile;  // the same for quantized kernels (prepared rows), or nullptr
};

// Output rows [o_begin, o_end) for all activation rows. Blocks of activation rows pass over
// tiles of weight_rows weight rows, so a tile is read from cache, not memory, by every row of
// the block; each value is still one dot_rows (== dot) of one weight row and one activation row.
void RunOutputRows(const Job& job, int64_t o_begin, int64_t o_end) {
  const DotKernel& k = *job.k;
  if (job.n_rows == 1) {
    k.dot_rows(job.w + o_begin * job.w_row_bytes, job.w_row_bytes, o_end - o_begin, job.x_prepared,
               job.d_in, job.y + o_begin);
    return;
  }
  const MatmulTiling& t = job.tiling;
  for (int64_t r0 = 0; r0 < job.n_rows; r0 += t.activation_rows) {
    const int64_t r1 = std::min(job.n_rows, r0 + t.activation_rows);
    for (int64_t o = o_begin; o < o_end; o += t.weight_rows) {
      const int64_t rows = std::min(o_end - o, t.weight_rows);
      const std::byte* w_tile = job.w + o * job.w_row_bytes;
      if (job.tile != nullptr) {
        job.tile(w_tile, job.w_row_bytes, rows,
                 reinterpret_cast<const float*>(job.x_prepared + r0 * job.x_stride), job.d_in,
                 r1 - r0, job.d_in, job.y + r0 * job.d_out + o, job.d_out);
        continue;
      }
      if (job.quant_tile != nullptr) {
        job.quant_tile(w_tile, job.w_row_bytes, rows, job.x_prepared + r0 * job.x_stride,
                       job.x_stride, r1 - r0, job.d_in, job.y + r0 * job.d_out + o, job.d_out);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        k.dot_rows(w_tile, job.w_row_bytes, rows, job.x_prepared + r * job.x_stride, job.d_in,
                   job.y + r * job.d_out + o);
      }
    }
  }
}

// Prepares the activation rows into ws (unless the kernel's prepare is a plain copy, when x is
// used in place); returns the rows and sets *stride.
const std::byte* PrepareActivations(ThreadPool& pool, const DotKernel& k, const float* x,
                                    int64_t d_in, int64_t n_rows, MatmulWorkspace& ws,
                                    int64_t* stride) {
  if (PreparesByCopy(k)) {
    *stride = d_in * static_cast<int64_t>(sizeof(float));
    return reinterpret_cast<const std::byte*>(x);
  }
  *stride = RoundUp(k.prepared_row_bytes(d_in), kAlign);
  std::byte* out = ws.Reserve(static_cast<size_t>(n_rows * *stride));
  const auto prepare_rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) k.prepare(x + r * d_in, d_in, out + r * *stride);
  };
  if (n_rows < 2 * pool.n_threads()) {
    prepare_rows(0, n_rows);  // a dispatch costs more than a few rows
  } else {
    pool.ParallelFor(n_rows, prepare_rows);
  }
  return out;
}

}  // namespace

void MatmulWorkspace::AlignedFree::operator()(std::byte* p) const {
  ::operator delete[](p, std::align_val_t{kAlign});
}

std::byte* MatmulWorkspace::Reserve(size_t bytes) {
  if (bytes > capacity_) {
    data_.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{kAlign})));
    capacity_ = bytes;
  }
  return data_.get();
}

void Matmul(ThreadPool& pool, const DotKernel& k, const void* w, int64_t d_out, int64_t d_in,
            const float* x, int64_t n_rows, float* y, MatmulWorkspace& ws,
            const MatmulTiling& tiling) {
  CHECK(d_out >= 0 && d_in >= 0 && n_rows >= 0)
      << "Matmul shape " << d_out << " x " << d_in << " with " << n_rows << " rows";
  CHECK(tiling.chunk_rows > 0 && tiling.weight_rows >= 0 && tiling.activation_rows > 0);
  if (d_out == 0 || n_rows == 0) return;
  Job job{};
  job.k = &k;
  job.w = static_cast<const std::byte*>(w);
  job.w_row_bytes = RowBytes(k.format, d_in);
  job.d_out = d_out;
  job.d_in = d_in;
  job.n_rows = n_rows;
  job.y = y;
  job.tiling = tiling;
  job.tile = PreparesByCopy(k) ? FindFloatDotTile(k) : nullptr;
  job.quant_tile = job.tile == nullptr ? FindQuantDotTile(k) : nullptr;
  if (job.tiling.weight_rows == 0) job.tiling.weight_rows = job.quant_tile != nullptr ? 64 : 4;
  job.x_prepared = PrepareActivations(pool, k, x, d_in, n_rows, ws, &job.x_stride);
  const int64_t n_chunks = (d_out + tiling.chunk_rows - 1) / tiling.chunk_rows;
  pool.ParallelFor(n_chunks, [&job](int64_t begin, int64_t end) {
    const int64_t c = job.tiling.chunk_rows;
    RunOutputRows(job, begin * c, std::min(job.d_out, end * c));
  });
}

void MatmulNaive(const DotKernel& k, const void* w, int64_t d_out, int64_t d_in, const float* x,
                 int64_t n_rows, float* y) {
  const int64_t w_row_bytes = RowBytes(k.format, d_in);
  std::vector<std::byte> prepared(static_cast<size_t>(k.prepared_row_bytes(d_in)));
  for (int64_t r = 0; r < n_rows; ++r) {
    k.prepare(x + r * d_in, d_in, prepared.data());
    for (int64_t o = 0; o < d_out; ++o) {
      const auto* w_row = static_cast<const std::byte*>(w) + o * w_row_bytes;
      y[r * d_out + o] = k.dot(w_row, prepared.data(), d_in);
    }
  }
}

}  // namespace medassist::kernels
