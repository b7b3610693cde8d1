// GELU with an optional bias folded in, over a dense (rows, D) layout with bias (D):
//   forward:  h = x + bias, y = h Phi(h)
//   backward: dx = dy (Phi(h) + h phi(h))        (written, =)
//             dbias = sum over rows of dx        (written, =; reduced in the same pass)
// Phi and phi are the standard normal CDF and PDF (simd/math.hpp). Without a bias, D may be any
// divisor of the element count (the kernels see a flat array). One pass each way; the work is
// split over flat element ranges, so a single long row runs in parallel too.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/simd.hpp>

JEPA_SIMD_GENERIC_BEGIN

namespace jepa::cpu {

namespace detail {

// Calls segment(offset, length, column) for the pieces of [begin, end) that lie in one row of D.
template <class F>
void for_each_row_segment(int64_t begin, int64_t end, int64_t D, F&& segment) {
  while (begin < end) {
    const int64_t column = begin % D, length = std::min(end - begin, D - column);
    segment(begin, length, column);
    begin += length;
  }
}

template <class V, class T>
void bias_gelu_segment(const T* x, const T* bias, T* y, int64_t n) {
  for (int64_t i = 0; i < n; i += V::width) {
    V h = V::load(x + i, n - i);
    if (bias) h = h + V::load(bias + i, n - i);
    (h * simd::normal_cdf_pdf(h).cdf).store(y + i, n - i);
  }
}

// Also adds dx into dbias_acc when it is not null.
template <class V, class T>
void bias_gelu_backward_segment(const T* dy, const T* x, const T* bias, T* dx, T* dbias_acc, int64_t n) {
  for (int64_t i = 0; i < n; i += V::width) {
    V h = V::load(x + i, n - i);
    if (bias) h = h + V::load(bias + i, n - i);
    const simd::NormalCdfPdf<V> p = simd::normal_cdf_pdf(h);
    const V d = V::load(dy + i, n - i) * fma(h, p.pdf, p.cdf);
    d.store(dx + i, n - i);
    if (dbias_acc) (V::load(dbias_acc + i, n - i) + d).store(dbias_acc + i, n - i);
  }
}

}  // namespace detail

template <class T>
void bias_gelu_forward(const T* x, const T* bias, T* y, int64_t rows, int64_t D) {
  parallel_for(rows * D, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      detail::for_each_row_segment(i0, i1, D, [&](int64_t off, int64_t n, int64_t column) {
        detail::bias_gelu_segment<V>(x + off, bias ? bias + column : nullptr, y + off, n);
      });
    });
  });
}

// dbias may be null (then bias may be too). Each thread sums dbias terms in T over blocks of about
// kBlockRows rows, then into a private double buffer; the buffers are added at the end.
template <class T>
void bias_gelu_backward(const T* dy, const T* x, const T* bias, T* dx, T* dbias, int64_t rows, int64_t D) {
  const int64_t block = std::max<int64_t>(D, int64_t{32} * D);  // elements between two flushes
  const int threads = max_threads();
  std::vector<double> partial(dbias ? static_cast<size_t>(threads) * D : 0, 0.0);
  parallel_for(rows * D, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    std::vector<T> acc(dbias ? static_cast<size_t>(D) : 0);
    double* total = dbias ? partial.data() + static_cast<size_t>(thread_index()) * D : nullptr;
    for (int64_t b0 = i0; b0 < i1; b0 += block) {
      const int64_t b1 = std::min(i1, b0 + block);
      std::fill(acc.begin(), acc.end(), T(0));
      dispatch_simd<T>([&](auto tag) {
        using V = typename decltype(tag)::type;
        detail::for_each_row_segment(b0, b1, D, [&](int64_t off, int64_t n, int64_t column) {
          detail::bias_gelu_backward_segment<V>(dy + off, x + off, bias ? bias + column : nullptr, dx + off,
                                                dbias ? acc.data() + column : nullptr, n);
        });
      });
      for (size_t i = 0; i < acc.size(); ++i) total[i] += static_cast<double>(acc[i]);
    }
  });
  if (!dbias) return;
  for (int64_t i = 0; i < D; ++i) {
    double s = 0;
    for (int t = 0; t < threads; ++t) s += partial[static_cast<size_t>(t) * D + i];
    dbias[i] = static_cast<T>(s);
  }
}

}  // namespace jepa::cpu

JEPA_SIMD_GENERIC_END
