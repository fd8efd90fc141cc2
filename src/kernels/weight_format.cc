#include "kernels/weight_format.h"

#include <array>
#include <cctype>

#include "core/check.h"

namespace medassist::kernels {
namespace {

// Indexed by WeightFormat. Block geometry as in GGUF (ggml's type traits).
constexpr std::array<WeightFormatTraits, 8> kTraits = {{
    {"F32", 1, 4},
    {"F16", 1, 2},
    {"BF16", 1, 2},
    {"Q8_0", 32, 34},    // f16 scale + 32 int8
    {"Q4_0", 32, 18},    // f16 scale + 32 nibbles
    {"Q4_K", 256, 144},  // f16 d, dmin + 12 bytes of 6-bit scales/mins + 128 bytes of nibbles
    {"Q6_K", 256, 210},  // 128 low nibbles + 64 high bits + 16 int8 scales + f16 d
    {"Q5_0", 32, 22},    // f16 scale + 32 fifth bits + 32 nibbles
}};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

const WeightFormatTraits& Traits(WeightFormat format) {
  const auto index = static_cast<size_t>(format);
  CHECK(index < kTraits.size()) << "unknown weight format " << index;
  return kTraits[index];
}

int64_t RowBytes(WeightFormat format, int64_t n) {
  const WeightFormatTraits& t = Traits(format);
  CHECK(n >= 0 && n % t.block_elems == 0)
      << "a " << t.name << " row of " << n << " elements is not a whole number of " << t.block_elems
      << "-element blocks";
  return n / t.block_elems * t.block_bytes;
}

std::optional<WeightFormat> ParseWeightFormat(std::string_view name) {
  for (size_t i = 0; i < kTraits.size(); ++i) {
    if (EqualsIgnoreCase(name, kTraits[i].name)) return static_cast<WeightFormat>(i);
  }
  return std::nullopt;
}

}  // namespace medassist::kernels
