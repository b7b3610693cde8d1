// SIMD for the fused CPU kernels without -march: kernels are generic lambdas over a vector type V
// (simd/avx512.hpp, simd/avx2.hpp, simd/scalar.hpp share one interface) and dispatch_simd<T>
// calls them with the widest type this CPU runs: f32 -> Avx512F32, Avx2F32 or Scalar<float>;
// f64 -> Scalar<double>. The AVX entry points carry the target attribute and `flatten`, so the
// whole kernel body, vector operations included, is inlined and compiled for that ISA (a function
// without a target attribute may be inlined into one with it, not the other way round).
// Kernels must not allocate or open parallel regions inside the dispatched body: dispatch per
// chunk of work, inside parallel_for.
// Builds that do not inline (-O0, -fno-inline) run the portable kernels: there a generic function
// and the target-attributed vector operations it calls would disagree on how vectors are passed.
#pragma once
#include <atomic>
#include <type_traits>

#include <jepa/backends/cpu/isa.hpp>
#include <jepa/backends/cpu/simd/avx2.hpp>
#include <jepa/backends/cpu/simd/avx512.hpp>
#include <jepa/backends/cpu/simd/math.hpp>
#include <jepa/backends/cpu/simd/scalar.hpp>
#include <jepa/core/dtype.hpp>

#if defined(__x86_64__) && defined(__OPTIMIZE__) && !defined(__NO_INLINE__)
#define JEPA_SIMD_DISPATCH 1
#endif

namespace jepa::cpu {

// The widest vector in elements: buffers padded to a multiple of it suit every vector type.
inline constexpr int64_t kMaxSimdWidth = 16;

namespace detail {
inline std::atomic<Isa>& simd_isa_limit() {
  static std::atomic<Isa> limit{Isa::avx512};
  return limit;
}
}  // namespace detail

// The ISA the fused kernels use: the best this machine runs, capped by any ScopedIsaLimit.
inline Isa simd_isa() {
#ifdef JEPA_SIMD_DISPATCH
  const Isa best = best_isa(), limit = detail::simd_isa_limit().load(std::memory_order_relaxed);
  return static_cast<int>(limit) < static_cast<int>(best) ? limit : best;
#else
  return Isa::scalar;
#endif
}

// Caps the ISA of the fused kernels for the lifetime of this object (tests and benchmarks compare
// the paths a machine with less hardware would take). Not meant to be nested across threads.
class ScopedIsaLimit {
 public:
  explicit ScopedIsaLimit(Isa limit) : previous_(detail::simd_isa_limit().exchange(limit)) {}
  ~ScopedIsaLimit() { detail::simd_isa_limit().store(previous_); }
  ScopedIsaLimit(const ScopedIsaLimit&) = delete;
  ScopedIsaLimit& operator=(const ScopedIsaLimit&) = delete;

 private:
  Isa previous_;
};

namespace detail {
#ifdef JEPA_SIMD_DISPATCH
template <class F>
__attribute__((target("avx512f"), flatten)) void run_avx512(F& kernel) {
  kernel(TypeTag<simd::Avx512F32>{});
}
template <class F>
__attribute__((target("avx2,fma"), flatten)) void run_avx2(F& kernel) {
  kernel(TypeTag<simd::Avx2F32>{});
}
#endif
}  // namespace detail

// Calls kernel(TypeTag<V>{}) with the vector type for element type T on this machine.
template <class T, class F>
void dispatch_simd(F&& kernel) {
#ifdef JEPA_SIMD_DISPATCH
  if constexpr (std::is_same_v<T, float>) {
    switch (simd_isa()) {
      case Isa::avx512: return detail::run_avx512(kernel);
      case Isa::avx2: return detail::run_avx2(kernel);
      case Isa::scalar: break;
    }
  }
#endif
  kernel(TypeTag<simd::Scalar<T>>{});
}

}  // namespace jepa::cpu
