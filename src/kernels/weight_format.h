// The storage formats of weight matrices the kernels compute with, with GGUF's block geometry.
// A row of n elements is n / block_elems blocks of block_bytes bytes (n must be a multiple).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace medassist::kernels {

enum class WeightFormat : uint8_t { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K, kQ6_K, kQ5_0 };

struct WeightFormatTraits {
  std::string_view name;  // "F32", "Q4_K", ... (GGUF's spelling)
  int64_t block_elems;    // 1 for the float formats
  int64_t block_bytes;
};

const WeightFormatTraits& Traits(WeightFormat format);
// Bytes of a row of n elements; n must be a multiple of the format's block (CHECKed).
int64_t RowBytes(WeightFormat format, int64_t n);
// "q4_k" / "Q4_K" / "bf16" ... -> format; nullopt for other names.
std::optional<WeightFormat> ParseWeightFormat(std::string_view name);

}  // namespace medassist::kernels
