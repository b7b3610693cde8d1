// LayerNorm over the last D elements of each row, forward and backward (the llm.c pairing).
// Forward saves mean and rstd per row. Backward:
//   xhat = (x - mean) * rstd, dxhat = dy * w
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (written, =)
//   dw = sum_rows(dy * xhat), db = sum_rows(dy)                      (written, =)
// Weight and bias are optional (nullptr). Row statistics accumulate in double.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>

namespace jepa::cpu {

template <class T>
void layernorm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows, int64_t D,
                       double eps) {
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < D; ++i) s += xr[i];
      const double m = s / D;
      double v = 0;
#pragma omp simd reduction(+ : v)
      for (int64_t i = 0; i < D; ++i) v += (xr[i] - m) * (xr[i] - m);
      const T rs = static_cast<T>(1.0 / std::sqrt(v / D + eps));
      const T mt = static_cast<T>(m);
      T* yr = y + r * D;
      if (weight && bias) {
#pragma omp simd
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * rs * weight[i] + bias[i];
      } else if (weight) {
#pragma omp simd
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * rs * weight[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * rs + (bias ? bias[i] : T(0));
      }
      mean[r] = mt;
      rstd[r] = rs;
    }
  });
}

// dweight and dbias may be null when not needed. Each thread sums its rows' contributions to
// dweight/dbias in a private buffer; the buffers are added at the end.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx, T* dweight,
                        T* dbias, int64_t rows, int64_t D) {
  const bool param_grads = dweight || dbias;
  const int threads = max_threads();
  std::vector<double> partial(param_grads ? static_cast<size_t>(threads) * 2 * D : 0, 0.0);
  std::vector<char> used(static_cast<size_t>(threads), 0);
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
#ifdef _OPENMP
    const int t = omp_in_parallel() ? omp_get_thread_num() : 0;
#else
    const int t = 0;
#endif
    double* dw_acc = param_grads ? partial.data() + static_cast<size_t>(t) * 2 * D : nullptr;
    double* db_acc = param_grads ? dw_acc + D : nullptr;
    if (param_grads) used[t] = 1;
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      const T* g = dy + r * D;
      const T m = mean[r], rs = rstd[r];
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
      for (int64_t i = 0; i < D; ++i) {
        const T xhat = (xr[i] - m) * rs;
        const T dxhat = weight ? g[i] * weight[i] : g[i];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
      }
      const T mean_dxhat = static_cast<T>(sum_dxhat / D), mean_dxhat_xhat = static_cast<T>(sum_dxhat_xhat / D);
      if (dx) {
        T* out = dx + r * D;
#pragma omp simd
        for (int64_t i = 0; i < D; ++i) {
          const T xhat = (xr[i] - m) * rs;
          const T dxhat = weight ? g[i] * weight[i] : g[i];
          out[i] = rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
      }
      if (param_grads) {
#pragma omp simd
        for (int64_t i = 0; i < D; ++i) {
          dw_acc[i] += g[i] * (xr[i] - m) * rs;
          db_acc[i] += g[i];
        }
      }
    }
  });
  if (!param_grads) return;
  for (int64_t i = 0; i < D; ++i) {
    double w = 0, b = 0;
    for (int t = 0; t < threads; ++t) {
      if (!used[t]) continue;
      w += partial[static_cast<size_t>(t) * 2 * D + i];
      b += partial[static_cast<size_t>(t) * 2 * D + D + i];
    }
    if (dweight) dweight[i] = static_cast<T>(w);
    if (dbias) dbias[i] = static_cast<T>(b);
  }
}

}  // namespace jepa::cpu
