// Fused optimizer kernels over flat parameter buffers, one launch per buffer: AdamW with weight
// decay per segment, and the EMA update of JEPA target encoders. Formulas and evaluation order are
// the CPU's (backends/jepa/backends/cpu/optim.hpp), so both backends agree to rounding.
// Invariants: buffers are dense and 1-D in effect (element i of p, g, m, v is the same parameter);
// segments are sorted, disjoint [begin, end) ranges; elements outside every segment are untouched.
#pragma once
#include <jepa/backends/cpu/optim.hpp>
#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu::kernels {

namespace optim_detail {

// Segments passed by value to the kernel, up to kMaxSegments per launch.
inline constexpr int kMaxSegments = 96;
struct SegmentTable {
  int count = 0;
  int64_t begin[kMaxSegments];
  int64_t end[kMaxSegments];
  bool decay[kMaxSegments];
};

template <class T>
struct AdamWScalars {
  T b1, b2, step_size, inv_sqrt_bc2, eps, decay_keep;  // decay_keep = 1 - lr * wd
};

template <class T>
__global__ void adamw_kernel(T* param, const T* grad, T* m, T* v, SegmentTable table, AdamWScalars<T> s) {
  const int64_t lo = table.begin[0], hi = table.end[table.count - 1];
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = lo + int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < hi; i += step) {
    int first = 0, last = table.count - 1;  // the last segment with begin <= i
    while (first < last) {
      const int mid = (first + last + 1) / 2;
      if (table.begin[mid] <= i) first = mid;
      else last = mid - 1;
    }
    if (i >= table.end[first]) continue;
    const T keep = table.decay[first] ? s.decay_keep : T(1);
    const T g = grad[i];
    const T mi = s.b1 * m[i] + (T(1) - s.b1) * g;
    const T vi = s.b2 * v[i] + (T(1) - s.b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * keep - s.step_size * mi / (sqrt(vi) * s.inv_sqrt_bc2 + s.eps);
  }
}

struct EmaFn {
  double momentum;
  template <class T>
  __device__ T operator()(T target, T online) const {
    return T(momentum) * target + T(1.0 - momentum) * online;
  }
};

}  // namespace optim_detail

// One AdamW step over flat buffers param, grad, m, v (same shape and dtype).
inline void adamw(const View& param, const View& grad, const View& m, const View& v,
                  const std::vector<cpu::DecaySegment>& segments, const cpu::AdamWStep& s) {
  if (segments.empty()) return;
  const DeviceContext& ctx = activate(param.device().index);
  dispatch_float(param.dtype(), "AdamW", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const optim_detail::AdamWScalars<T> scalars{
        static_cast<T>(s.beta1),
        static_cast<T>(s.beta2),
        static_cast<T>(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step)))),
        static_cast<T>(1.0 / std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step)))),
        static_cast<T>(s.eps),
        static_cast<T>(1.0 - s.lr * s.weight_decay)};
    for (size_t first = 0; first < segments.size(); first += optim_detail::kMaxSegments) {
      optim_detail::SegmentTable table;
      for (size_t k = first; k < segments.size() && table.count < optim_detail::kMaxSegments; ++k, ++table.count) {
        table.begin[table.count] = segments[k].begin;
        table.end[table.count] = segments[k].end;
        table.decay[table.count] = segments[k].decay;
      }
      launch<optim_detail::adamw_kernel<T>>(grid_for(ctx, table.end[table.count - 1] - table.begin[0]), kBlockThreads,
                                            0, ctx.stream, data_as<T>(param), data_as<const T>(grad), data_as<T>(m),
                                            data_as<T>(v), table, scalars);
      JEPA_GPU_CHECK_LAUNCH("adamw");
    }
  });
}

// target = momentum * target + (1 - momentum) * online, elementwise over equal-shaped buffers.
inline void ema(const View& target, const View& online, double momentum) {
  map2(target, target, target.strides(), online, broadcast_strides(online.shape(), online.strides(), target.shape()),
       optim_detail::EmaFn{momentum});
}

}  // namespace jepa::gpu::kernels
