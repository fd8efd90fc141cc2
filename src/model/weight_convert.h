// Quantize on load (--dtype): after Model::Open, the weight matrices are converted to another type
// into buffers the Model owns, and its weights point at them from then on.
//
//   ASSIGN_OR_RETURN(Model m, Model::Open(path));
//   ASSIGN_OR_RETURN(WeightConversion c, ConvertWeights(m, WeightMix::kQ4_K_M, pool));
//
// Each matrix gets the type quant_recipe.h's MatrixFormat gives it (the GGUF exporter's per-tensor
// mix) and each row is converted from its F32 values (widened from F16/BF16, or dequantised) by
// EncodeRow, as the exporter does: a model converted on load and the GGUF file written with the
// same mix hold the same bytes, so they compute the same logits. Norms and biases stay as stored;
// a tied output head stays tied to the converted embedding. The rows of each matrix are split over
// the thread pool. Once a matrix is converted, its source pages in the mapped file are released
// (ReleaseMappedPages), so peak memory stays near the larger of the source and the converted
// weights plus one matrix, not their sum.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/quant_recipe.h"

namespace medassist::model {

struct WeightConversion {
  size_t n_converted = 0;     // matrices converted (a tied output head counts once)
  uint64_t source_bytes = 0;  // their bytes before
  uint64_t bytes = 0;         // and after
};

// Converts model's matrices to mix (kKeep: nothing to do). Refuses, before changing anything, a
// block-quantised matrix (from a GGUF file) that the mix would requantise to another block type
// (InvalidArgument, see CheckRequantize); a matrix already of its target type is kept as a view.
Result<WeightConversion> ConvertWeights(Model& model, WeightMix mix, ThreadPool& pool);

}  // namespace medassist::model
