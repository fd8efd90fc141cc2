// Random but sane weights for a weight layout, written straight to a safetensors file without ever
// holding a whole tensor in memory (a 3B model is 6 GB in BF16).
//
// Values are deterministic: element j of tensor k is a pure function of (seed, k, j), so the file
// does not depend on the chunk size, and one seed always gives the same bytes.
//   kNormal, kBias: normal(0, 0.02) (biases nonzero, so bias handling is exercised)
//   kOnes:          1 + normal(0, 0.02) (RMSNorm weights near 1, but not all equal)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/safetensors_types.h"
#include "model/weight_layout.h"

namespace medassist::model {

inline constexpr float kSynthStddev = 0.02f;

// Fills out with elements [first, first + out.size()) of the tensor at tensor_index in the layout,
// drawn as init says. Pure: the same arguments give the same values however the range is split.
void FillSynthValues(WeightSpec::Init init, uint64_t seed, uint64_t tensor_index, uint64_t first,
                     std::span<float> out);

// Writes every tensor of layout to path (via path + ".tmp", renamed at the end) as dtype, which
// must be kF32 or kBF16, with "__metadata__": {"format": "pt"}. Returns the file's size in bytes.
Result<uint64_t> WriteSynthSafetensors(const std::string& path,
                                       const std::vector<WeightSpec>& layout,
                                       formats::SafetensorsDtype dtype, uint64_t seed);

}  // namespace medassist::model
