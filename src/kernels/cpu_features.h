// What this CPU can run, read once from CPUID (and XGETBV for the OS's AVX state), and the
// instruction-set level the kernels are chosen for. MEDASSIST_ISA=scalar|avx2|avx512 caps the
// level (tests and benchmarks use it to run every variant on one machine).
#pragma once

namespace medassist::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx_vnni = false;
};

enum class Isa { kScalar, kAvx2, kAvx512 };

const char* IsaName(Isa isa);
const CpuFeatures& DetectCpuFeatures();
// The best level the CPU supports: kAvx512 needs F, BW, VL, DQ and VNNI; kAvx2 needs AVX2, FMA and
// F16C. Capped by the MEDASSIST_ISA environment variable when set.
Isa BestIsa();
// True when the CPU can run kernels of level isa (for tests: which variants to check here).
bool IsaSupported(Isa isa);

}  // namespace medassist::kernels
