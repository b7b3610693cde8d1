// Softmax and log-softmax over the middle axis of a dense (outer, n, inner) tensor, forward and
// backward, with the CPU kernels' formulas (backends/jepa/backends/cpu/softmax.hpp):
//   forward: m = max, s = sum exp(x - m); softmax y = exp(x - m) / s, log y = x - (m + log s)
//   backward from the output y: softmax dx = y * (dy - sum(dy * y)); log dx = dy - exp(y) * sum(dy)
// Invariants:
// - A row whose values are all -inf gives NaN, as on the CPU and in PyTorch.
// - Row sums accumulate in double; elementwise math is in the compute type (f32 for bf16).
// - inner == 1 (the usual last-dim softmax): a warp or block per row; inner > 1: a thread per
//   (outer, inner) lane walking the row with stride inner, so neighbouring threads read
//   neighbouring addresses.
#pragma once
#include <jepa/backends/gpu/reduce.cuh>

namespace jepa::gpu::kernels {

namespace softmax_detail {

// Addresses row l of the (outer, n, inner) layout: element j is at base + j * stride.
struct RowAddress {
  int64_t base, stride;
};

// Either Group threads per row (inner == 1) or one thread per lane (Group == 1).
template <int Group>
__device__ inline RowAddress row_address(int64_t row, int64_t n, int64_t inner) {
  if constexpr (Group == 1) return {(row / inner) * n * inner + row % inner, inner};
  else return {row * n, 1};
}

template <int Group, class Op, class T>
__device__ inline T reduce_row(T v) {
  if constexpr (Group == 1) return v;
  else return row_reduce<Group, Op>(v);
}

template <int Group, class S>
__global__ void forward_kernel(const S* x, S* y, int64_t rows, int64_t n, int64_t inner, bool log) {
  using C = compute_t<S>;
  const int lane = threadIdx.x % Group;
  for (int64_t row = first_row<Group>(); row < rows; row += row_step<Group>()) {
    const RowAddress a = row_address<Group>(row, n, inner);
    const S* xr = x + a.base;
    S* yr = y + a.base;
    C m = -INFINITY;
    for (int64_t j = lane; j < n; j += Group) m = fmax(m, convert_value<C>(xr[j * a.stride]));
    m = reduce_row<Group, MaxCombine>(m);
    if (m == C(-INFINITY)) m = C(0);
    double s = 0;
    for (int64_t j = lane; j < n; j += Group) s += exp(convert_value<C>(xr[j * a.stride]) - m);
    s = reduce_row<Group, SumCombine>(s);
    if (log) {
      const C lse = m + static_cast<C>(::log(s));
      for (int64_t j = lane; j < n; j += Group) yr[j * a.stride] = convert_value<S>(convert_value<C>(xr[j * a.stride]) - lse);
    } else {
      const C inv = static_cast<C>(1.0 / s);
      for (int64_t j = lane; j < n; j += Group)
        yr[j * a.stride] = convert_value<S>(exp(convert_value<C>(xr[j * a.stride]) - m) * inv);
    }
  }
}

template <int Group, class S>
__global__ void backward_kernel(const S* dy, const S* y, S* dx, int64_t rows, int64_t n, int64_t inner, bool log) {
  using C = compute_t<S>;
  const int lane = threadIdx.x % Group;
  for (int64_t row = first_row<Group>(); row < rows; row += row_step<Group>()) {
    const RowAddress a = row_address<Group>(row, n, inner);
    const S* g = dy + a.base;
    const S* yr = y + a.base;
    S* out = dx + a.base;
    double s = 0;
    for (int64_t j = lane; j < n; j += Group) {
      const C gj = convert_value<C>(g[j * a.stride]);
      s += log ? gj : gj * convert_value<C>(yr[j * a.stride]);
    }
    const C sum = static_cast<C>(reduce_row<Group, SumCombine>(s));
    for (int64_t j = lane; j < n; j += Group) {
      const C gj = convert_value<C>(g[j * a.stride]), yj = convert_value<C>(yr[j * a.stride]);
      out[j * a.stride] = convert_value<S>(log ? gj - exp(yj) * sum : yj * (gj - sum));
    }
  }
}

// Runs kernel<Group> over the rows of an (outer, n, inner) layout.
template <class Launch>
void launch_rows(const DeviceContext& ctx, int64_t outer, int64_t n, int64_t inner, Launch&& launch) {
  if (inner == 1) {
    launch_per_row(ctx, outer, n, launch);
  } else {
    launch(std::integral_constant<int, 1>{}, grid_for(ctx, outer * inner));
  }
}

}  // namespace softmax_detail

// y = softmax(x) (or log_softmax) along n; x and y dense (outer, n, inner).
inline void softmax_forward(const View& x, const View& y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (x.numel() == 0) return;
  const DeviceContext& ctx = activate(x.device().index);
  dispatch_compute(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using S = typename decltype(tag)::type;
    softmax_detail::launch_rows(ctx, outer, n, inner, [&](auto group, unsigned grid) {
      launch<softmax_detail::forward_kernel<decltype(group)::value, S>>(grid, kBlockThreads, 0, ctx.stream,
          data_as<const S>(x), data_as<S>(y), outer * (decltype(group)::value == 1 ? inner : 1), n, inner, log);
    });
  });
  JEPA_GPU_CHECK_LAUNCH("softmax_forward");
}

// dx from dy and the forward output y, all dense (outer, n, inner).
inline void softmax_backward(const View& dy, const View& y, const View& dx, int64_t outer, int64_t n,
                             int64_t inner, bool log) {
  if (y.numel() == 0) return;
  const DeviceContext& ctx = activate(y.device().index);
  dispatch_compute(y.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using S = typename decltype(tag)::type;
    softmax_detail::launch_rows(ctx, outer, n, inner, [&](auto group, unsigned grid) {
      launch<softmax_detail::backward_kernel<decltype(group)::value, S>>(grid, kBlockThreads, 0, ctx.stream,
          data_as<const S>(dy), data_as<const S>(y), data_as<S>(dx), outer * (decltype(group)::value == 1 ? inner : 1),
          n, inner, log);
    });
  });
  JEPA_GPU_CHECK_LAUNCH("softmax_backward");
}

}  // namespace jepa::gpu::kernels
