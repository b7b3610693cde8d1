// Reductions: warp and block primitives (templated on the group width, never a literal warp
// size) and reduce_ori, the sum/max over the middle axis of a dense (outer, reduced, inner) tensor.
// Invariants:
// - Group widths chosen on the host are kMinWarpSize or whole blocks (vendor.hpp: the host does
//   not know the warp width of the target that runs the kernel); kWarpSize appears only inside
//   device code (block_reduce), where it is the compiled target's.
// - Accumulation is in double for every dtype, as on the CPU, so f32 sums over long axes (bias
//   gradients over batch x tokens) match the CPU to rounding of the result.
// - max propagates NaN (a NaN anywhere in a group gives NaN), as the CPU kernel does.
// - When (outer x inner) alone cannot fill the device, the reduced axis is split into chunks whose
//   partial results (S, O, I) are reduced by a second pass of the same kernels.
#pragma once
#include <limits>
#include <type_traits>

#include <jepa/backends/cpu/reduce.hpp>
#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu::kernels {

// ---- primitives --------------------------------------------------------------------------------

struct SumCombine {
  template <class T> __device__ static T identity() { return T(0); }
  template <class T> __device__ static T combine(T a, T b) { return a + b; }
};

struct MaxCombine {
  template <class T> __device__ static T identity() { return -std::numeric_limits<T>::infinity(); }
  template <class T> __device__ static T combine(T a, T b) { return (a != a || a > b) ? a : b; }  // NaN wins
};

// Reduces v over aligned groups of Width lanes; every lane of a group gets the result.
template <int Width, class Op, class T>
__device__ inline T group_reduce(T v) {
  static_assert(Width >= 1 && Width <= kWarpSize && (Width & (Width - 1)) == 0, "Width: a power of two <= warp");
  for (int mask = Width / 2; mask > 0; mask /= 2) v = Op::combine(v, shfl_xor(v, mask, Width));
  return v;
}

// Reduces v over a block of Threads threads; every thread gets the result. All threads of the
// block must call it (it synchronises).
template <int Threads, class Op, class T>
__device__ inline T block_reduce(T v) {
  static_assert(Threads % kWarpSize == 0 && Threads / kWarpSize <= kWarpSize, "Threads: whole warps, at most warp^2");
  v = group_reduce<kWarpSize, Op>(v);
  if constexpr (Threads == kWarpSize) {
    return v;
  } else {
    constexpr int kWarps = Threads / kWarpSize;
    __shared__ T partial[kWarps];
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < kWarps ? partial[lane] : Op::template identity<T>();
    v = group_reduce<kWarpSize, Op>(v);
    __syncthreads();  // partial may be written again by the caller's next call
    return v;
  }
}

// Reduces v over the Group threads that share a row (a warp's aligned lanes, or a whole block).
template <int Group, class Op, class T>
__device__ inline T row_reduce(T v) {
  if constexpr (Group <= kWarpSize) return group_reduce<Group, Op>(v);
  else return block_reduce<Group, Op>(v);
}

// Row-wise kernels run Group threads per row, rows handed out grid-stride: kMinWarpSize lanes per
// short row (a warp, or half a 64-lane wavefront: the same kernel on every target), a whole block
// per long one. launch(group, grid) receives std::integral_constant<int, Group> and the grid size
// for blocks of kBlockThreads.
template <class Launch>
void launch_per_row(const DeviceContext& ctx, int64_t rows, int64_t row_length, Launch&& launch) {
  if (row_length >= 2048) launch(std::integral_constant<int, kBlockThreads>{}, grid_for(ctx, rows, 1));
  else launch(std::integral_constant<int, kMinWarpSize>{}, grid_for(ctx, rows, kBlockThreads / kMinWarpSize));
}

// The rows this thread's group handles: for (row = first_row<G>(); row < rows; row += row_step<G>()).
template <int Group>
__device__ inline int64_t first_row() {
  return int64_t{blockIdx.x} * (blockDim.x / Group) + threadIdx.x / Group;
}
template <int Group>
__device__ inline int64_t row_step() {
  return int64_t{gridDim.x} * (blockDim.x / Group);
}

// ---- reduce_ori --------------------------------------------------------------------------------

// Both kernels compute, for each task (s, o[, i]), the reduction of x over r in chunk s of R and
// write out[(s * O + o) * I + i] = result * scale (scale is 1 for partial results and for max).

// I == 1: Group threads per row (launch_per_row).
template <int Group, class Op, class In, class Out>
__global__ void reduce_rows_kernel(const In* x, Out* out, int64_t O, int64_t R, int64_t splits, int64_t chunk,
                                   double scale) {
  const int lane = threadIdx.x % Group;
  for (int64_t task = first_row<Group>(); task < O * splits; task += row_step<Group>()) {
    const int64_t s = task / O, o = task % O;
    const int64_t r1 = min(R, (s + 1) * chunk);
    const In* row = x + o * R;
    double acc = Op::template identity<double>();
    for (int64_t r = s * chunk + lane; r < r1; r += Group) acc = Op::combine(acc, convert_value<double>(row[r]));
    acc = row_reduce<Group, Op>(acc);
    if (lane == 0) out[task] = convert_value<Out>(acc * scale);
  }
}

// I > 1: a block of kColumns x kRowSplit threads per (s, o, 32 columns); column reads coalesce.
inline constexpr int kColumns = 32, kRowSplit = 8;

template <class Op, class In, class Out>
__global__ void reduce_columns_kernel(const In* x, Out* out, int64_t O, int64_t R, int64_t I, int64_t splits,
                                      int64_t chunk, double scale) {
  __shared__ double partial[kRowSplit][kColumns + 1];
  const int tx = threadIdx.x % kColumns, ty = threadIdx.x / kColumns;
  const int64_t column_tiles = (I + kColumns - 1) / kColumns;
  const int64_t tasks = splits * O * column_tiles;
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {
    const int64_t tile = task % column_tiles, so = task / column_tiles;  // so = s * O + o
    const int64_t s = so / O, o = so % O;
    const int64_t i = tile * kColumns + tx;
    const int64_t r1 = min(R, (s + 1) * chunk);
    double acc = Op::template identity<double>();
    if (i < I)
      for (int64_t r = s * chunk + ty; r < r1; r += kRowSplit) acc = Op::combine(acc, convert_value<double>(x[(o * R + r) * I + i]));
    partial[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && i < I) {
      for (int k = 1; k < kRowSplit; ++k) acc = Op::combine(acc, partial[k][tx]);
      out[so * I + i] = convert_value<Out>(acc * scale);
    }
    __syncthreads();
  }
}

template <class Op, class In, class Out>
void launch_reduce(const DeviceContext& ctx, const In* x, Out* out, int64_t O, int64_t R, int64_t I, int64_t splits,
                   double scale) {
  const int64_t chunk = (R + splits - 1) / splits;
  if (I == 1) {
    launch_per_row(ctx, O * splits, chunk, [&](auto group, unsigned grid) {
      launch<reduce_rows_kernel<decltype(group)::value, Op, In, Out>>(grid, kBlockThreads, 0, ctx.stream, x, out, O, R,
                                                                      splits, chunk, scale);
    });
  } else {
    const int64_t tasks = splits * O * ((I + kColumns - 1) / kColumns);
    launch<reduce_columns_kernel<Op, In, Out>>(grid_for(ctx, tasks, 1), kColumns * kRowSplit, 0, ctx.stream, x, out, O,
                                               R, I, splits, chunk, scale);
  }
  JEPA_GPU_CHECK_LAUNCH("reduce_ori");
}

// How many blocks share each reduced row: enough tasks to fill the device a few times over.
inline int64_t reduce_splits(int index, int64_t O, int64_t R, int64_t I) {
  if (O == 0 || I == 0) return 1;
  const DeviceContext& ctx = activate(index);
  const int64_t tasks = I == 1 ? O : O * ((I + kColumns - 1) / kColumns);
  const int64_t wanted = 4 * int64_t{ctx.multiprocessors};
  return tasks >= wanted ? 1 : std::clamp<int64_t>(wanted / tasks, 1, (R + 1023) / 1024);
}

// out[o, i] = reduce over r of x[o, r, i]; x dense (O, R, I) with R >= 1, out dense (O, I);
// partial (reduce_splits, O, I) f64 when there is more than one split.
inline void reduce_ori(const View& x, const View& out, int64_t O, int64_t R, int64_t I, cpu::ReduceKind kind,
                       double scale, const View& partial) {
  if (O == 0 || I == 0) return;
  const DeviceContext& ctx = activate(x.device().index);
  const int64_t splits = reduce_splits(x.device().index, O, R, I);
  JEPA_CHECK(splits == 1 || (partial.defined() && partial.numel() == splits * O * I), "reduce",
             "the caller's workspace does not fit ", splits, " splits");
  dispatch_compute(x.dtype(), "reduce", [&](auto tag) {
    using S = typename decltype(tag)::type;
    auto run = [&](auto op) {
      using Op = decltype(op);
      if (splits == 1) {
        launch_reduce<Op>(ctx, data_as<const S>(x), data_as<S>(out), O, R, I, 1, scale);
        return;
      }
      launch_reduce<Op>(ctx, data_as<const S>(x), data_as<double>(partial), O, R, I, splits, 1.0);
      launch_reduce<Op>(ctx, data_as<const double>(partial), data_as<S>(out), 1, splits, O * I, 1, scale);
    };
    if (kind == cpu::ReduceKind::sum) run(SumCombine{});
    else run(MaxCombine{});
  });
}

}  // namespace jepa::gpu::kernels
