#include "model/weight_convert.h"

#include <cstdlib>
#include <vector>

#include "core/file.h"
#include "model/model_loaders.h"
#include "model/weight_layout.h"

namespace medassist::model {
namespace {

using kernels::WeightFormat;

struct MatrixJob {
  Weight* weight;
  WeightFormat target;
};

// A 64-byte aligned buffer of n bytes (rounded up to whole cache lines), or nullptr.
OwnedBytes Allocate(size_t n) {
  const size_t rounded = (n + 63) / 64 * 64;
  return OwnedBytes(static_cast<uint8_t*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded)));
}

// src's rows converted to target, rows split over the pool (each row is independent, so the bytes
// do not depend on the thread count).
Result<OwnedBytes> ConvertMatrix(const Weight& src, WeightFormat target, ThreadPool& pool) {
  const int64_t row_bytes = kernels::RowBytes(target, src.cols);
  OwnedBytes out = Allocate(static_cast<size_t>(src.rows * row_bytes));
  if (out == nullptr) {
    return ResourceExhausted("cannot allocate " + std::to_string(src.rows * row_bytes) +
                             " bytes for " + src.name + " converted on load");
  }
  uint8_t* dst = out.get();
  pool.ParallelFor(src.rows, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(src.cols));
    for (int64_t r = begin; r < end; ++r) {
      src.RowToFloat(r, row.data());
      EncodeRow(target, row.data(), src.cols, dst + r * row_bytes);
    }
  });
  return out;
}

}  // namespace

// Model's friend: the only code that replaces its weight views.
class WeightConverter {
 public:
  static Result<WeightConversion> Run(Model& model, WeightMix mix, ThreadPool& pool) {
    WeightConversion result;
    std::vector<MatrixJob> jobs;
    for (const WeightSpec& spec : HfWeightLayout(model.config_)) {
      if (spec.shape.size() != 2) continue;  // norms and biases
      Weight* w = FieldFor(model.weights_, spec.name);
      const WeightFormat target = MatrixFormat(mix, model.config_, spec.name, w->cols, w->type);
      if (target == w->type) continue;
      RETURN_IF_ERROR(CheckRequantize(model.path_, w->name, w->type, target, false,
                                      "Load it with --dtype keep, or convert the original "
                                      "F32/F16/BF16 weights"));
      jobs.push_back({w, target});
    }
    for (const MatrixJob& job : jobs) {
      Weight& w = *job.weight;
      ASSIGN_OR_RETURN(OwnedBytes bytes, ConvertMatrix(w, job.target, pool));
      const size_t source_bytes = static_cast<size_t>(w.rows * w.row_bytes());
      ReleaseMappedPages(w.data, source_bytes);  // Model::Open maps every weight from a file
      result.n_converted += 1;
      result.source_bytes += source_bytes;
      w.type = job.target;
      w.data = bytes.get();
      result.bytes += static_cast<uint64_t>(w.rows * w.row_bytes());
      model.storage_->owned.push_back(std::move(bytes));
    }
    if (model.config_.tie_word_embeddings) model.weights_.output = model.weights_.token_embedding;
    return result;
  }
};

Result<WeightConversion> ConvertWeights(Model& model, WeightMix mix, ThreadPool& pool) {
  return WeightConverter::Run(model, mix, pool);
}

}  // namespace medassist::model
