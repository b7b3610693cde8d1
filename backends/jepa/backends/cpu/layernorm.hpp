// LayerNorm over the last D elements of each row, forward and backward (the llm.c pairing),
// vectorized through dispatch_simd (simd.hpp). Forward saves mean and rstd per row. Backward:
//   xhat = (x - mean) * rstd, dxhat = dy * w
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (written, =)
//   dw = sum_rows(dy * xhat), db = sum_rows(dy)                      (written, =)
// Weight and bias are optional (nullptr). Each row is read from memory once per direction: its
// statistics take two sweeps (mean, then the centred sum of squares, exact even when the mean is
// large) over the row while it sits in L1, then one sweep writes the output.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/simd.hpp>

JEPA_SIMD_GENERIC_BEGIN

namespace jepa::cpu {

namespace detail {

template <class V, class T>
void layernorm_row(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t D, double eps) {
  constexpr int64_t W = V::width;
  V acc = V::zero();
  for (int64_t i = 0; i < D; i += W) acc = acc + V::load(x + i, D - i);
  const T m = static_cast<T>(static_cast<double>(reduce_add(acc)) / static_cast<double>(D));
  const V vm = V::set1(m);
  acc = V::zero();
  for (int64_t i = 0; i < D; i += W) {
    const V d = select(V::first(D - i), V::load(x + i, D - i) - vm, V::zero());
    acc = fma(d, d, acc);
  }
  const T rs = static_cast<T>(1.0 / std::sqrt(static_cast<double>(reduce_add(acc)) / static_cast<double>(D) + eps));
  const V vrs = V::set1(rs);
  for (int64_t i = 0; i < D; i += W) {
    const int64_t n = D - i;
    V out = (V::load(x + i, n) - vm) * vrs;
    if (weight) out = out * V::load(weight + i, n);
    if (bias) out = out + V::load(bias + i, n);
    out.store(y + i, n);
  }
  *mean = m;
  *rstd = rs;
}

// Writes dx (when not null) and adds this row's dy * xhat and dy to dw_acc and db_acc (when not
// null; length D each).
template <class V, class T>
void layernorm_backward_row(const T* g, const T* x, const T* weight, T m, T rs, T* dx, T* dw_acc, T* db_acc,
                            int64_t D) {
  constexpr int64_t W = V::width;
  const V vm = V::set1(m), vrs = V::set1(rs);
  if (dx) {
    V sum_dxhat = V::zero(), sum_dxhat_xhat = V::zero();
    for (int64_t i = 0; i < D; i += W) {
      const int64_t n = D - i;
      const V xhat = (V::load(x + i, n) - vm) * vrs;
      const V dxhat = weight ? V::load(g + i, n) * V::load(weight + i, n) : V::load(g + i, n);
      sum_dxhat = sum_dxhat + dxhat;
      sum_dxhat_xhat = fma(dxhat, xhat, sum_dxhat_xhat);
    }
    const V mean_dxhat = V::set1(reduce_add(sum_dxhat) / static_cast<T>(D));
    const V mean_dxhat_xhat = V::set1(reduce_add(sum_dxhat_xhat) / static_cast<T>(D));
    for (int64_t i = 0; i < D; i += W) {
      const int64_t n = D - i;
      const V xhat = (V::load(x + i, n) - vm) * vrs;
      const V dxhat = weight ? V::load(g + i, n) * V::load(weight + i, n) : V::load(g + i, n);
      (vrs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)).store(dx + i, n);
    }
  }
  if (dw_acc || db_acc) {
    for (int64_t i = 0; i < D; i += W) {
      const int64_t n = D - i;
      const V gi = V::load(g + i, n);
      if (dw_acc) fma(gi, (V::load(x + i, n) - vm) * vrs, V::load(dw_acc + i, n)).store(dw_acc + i, n);
      if (db_acc) (V::load(db_acc + i, n) + gi).store(db_acc + i, n);
    }
  }
}

}  // namespace detail

template <class T>
void layernorm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows, int64_t D,
                       double eps) {
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      for (int64_t r = r0; r < r1; ++r)
        detail::layernorm_row<V>(x + r * D, weight, bias, y + r * D, mean + r, rstd + r, D, eps);
    });
  });
}

// dx, dweight and dbias may each be null when not needed. Each thread sums its rows' dweight and
// dbias terms in T over blocks of kBlockRows rows, then into a private double buffer; the buffers
// are added at the end.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx, T* dweight,
                        T* dbias, int64_t rows, int64_t D) {
  constexpr int64_t kBlockRows = 32;
  const bool param_grads = dweight || dbias;
  const int threads = max_threads();
  std::vector<double> partial(param_grads ? static_cast<size_t>(threads) * 2 * D : 0, 0.0);
  std::vector<char> used(static_cast<size_t>(threads), 0);
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    const int t = thread_index();
    std::vector<T> block(param_grads ? static_cast<size_t>(2 * D) : 0);
    T* dw_block = dweight ? block.data() : nullptr;
    T* db_block = dbias ? block.data() + D : nullptr;
    for (int64_t b0 = r0; b0 < r1; b0 += kBlockRows) {
      const int64_t b1 = std::min(r1, b0 + kBlockRows);
      std::fill(block.begin(), block.end(), T(0));
      dispatch_simd<T>([&](auto tag) {
        using V = typename decltype(tag)::type;
        for (int64_t r = b0; r < b1; ++r)
          detail::layernorm_backward_row<V>(dy + r * D, x + r * D, weight, mean[r], rstd[r], dx ? dx + r * D : nullptr,
                                            dw_block, db_block, D);
      });
      if (!param_grads) continue;
      used[t] = 1;
      double* acc = partial.data() + static_cast<size_t>(t) * 2 * D;
      for (int64_t i = 0; i < 2 * D; ++i) acc[i] += static_cast<double>(block[i]);
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

JEPA_SIMD_GENERIC_END
