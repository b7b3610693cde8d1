// Reductions over the middle axis of a dense (outer, reduced, inner) layout. Sums accumulate in
// double so that long reductions (bias gradients over batch x tokens) stay accurate in f32.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include <jepa/backends/cpu/parallel.hpp>

namespace jepa::cpu {

enum class ReduceKind { sum, max };

// out[o, i] = reduce over r of x[o, r, i]; x is dense (O, R, I), out is dense (O, I).
template <class T>
void reduce_ori(const T* x, T* out, int64_t O, int64_t R, int64_t I, ReduceKind kind, double scale = 1.0) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  const bool is_sum = kind == ReduceKind::sum;
  if (I == 1) {
    parallel_for(O, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* row = x + o * R;
        if (is_sum) {
          Acc acc = 0;
#pragma omp simd reduction(+ : acc)
          for (int64_t r = 0; r < R; ++r) acc += row[r];
          out[o] = static_cast<T>(acc * scale);
        } else {
          T m = -std::numeric_limits<T>::infinity();
          for (int64_t r = 0; r < R; ++r) m = (row[r] > m || row[r] != row[r]) ? row[r] : m;  // NaN wins
          out[o] = m;
        }
      }
    });
    return;
  }
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (I + kBlock - 1) / kBlock;
  parallel_for(O * blocks, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(R * kBlock, 1)),
               [&](int64_t b0, int64_t b1) {
                 Acc acc[kBlock];
                 for (int64_t b = b0; b < b1; ++b) {
                   const int64_t o = b / blocks, i0 = (b % blocks) * kBlock, n = std::min(kBlock, I - i0);
                   const T* base = x + o * R * I + i0;
                   if (is_sum) {
                     std::fill(acc, acc + n, Acc(0));
                     for (int64_t r = 0; r < R; ++r) {
                       const T* row = base + r * I;
#pragma omp simd
                       for (int64_t i = 0; i < n; ++i) acc[i] += row[i];
                     }
                   } else {
                     std::fill(acc, acc + n, -std::numeric_limits<Acc>::infinity());
                     for (int64_t r = 0; r < R; ++r) {
                       const T* row = base + r * I;
                       for (int64_t i = 0; i < n; ++i) acc[i] = (row[i] > acc[i] || row[i] != row[i]) ? row[i] : acc[i];
                     }
                   }
                   T* dst = out + o * I + i0;
                   for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(is_sum ? acc[i] * scale : acc[i]);
                 }
               });
}

}  // namespace jepa::cpu
