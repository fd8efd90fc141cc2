// safetensors element types (the "dtype" strings of a safetensors header) and their sizes.
//
// The reader knows every dtype below so that it can validate and expose any file; which of them the
// model can compute with is a separate question (SafetensorsDtypeIsComputeSupported).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace medassist::formats {

enum class SafetensorsDtype {
  kBool,
  kU8,
  kI8,
  kF8E4M3,
  kF8E5M2,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64,
};

// The header spelling: "BOOL", "F8_E4M3", "BF16", ...
std::string_view SafetensorsDtypeName(SafetensorsDtype dtype);
// Bytes per element (1, 2, 4 or 8).
size_t SafetensorsDtypeSize(SafetensorsDtype dtype);
// The dtype whose header spelling is name (case-sensitive, as the format), or nullopt.
std::optional<SafetensorsDtype> ParseSafetensorsDtype(std::string_view name);
// True for F32, F16 and BF16: the types the model layer loads weights from.
bool SafetensorsDtypeIsComputeSupported(SafetensorsDtype dtype);

}  // namespace medassist::formats
