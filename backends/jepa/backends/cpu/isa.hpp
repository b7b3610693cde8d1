// Instruction sets the CPU kernels can use, detected at run time so that one binary built for
// plain x86-64 (no -march) uses AVX-512 or AVX2+FMA where the machine has them. Kernels for an ISA
// live in their own files and carry per-function target attributes; only the dispatch names them.
// On other architectures only the portable (scalar) kernels exist.
#pragma once

namespace jepa::cpu {

enum class Isa { scalar, avx2, avx512 };

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::scalar: return "scalar";
  }
  return "?";
}

// Whether this machine (CPU and OS) runs kernels of `isa`.
inline bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#if defined(__x86_64__)
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f");
#else
    default: return false;
#endif
  }
  return false;
}

// The widest supported ISA, detected once.
inline Isa best_isa() {
  static const Isa best = isa_supported(Isa::avx512) ? Isa::avx512
                          : isa_supported(Isa::avx2) ? Isa::avx2
                                                     : Isa::scalar;
  return best;
}

}  // namespace jepa::cpu
