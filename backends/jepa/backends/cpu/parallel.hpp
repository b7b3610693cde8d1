// OpenMP helpers for CPU kernels. A parallel region costs 10-25 us to wake sleeping threads on the
// development machine, so kernels go parallel only when the work is well above that.
#pragma once
#include <algorithm>
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace jepa::cpu {

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// This thread's number inside a parallel region, 0 outside.
inline int thread_index() {
#ifdef _OPENMP
  return omp_in_parallel() ? omp_get_thread_num() : 0;
#else
  return 0;
#endif
}

// Calls f(begin, end) on contiguous chunks of [0, n), one per thread, or once on the whole range
// when n <= grain (work too small to pay for waking the threads).
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain || max_threads() == 1 || in_parallel_region()) {
    f(int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (begin < end) f(begin, end);
  }
#endif
}

// Elementwise work below this many elements runs on one thread.
inline constexpr int64_t kElementwiseGrain = 1 << 15;

}  // namespace jepa::cpu
