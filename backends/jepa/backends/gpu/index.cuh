// gather and its adjoint scatter_add along one dim, over strided operands (the CPU's
// backends/jepa/backends/cpu/index.hpp semantics): position p of the index reads/writes the data
// element with p's coordinates except along `dim`, where the index value is used.
// Invariants:
// - An index outside [0, size) is recorded as a KernelFault (runtime.cuh) and skipped (gather
//   writes 0 there); the error is thrown at the host's next wait for the device.
// - scatter_add adds with atomics (dx zeroed by the caller), so duplicate indices are summed; the
//   order of those additions, and so the last bits of such sums, may vary between runs.
#pragma once
#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu::kernels {

namespace index_detail {

template <class S>
struct GatherBody {
  S* out;
  const int64_t* index;
  const S* x;
  int64_t dim_stride, dim_size, dim;
  FaultSink faults;
  __device__ void operator()(const int64_t* off) const {  // off: out, index, x without dim
    const int64_t v = index[off[1]];
    if (v < 0 || v >= dim_size) {
      report_index_out_of_range(faults, v, dim, dim_size);
      out[off[0]] = convert_value<S>(0.0);
      return;
    }
    out[off[0]] = x[off[2] + v * dim_stride];
  }
};

template <class S>
struct ScatterAddBody {
  const S* grad;
  const int64_t* index;
  S* dx;
  int64_t dim_stride, dim_size, dim;
  FaultSink faults;
  __device__ void operator()(const int64_t* off) const {  // off: grad, index, dx without dim
    const int64_t v = index[off[1]];
    if (v < 0 || v >= dim_size) {
      report_index_out_of_range(faults, v, dim, dim_size);
      return;
    }
    atomic_add(dx + off[2] + v * dim_stride, convert_value<compute_t<S>>(grad[off[0]]));
  }
};

inline Shape strides_without(const Shape& strides, int64_t dim) {
  Shape s = strides;
  s[dim] = 0;
  return s;
}

}  // namespace index_detail

// out[p] = x[p with coordinate dim replaced by index[p]]; out has index's shape.
inline void gather(const View& x, const View& index, const View& out, int64_t dim) {
  const DeviceContext& ctx = activate(x.device().index);
  dispatch_storage(x.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<3>(x.device(), index.shape(),
                      {out.strides(), index.strides(), index_detail::strides_without(x.strides(), dim)},
                      index_detail::GatherBody<S>{data_as<S>(out), data_as<const int64_t>(index), data_as<const S>(x),
                                                  x.stride(dim), x.size(dim), dim, ctx.faults},
                      "gather");
  });
}

// dx[p with coordinate dim replaced by index[p]] += grad[p]; dx zeroed by the caller.
inline void scatter_add(const View& index, const View& grad, const View& dx, int64_t dim) {
  const DeviceContext& ctx = activate(dx.device().index);
  dispatch_compute(dx.dtype(), "scatter_add", [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<3>(dx.device(), index.shape(),
                      {grad.strides(), index.strides(), index_detail::strides_without(dx.strides(), dim)},
                      index_detail::ScatterAddBody<S>{data_as<const S>(grad), data_as<const int64_t>(index),
                                                      data_as<S>(dx), dx.stride(dim), dx.size(dim), dim,
                                                      ctx.faults},
                      "scatter_add");
  });
}

}  // namespace jepa::gpu::kernels
