#include "kernels/dot.h"

#include "core/check.h"
#include "kernels/dot_registry.h"

namespace medassist::kernels {

const DotKernel& SelectDotKernel(WeightFormat format, Isa isa) {
  CHECK(IsaSupported(isa)) << "kernels for " << IsaName(isa) << " requested on a CPU without it";
  const bool is_float =
      format == WeightFormat::kF32 || format == WeightFormat::kF16 || format == WeightFormat::kBF16;
  // Walk down from the requested level to the scalar reference, which always exists.
  for (int level = static_cast<int>(isa); level >= 0; --level) {
    const Isa candidate = static_cast<Isa>(level);
    const DotKernel* k =
        is_float ? FindFloatDotKernel(format, candidate) : FindQuantDotKernel(format, candidate);
    if (k != nullptr) return *k;
  }
  CHECK(false) << "no scalar dot kernel for " << Traits(format).name;
  __builtin_unreachable();
}

}  // namespace medassist::kernels
