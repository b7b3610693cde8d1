// Strided iteration for elementwise CPU kernels: any strides (broadcast dims have stride 0), with a
// fast path when the innermost run is contiguous. Dims are coalesced first, so contiguous tensors
// of any rank run as one flat loop.
#pragma once
#include <array>
#include <cstdint>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/core/shape.hpp>

namespace jepa::cpu {

// An index space and, per operand, its strides over it.
template <size_t K>
struct StridedSpace {
  Shape shape;
  std::array<Shape, K> strides;
};

// Drops size-1 dims and merges neighbouring dims that every operand walks contiguously.
template <size_t K>
StridedSpace<K> coalesce(const Shape& shape, const std::array<Shape, K>& strides) {
  StridedSpace<K> out;
  for (int64_t d = 0; d < shape.ndim(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out.shape.empty();
    for (size_t k = 0; k < K && merge; ++k)
      merge = out.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      out.shape.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) out.strides[k].back() = strides[k][d];
    } else {
      out.shape.push_back(shape[d]);
      for (size_t k = 0; k < K; ++k) out.strides[k].push_back(strides[k][d]);
    }
  }
  if (out.shape.empty()) {  // a scalar or all dims of size 1
    out.shape.push_back(1);
    for (size_t k = 0; k < K; ++k) out.strides[k].push_back(1);
  }
  return out;
}

// Calls row(offsets, n, inner_strides) for each innermost row, rows split across threads.
template <size_t K, class Row>
void for_each_row(const StridedSpace<K>& space, Row&& row) {
  if (space.shape.numel() == 0) return;  // also keeps `inner` below non-zero
  const int64_t ndim = space.shape.ndim();
  const int64_t inner = space.shape.back();
  const int64_t rows = space.shape.numel() / inner;
  std::array<int64_t, K> inner_strides;
  for (size_t k = 0; k < K; ++k) inner_strides[k] = space.strides[k].back();
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    Shape index(ndim > 1 ? ndim - 1 : 0);
    std::array<int64_t, K> offsets{};
    int64_t rest = r0;
    for (int64_t d = ndim - 2; d >= 0; --d) {
      index[d] = rest % space.shape[d];
      rest /= space.shape[d];
      for (size_t k = 0; k < K; ++k) offsets[k] += index[d] * space.strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(offsets, inner, inner_strides);
      for (int64_t d = ndim - 2; d >= 0; --d) {  // advance the outer multi-index with carry
        for (size_t k = 0; k < K; ++k) offsets[k] += space.strides[k][d];
        if (++index[d] < space.shape[d]) break;
        for (size_t k = 0; k < K; ++k) offsets[k] -= space.strides[k][d] * space.shape[d];
        index[d] = 0;
      }
    }
  });
}

// out[i] = f(in[i]) over `shape`, each operand with its own strides.
template <class TOut, class TIn, class F>
void map1(const Shape& shape, TOut* out, const Shape& out_strides, const TIn* in, const Shape& in_strides, F f) {
  for_each_row(coalesce<2>(shape, {out_strides, in_strides}),
               [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                 TOut* o = out + off[0];
                 const TIn* a = in + off[1];
                 if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                   for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
                 } else {
                   for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
                 }
               });
}

// out[i] = f(a[i], b[i]) over `shape`; broadcast operands have stride 0.
template <class T, class F>
void map2(const Shape& shape, T* out, const Shape& out_strides, const T* a, const Shape& a_strides, const T* b,
          const Shape& b_strides, F f) {
  for_each_row(coalesce<3>(shape, {out_strides, a_strides, b_strides}),
               [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                 T* o = out + off[0];
                 const T* x = a + off[1];
                 const T* y = b + off[2];
                 if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                   for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                 } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                   const T yv = *y;
#pragma omp simd
                   for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                 } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                   const T xv = *x;
#pragma omp simd
                   for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
                 } else {
                   for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
                 }
               });
}

// out[i] = f(a[i], b[i], c[i]) over `shape` (fused backward formulas).
template <class T, class F>
void map3(const Shape& shape, T* out, const Shape& out_strides, const T* a, const Shape& a_strides, const T* b,
          const Shape& b_strides, const T* c, const Shape& c_strides, F f) {
  for_each_row(coalesce<4>(shape, {out_strides, a_strides, b_strides, c_strides}),
               [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                 T* o = out + off[0];
                 const T* x = a + off[1];
                 const T* y = b + off[2];
                 const T* z = c + off[3];
                 if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
#pragma omp simd
                   for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
                 } else {
                   for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]], z[i * st[3]]);
                 }
               });
}

}  // namespace jepa::cpu
