#include "kernels/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/log.h"

namespace medassist::kernels {
namespace {

bool Bit(uint32_t reg, int bit) { return ((reg >> bit) & 1u) != 0; }

// XCR0: which register states the OS saves on a context switch. AVX needs XMM+YMM (bits 1, 2);
// AVX-512 also needs the opmask and both halves of the upper ZMM state (bits 5, 6, 7). Inline
// assembly, so this file needs no -mxsave.
uint64_t ReadXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(1, 0, &eax, &ebx, &ecx, &edx) == 0) return f;
  const bool osxsave = Bit(ecx, 27), avx = Bit(ecx, 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;
  if (!os_ymm) return f;
  f.fma = Bit(ecx, 12);
  f.f16c = Bit(ecx, 29);
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return f;
  const uint32_t max_subleaf = eax;
  f.avx2 = Bit(ebx, 5);
  if (os_zmm) {
    f.avx512f = Bit(ebx, 16);
    f.avx512dq = Bit(ebx, 17);
    f.avx512bw = Bit(ebx, 30);
    f.avx512vl = Bit(ebx, 31);
    f.avx512_vnni = Bit(ecx, 11);
  }
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0) {
    f.avx_vnni = Bit(eax, 4);
    f.avx512_bf16 = os_zmm && Bit(eax, 5);
  }
  return f;
}

// MEDASSIST_ISA, when set to a known name; a warning (once) for anything else.
std::optional<Isa> IsaFromEnvironment() {
  const char* value = std::getenv("MEDASSIST_ISA");
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string_view name(value);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (name == IsaName(isa)) return isa;
  }
  spdlog::warn("MEDASSIST_ISA={} is not one of scalar, avx2, avx512; ignored", name);
  return std::nullopt;
}

Isa DetectBestIsa() {
  Isa best = Isa::kScalar;
  if (IsaSupported(Isa::kAvx512)) {
    best = Isa::kAvx512;
  } else if (IsaSupported(Isa::kAvx2)) {
    best = Isa::kAvx2;
  }
  const std::optional<Isa> cap = IsaFromEnvironment();
  if (cap && static_cast<int>(*cap) < static_cast<int>(best)) best = *cap;
  return best;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

bool IsaSupported(Isa isa) {
  const CpuFeatures& f = DetectCpuFeatures();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512_vnni;
  }
  return false;
}

Isa BestIsa() {
  static const Isa best = DetectBestIsa();
  return best;
}

}  // namespace medassist::kernels
