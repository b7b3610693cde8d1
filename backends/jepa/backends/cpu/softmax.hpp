// Softmax and log-softmax over the middle axis of a dense (outer, n, inner) layout, forward and
// backward, vectorized through dispatch_simd (simd.hpp).
// Forward reads each row once to find its max and its sum of exponentials together (the online
// form: when the running max grows, the running sum is rescaled by exp(old max - new max)), then
// writes it once: softmax y = exp(x - max) / sum, log_softmax y = x - (max + log sum).
// A row of all -inf gives NaN, as in PyTorch. Backward from the output y:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
// Vectors run along a row when inner == 1, else across `inner` (one lane per row).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/simd.hpp>

JEPA_SIMD_GENERIC_BEGIN

namespace jepa::cpu {

namespace detail {

// Lanes [0, count) from p, the others `fill`; nothing is read when count <= 0.
template <class V>
V load_or(const typename V::value_type* p, int64_t count, typename V::value_type fill) {
  if (count >= V::width) return V::load(p);
  if (count <= 0) return V::set1(fill);
  return select(V::first(count), V::load(p, count), V::set1(fill));
}

// Per lane: the largest value seen and the sum of exp(value - largest).
template <class V>
struct OnlineSoftmax {
  static constexpr int kGroup = 4;  // values per lane between two rescalings of the sum
  V peak = V::set1(std::numeric_limits<typename V::value_type>::lowest());
  V total = V::zero();

  void add(const V (&x)[kGroup]) {
    const V group_peak = max(max(x[0], x[1]), max(x[2], x[3]));
    const V new_peak = max(peak, group_peak);  // NaN in x reaches the total through new_peak
    V sum = total * simd::exp(peak - new_peak);
    for (const V& v : x) sum = sum + simd::exp(v - new_peak);
    peak = new_peak;
    total = sum;
  }
};

// Padding lanes hold -inf, whose exp is 0 against any running max (which starts finite).
template <class T> inline constexpr T kPadding = -std::numeric_limits<T>::infinity();

template <class V, class T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  constexpr int64_t W = V::width, kGroup = OnlineSoftmax<V>::kGroup;
  OnlineSoftmax<V> acc;
  for (int64_t j = 0; j < n; j += kGroup * W) {
    V group[kGroup];
    for (int64_t k = 0; k < kGroup; ++k) group[k] = load_or<V>(x + j + k * W, n - j - k * W, kPadding<T>);
    acc.add(group);
  }
  const T peak = reduce_max(acc.peak);
  const T total = reduce_add(acc.total * simd::exp(acc.peak - V::set1(peak)));
  const V shift = V::set1(log ? peak + std::log(total) : peak), scale = V::set1(T(1) / total);
  for (int64_t j = 0; j < n; j += W) {
    const V v = V::load(x + j, n - j) - shift;
    (log ? v : simd::exp(v) * scale).store(y + j, n - j);
  }
}

// `count` <= W lanes, lane l the row at x + l, its elements `stride` apart.
template <class V, class T>
void softmax_lanes(const T* x, T* y, int64_t n, int64_t stride, int64_t count, bool log) {
  constexpr int64_t kGroup = OnlineSoftmax<V>::kGroup;
  OnlineSoftmax<V> acc;
  for (int64_t j = 0; j < n; j += kGroup) {
    V group[kGroup];
    for (int64_t k = 0; k < kGroup; ++k)
      group[k] = j + k < n ? V::load(x + (j + k) * stride, count) : V::set1(kPadding<T>);
    acc.add(group);
  }
  V shift = acc.peak, scale = reciprocal(acc.total);
  if (log) {  // no vector log: per lane
    T lanes[V::width];
    acc.total.store(lanes);
    for (T& t : lanes) t = std::log(t);
    shift = shift + V::load(lanes);
  }
  for (int64_t j = 0; j < n; ++j) {
    const V v = V::load(x + j * stride, count) - shift;
    (log ? v : simd::exp(v) * scale).store(y + j * stride, count);
  }
}

template <class V, class T>
void softmax_backward_row(const T* dy, const T* y, T* dx, int64_t n, bool log) {
  constexpr int64_t W = V::width;
  V acc = V::zero();
  for (int64_t j = 0; j < n; j += W) {
    const V g = V::load(dy + j, n - j);
    acc = log ? acc + g : fma(g, V::load(y + j, n - j), acc);
  }
  const V s = V::set1(reduce_add(acc));
  for (int64_t j = 0; j < n; j += W) {
    const V g = V::load(dy + j, n - j), out = V::load(y + j, n - j);
    (log ? g - simd::exp(out) * s : out * (g - s)).store(dx + j, n - j);
  }
}

template <class V, class T>
void softmax_backward_lanes(const T* dy, const T* y, T* dx, int64_t n, int64_t stride, int64_t count, bool log) {
  V s = V::zero();
  for (int64_t j = 0; j < n; ++j) {
    const V g = V::load(dy + j * stride, count);
    s = log ? s + g : fma(g, V::load(y + j * stride, count), s);
  }
  for (int64_t j = 0; j < n; ++j) {
    const V g = V::load(dy + j * stride, count), out = V::load(y + j * stride, count);
    (log ? g - simd::exp(out) * s : out * (g - s)).store(dx + j * stride, count);
  }
}

// Runs row(V, offset) for every row of (outer, n, 1), or lanes(V, offset, count) for every group
// of up to V::width lanes of (outer, n, inner), in parallel.
template <class T, class Row, class Lanes>
void for_each_softmax_slice(int64_t outer, int64_t n, int64_t inner, Row row, Lanes lanes) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
      dispatch_simd<T>([&](auto tag) {
        for (int64_t r = r0; r < r1; ++r) row(tag, r * n);
      });
    });
    return;
  }
  constexpr int64_t kColumns = 16;  // per work item; a multiple of every vector width
  const int64_t blocks = (inner + kColumns - 1) / kColumns;
  parallel_for(outer * blocks, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n * kColumns, 1)),
               [&](int64_t b0, int64_t b1) {
                 dispatch_simd<T>([&](auto tag) {
                   constexpr int64_t W = decltype(tag)::type::width;
                   for (int64_t b = b0; b < b1; ++b) {
                     const int64_t o = b / blocks, i0 = (b % blocks) * kColumns, i1 = std::min(inner, i0 + kColumns);
                     for (int64_t i = i0; i < i1; i += W) lanes(tag, o * n * inner + i, std::min(W, i1 - i));
                   }
                 });
               });
}

}  // namespace detail

// y = softmax(x) (or log_softmax) along n, for each (outer, inner) pair.
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  detail::for_each_softmax_slice<T>(
      outer, n, inner,
      [&](auto tag, int64_t off) { detail::softmax_row<typename decltype(tag)::type>(x + off, y + off, n, log); },
      [&](auto tag, int64_t off, int64_t count) {
        detail::softmax_lanes<typename decltype(tag)::type>(x + off, y + off, n, inner, count, log);
      });
}

// dx from dy and the forward output y.
template <class T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  detail::for_each_softmax_slice<T>(
      outer, n, inner,
      [&](auto tag, int64_t off) {
        detail::softmax_backward_row<typename decltype(tag)::type>(dy + off, y + off, dx + off, n, log);
      },
      [&](auto tag, int64_t off, int64_t count) {
        detail::softmax_backward_lanes<typename decltype(tag)::type>(dy + off, y + off, dx + off, n, inner, count, log);
      });
}

}  // namespace jepa::cpu

JEPA_SIMD_GENERIC_END
