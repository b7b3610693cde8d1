// LayerNorm over the last D elements of each row, forward and backward, with the CPU kernels'
// formulas (backends/jepa/backends/cpu/layernorm.hpp):
//   forward: mean and rstd = 1 / sqrt(var + eps) per row (two passes, double), y = (x - mean) * rstd * w + b
//   backward: xhat = (x - mean) * rstd, dxhat = dy * w
//     dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (written, =)
//     dw = sum_rows(dy * xhat), db = sum_rows(dy)                      (written, =)
// Weight, bias, dx, dw and db are optional (undefined tensors). All tensors dense; mean and rstd
// are (rows) in x's dtype.
// Invariants: row statistics and the column sums for dw/db accumulate in double; dw/db are
// reduced over row chunks into (chunks, D) partials, then summed by reduce_ori's kernels, so no
// atomics and deterministic results.
#pragma once
#include <jepa/backends/gpu/reduce.cuh>

namespace jepa::gpu::kernels {

namespace layernorm_detail {

template <int Group, class S>
__global__ void forward_kernel(const S* x, const S* weight, const S* bias, S* y, S* mean, S* rstd, int64_t rows,
                               int64_t D, double eps) {
  using C = compute_t<S>;
  const int lane = threadIdx.x % Group;
  for (int64_t row = first_row<Group>(); row < rows; row += row_step<Group>()) {
    const S* xr = x + row * D;
    double s = 0;
    for (int64_t i = lane; i < D; i += Group) s += convert_value<double>(xr[i]);
    const double m = row_reduce<Group, SumCombine>(s) / D;
    double v = 0;
    for (int64_t i = lane; i < D; i += Group) {
      const double d = convert_value<double>(xr[i]) - m;
      v += d * d;
    }
    const C rs = static_cast<C>(1.0 / sqrt(row_reduce<Group, SumCombine>(v) / D + eps));
    const C mt = static_cast<C>(m);
    S* yr = y + row * D;
    for (int64_t i = lane; i < D; i += Group) {
      C out = (convert_value<C>(xr[i]) - mt) * rs;
      if (weight) out = out * convert_value<C>(weight[i]);
      if (bias) out = out + convert_value<C>(bias[i]);
      yr[i] = convert_value<S>(out);
    }
    if (lane == 0) {
      mean[row] = convert_value<S>(mt);
      rstd[row] = convert_value<S>(rs);
    }
  }
}

template <int Group, class S>
__global__ void input_grad_kernel(const S* dy, const S* x, const S* weight, const S* mean, const S* rstd, S* dx,
                                  int64_t rows, int64_t D) {
  using C = compute_t<S>;
  const int lane = threadIdx.x % Group;
  for (int64_t row = first_row<Group>(); row < rows; row += row_step<Group>()) {
    const S* xr = x + row * D;
    const S* g = dy + row * D;
    const C m = convert_value<C>(mean[row]), rs = convert_value<C>(rstd[row]);
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
    for (int64_t i = lane; i < D; i += Group) {
      const C xhat = (convert_value<C>(xr[i]) - m) * rs;
      const C dxhat = weight ? convert_value<C>(g[i]) * convert_value<C>(weight[i]) : convert_value<C>(g[i]);
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * xhat;
    }
    const C mean_dxhat = static_cast<C>(row_reduce<Group, SumCombine>(sum_dxhat) / D);
    const C mean_dxhat_xhat = static_cast<C>(row_reduce<Group, SumCombine>(sum_dxhat_xhat) / D);
    S* out = dx + row * D;
    for (int64_t i = lane; i < D; i += Group) {
      const C xhat = (convert_value<C>(xr[i]) - m) * rs;
      const C dxhat = weight ? convert_value<C>(g[i]) * convert_value<C>(weight[i]) : convert_value<C>(g[i]);
      out[i] = convert_value<S>(rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
    }
  }
}

// Partial column sums over chunk s of the rows: dw_part[s, i] = sum dy * xhat, db_part[s, i] = sum dy.
// Blocks of kColumns x kRowSplit threads, one per (chunk, 32 columns).
template <class S>
__global__ void param_grad_kernel(const S* dy, const S* x, const S* mean, const S* rstd, double* dw_part,
                                  double* db_part, int64_t rows, int64_t D, int64_t chunks, int64_t chunk) {
  using C = compute_t<S>;
  __shared__ double partial[2][kRowSplit][kColumns + 1];
  const int tx = threadIdx.x % kColumns, ty = threadIdx.x / kColumns;
  const int64_t column_tiles = (D + kColumns - 1) / kColumns;
  for (int64_t task = blockIdx.x; task < chunks * column_tiles; task += gridDim.x) {
    const int64_t s = task / column_tiles, i = (task % column_tiles) * kColumns + tx;
    double dw = 0, db = 0;
    if (i < D)
      for (int64_t r = s * chunk + ty; r < min(rows, (s + 1) * chunk); r += kRowSplit) {
        const C g = convert_value<C>(dy[r * D + i]);
        dw += g * (convert_value<C>(x[r * D + i]) - convert_value<C>(mean[r])) * convert_value<C>(rstd[r]);
        db += g;
      }
    partial[0][ty][tx] = dw;
    partial[1][ty][tx] = db;
    __syncthreads();
    if (ty == 0 && i < D) {
      for (int k = 1; k < kRowSplit; ++k) {
        dw += partial[0][k][tx];
        db += partial[1][k][tx];
      }
      dw_part[s * D + i] = dw;
      db_part[s * D + i] = db;
    }
    __syncthreads();
  }
}

}  // namespace layernorm_detail

inline void layernorm_forward(const View& x, const View& weight, const View& bias, const View& y,
                              const View& mean, const View& rstd, int64_t rows, int64_t D, double eps) {
  if (rows == 0 || D == 0) return;
  const DeviceContext& ctx = activate(x.device().index);
  dispatch_compute(x.dtype(), "layer_norm", [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* w = weight.defined() ? data_as<const S>(weight) : nullptr;
    const S* b = bias.defined() ? data_as<const S>(bias) : nullptr;
    launch_per_row(ctx, rows, D, [&](auto group, unsigned grid) {
      launch<layernorm_detail::forward_kernel<decltype(group)::value, S>>(grid, kBlockThreads, 0, ctx.stream,
          data_as<const S>(x), w, b, data_as<S>(y), data_as<S>(mean), data_as<S>(rstd), rows, D, eps);
    });
  });
  JEPA_GPU_CHECK_LAUNCH("layernorm_forward");
}

// Chunks of rows whose parameter gradients sum into one f64 partial each.
inline int64_t layernorm_param_chunks(int index, int64_t rows, int64_t D) {
  const int64_t column_tiles = (D + kColumns - 1) / kColumns;
  return std::clamp<int64_t>(4 * int64_t{activate(index).multiprocessors} / column_tiles, 1,
                             std::max<int64_t>(1, rows / 64));
}

// partials (2, layernorm_param_chunks, D) f64 when dweight or dbias is defined.
inline void layernorm_backward(const View& dy, const View& x, const View& weight, const View& mean,
                               const View& rstd, const View& dx, const View& dweight, const View& dbias,
                               int64_t rows, int64_t D, const View& partials) {
  if (D == 0) return;
  const DeviceContext& ctx = activate(x.device().index);
  dispatch_compute(x.dtype(), "layer_norm", [&](auto tag) {
    using S = typename decltype(tag)::type;
    if (dx.defined() && rows > 0) {
      const S* w = weight.defined() ? data_as<const S>(weight) : nullptr;
      launch_per_row(ctx, rows, D, [&](auto group, unsigned grid) {
        launch<layernorm_detail::input_grad_kernel<decltype(group)::value, S>>(grid, kBlockThreads, 0, ctx.stream,
            data_as<const S>(dy), data_as<const S>(x), w, data_as<const S>(mean), data_as<const S>(rstd),
            data_as<S>(dx), rows, D);
      });
      JEPA_GPU_CHECK_LAUNCH("layernorm_backward_input");
    }
    if (!dweight.defined() && !dbias.defined()) return;
    const int64_t column_tiles = (D + kColumns - 1) / kColumns;
    const int64_t chunks = layernorm_param_chunks(x.device().index, rows, D);
    const int64_t chunk = std::max<int64_t>(1, (rows + chunks - 1) / chunks);
    JEPA_CHECK(partials.numel() == 2 * chunks * D, "layer_norm", "the caller's workspace does not fit ", chunks,
               " chunks of ", D);
    double* dw_part = data_as<double>(partials);  // (2, chunks, D): dw then db partials
    double* db_part = dw_part + chunks * D;
    launch<layernorm_detail::param_grad_kernel<S>>(grid_for(ctx, chunks * column_tiles, 1), kColumns * kRowSplit, 0,
                                                   ctx.stream, data_as<const S>(dy), data_as<const S>(x),
                                                   data_as<const S>(mean), data_as<const S>(rstd), dw_part, db_part,
                                                   rows, D, chunks, chunk);
    JEPA_GPU_CHECK_LAUNCH("layernorm_backward_params");
    if (dweight.defined()) launch_reduce<SumCombine>(ctx, static_cast<const double*>(dw_part), data_as<S>(dweight), 1, chunks, D, 1, 1.0);
    if (dbias.defined()) launch_reduce<SumCombine>(ctx, static_cast<const double*>(db_part), data_as<S>(dbias), 1, chunks, D, 1, 1.0);
  });
}

}  // namespace jepa::gpu::kernels
