// Strided elementwise kernels: map1/map2/map3 with the functors the CPU kernels use, dtype
// conversion copies between any two dtypes, and fill.
// Invariants:
// - Operands are addressed by per-operand strides over one index space (broadcast dims have
//   stride 0); dims are coalesced on the host first (cpu::coalesce), so dense tensors of any rank
//   run with no index arithmetic beyond a multiply.
// - Storage types inside kernels: float, double, gpu_bf16, gpu_f16, int64_t; bf16 and f16 values
//   are computed in float (compute_t) and rounded to nearest even when stored.
// - The map functions take operands of one dtype (the ops check it); copy_elements converts.
#pragma once
#include <array>
#include <type_traits>

#include <jepa/backends/cpu/strided.hpp>
#include <jepa/backends/gpu/runtime.cuh>
#include <jepa/backends/gpu/api.hpp>

namespace jepa::gpu::kernels {

// ---- element types -----------------------------------------------------------------------------

template <class S> inline constexpr bool is_half_v = std::is_same_v<S, gpu_bf16> || std::is_same_v<S, gpu_f16>;

// The type kernels compute in for storage type S.
template <class S> using compute_t = std::conditional_t<is_half_v<S>, float, S>;

// Converts between storage and compute types (through float for the 16-bit types, like the CPU's
// jepa::convert).
template <class To, class From>
__device__ inline To convert_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_half_v<From>) {
    return convert_value<To>(to_float(v));
  } else if constexpr (std::is_same_v<To, gpu_bf16>) {
    return to_bf16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, gpu_f16>) {
    return to_f16(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

// Calls f(TypeTag<S>) with the kernel storage type of every dtype.
template <class F>
decltype(auto) dispatch_storage(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::bf16: return f(TypeTag<gpu_bf16>{});
    case DType::f16: return f(TypeTag<gpu_f16>{});
    case DType::i64: return f(TypeTag<int64_t>{});
  }
  fail("dispatch", "unknown dtype");
}

// Calls f(TypeTag<S>) for the dtypes GPU kernels compute in: f32, f64 and bf16.
template <class F>
decltype(auto) dispatch_compute(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::bf16: return f(TypeTag<gpu_bf16>{});
    default: fail(op, "expected a tensor of dtype f32, f64 or bf16 on ", kBackendName, ", got ", t);
  }
}

template <class S>
S* data_as(const View& t) {
  return static_cast<S*>(t.raw_data());
}

// ---- strided index space -----------------------------------------------------------------------

inline constexpr int kMaxDims = 10;

template <int K>
struct StridedSpace {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[K][kMaxDims];
};

template <int K>
StridedSpace<K> make_space(const Shape& shape, const std::array<Shape, K>& strides, const char* op) {
  const cpu::StridedSpace<K> c = cpu::coalesce<K>(shape, strides);
  JEPA_CHECK(c.shape.ndim() <= kMaxDims, op, "tensor of shape ", shape, " has ", c.shape.ndim(),
             " non-mergeable dims; the ", kBackendName, " kernels support ", kMaxDims);
  StridedSpace<K> s;
  s.ndim = static_cast<int>(c.shape.ndim());
  for (int d = 0; d < s.ndim; ++d) {
    s.sizes[d] = c.shape[d];
    for (int k = 0; k < K; ++k) s.strides[k][d] = c.strides[k][d];
  }
  return s;
}

// Element offsets of each operand at a linear index (row-major over the space).
template <class Index, int K>
__device__ inline void offsets_at(const StridedSpace<K>& s, Index linear, int64_t (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = s.ndim - 1; d > 0; --d) {
    const Index size = static_cast<Index>(s.sizes[d]);
    const Index q = linear / size, r = linear - q * size;
    for (int k = 0; k < K; ++k) off[k] += static_cast<int64_t>(r) * s.strides[k][d];
    linear = q;
  }
  for (int k = 0; k < K; ++k) off[k] += static_cast<int64_t>(linear) * s.strides[k][0];
}

// Index is 32-bit when the space allows: 64-bit division costs several times more.
template <class Index, int K, class Body>
__global__ void strided_kernel(StridedSpace<K> space, Index n, Body body) {
  const Index step = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[K];
    offsets_at(space, i, off);
    body(off);
  }
}

// Runs body(offsets) for every element of `shape` on `device`.
template <int K, class Body>
void launch_strided(Device device, const Shape& shape, const std::array<Shape, K>& strides, const Body& body,
                    const char* op) {
  const int64_t n = shape.numel();
  if (n == 0) return;
  const StridedSpace<K> space = make_space<K>(shape, strides, op);
  const DeviceContext& ctx = activate(device.index);
  const unsigned grid = grid_for(ctx, n);
  if (n < (int64_t{1} << 31)) {
    launch<strided_kernel<uint32_t, K, Body>>(grid, kBlockThreads, 0, ctx.stream, space, static_cast<uint32_t>(n), body);
  } else {
    launch<strided_kernel<uint64_t, K, Body>>(grid, kBlockThreads, 0, ctx.stream, space, static_cast<uint64_t>(n), body);
  }
  JEPA_GPU_CHECK_LAUNCH(op);
}

// ---- bodies ------------------------------------------------------------------------------------

template <class To, class From>
struct ConvertBody {
  To* out;
  const From* in;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = convert_value<To>(in[off[1]]); }
};

template <class S>
struct FillBody {
  S* out;
  double value;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = convert_value<S>(value); }
};

template <class S, class F>
struct Map1Body {
  S* out;
  const S* a;
  F f;
  __device__ void operator()(const int64_t* off) const {
    using C = compute_t<S>;
    out[off[0]] = convert_value<S>(f(convert_value<C>(a[off[1]])));
  }
};

template <class S, class F>
struct Map2Body {
  S* out;
  const S* a;
  const S* b;
  F f;
  __device__ void operator()(const int64_t* off) const {
    using C = compute_t<S>;
    out[off[0]] = convert_value<S>(f(convert_value<C>(a[off[1]]), convert_value<C>(b[off[2]])));
  }
};

template <class S, class F>
struct Map3Body {
  S* out;
  const S* a;
  const S* b;
  const S* c;
  F f;
  __device__ void operator()(const int64_t* off) const {
    using C = compute_t<S>;
    out[off[0]] =
        convert_value<S>(f(convert_value<C>(a[off[1]]), convert_value<C>(b[off[2]]), convert_value<C>(c[off[3]])));
  }
};

// ---- the functions ops call --------------------------------------------------------------------

// dst[i] = convert(src[i]) over dst's shape; src_strides read src broadcast to it.
inline void copy_elements(const View& dst, const View& src, const Shape& src_strides) {
  dispatch_storage(dst.dtype(), [&](auto to) {
    using To = typename decltype(to)::type;
    dispatch_storage(src.dtype(), [&](auto from) {
      using From = typename decltype(from)::type;
      launch_strided<2>(dst.device(), dst.shape(), {dst.strides(), src_strides},
                        ConvertBody<To, From>{data_as<To>(dst), data_as<const From>(src)}, "copy");
    });
  });
}

inline void fill(const View& t, double value) {
  dispatch_storage(t.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<1>(t.device(), t.shape(), {t.strides()}, FillBody<S>{data_as<S>(t), value}, "fill");
  });
}

// out[i] = f(x[i]); x has out's shape.
template <class F>
void map1(const View& out, const View& x, F f) {
  dispatch_compute(out.dtype(), "map1", [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<2>(out.device(), out.shape(), {out.strides(), x.strides()},
                      Map1Body<S, F>{data_as<S>(out), data_as<const S>(x), f}, "map1");
  });
}

// out[i] = f(a[i], b[i]); a_strides and b_strides read a and b broadcast to out's shape.
template <class F>
void map2(const View& out, const View& a, const Shape& a_strides, const View& b, const Shape& b_strides, F f) {
  dispatch_compute(out.dtype(), "map2", [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<3>(out.device(), out.shape(), {out.strides(), a_strides, b_strides},
                      Map2Body<S, F>{data_as<S>(out), data_as<const S>(a), data_as<const S>(b), f}, "map2");
  });
}

// out[i] = f(a[i], b[i], c[i]); a, b and c broadcast to out's shape.
template <class F>
void map3(const View& out, const View& a, const View& b, const View& c, F f) {
  const Shape& shape = out.shape();
  dispatch_compute(out.dtype(), "map3", [&](auto tag) {
    using S = typename decltype(tag)::type;
    launch_strided<4>(out.device(), shape,
                      {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                       broadcast_strides(b.shape(), b.strides(), shape), broadcast_strides(c.shape(), c.strides(), shape)},
                      Map3Body<S, F>{data_as<S>(out), data_as<const S>(a), data_as<const S>(b), data_as<const S>(c), f},
                      "map3");
  });
}

}  // namespace jepa::gpu::kernels
