// Softmax and log-softmax over the middle axis of a dense (outer, n, inner) layout, forward and
// backward. Each row is read twice in the forward (max, then exp-sum and write) and once more in
// the backward; sums accumulate in double.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>

namespace jepa::cpu {

// y = softmax(x) (or log_softmax) along n, for each (outer, inner) pair.
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int64_t lanes = outer * inner;
  parallel_for(lanes, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t o = l / inner, i = l % inner;
      const T* xr = x + o * n * inner + i;
      T* yr = y + o * n * inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, xr[j * inner]);
      if (m == -std::numeric_limits<T>::infinity()) m = 0;  // an all -inf row gives NaN below, as in PyTorch
      double s = 0;
      if (log) {
        for (int64_t j = 0; j < n; ++j) s += std::exp(xr[j * inner] - m);
        const T lse = m + static_cast<T>(std::log(s));
        for (int64_t j = 0; j < n; ++j) yr[j * inner] = xr[j * inner] - lse;
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const T e = std::exp(xr[j * inner] - m);
          yr[j * inner] = e;
          s += e;
        }
        const T inv = static_cast<T>(1.0 / s);
        for (int64_t j = 0; j < n; ++j) yr[j * inner] *= inv;
      }
    }
  });
}

// dx from dy and the forward output y:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
template <class T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int64_t lanes = outer * inner;
  parallel_for(lanes, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t base = (l / inner) * n * inner + l % inner;
      const T* g = dy + base;
      const T* yr = y + base;
      T* out = dx + base;
      double s = 0;
      if (log) {
        for (int64_t j = 0; j < n; ++j) s += g[j * inner];
        for (int64_t j = 0; j < n; ++j) out[j * inner] = g[j * inner] - std::exp(yr[j * inner]) * static_cast<T>(s);
      } else {
        for (int64_t j = 0; j < n; ++j) s += g[j * inner] * yr[j * inner];
        for (int64_t j = 0; j < n; ++j) out[j * inner] = yr[j * inner] * (g[j * inner] - static_cast<T>(s));
      }
    }
  });
}

}  // namespace jepa::cpu
