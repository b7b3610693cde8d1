// Our own matrix multiply kernel: C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i] over a batch of
// row-major matrices, for GPUs without a vendor BLAS in the build (Debian's ROCm has no hipBLAS)
// and, chosen at run time, anywhere else (gemm.cuh), which is how the CUDA tests check it.
// Schedule: a block of kThreads threads owns a kTile x kTile tile of C and walks K in slices of
// kTileK. Each slice of op(A) (kTile x kTileK) and op(B) (kTileK x kTile) is staged in shared
// memory, k-major and already converted to the accumulation type; each thread then accumulates a
// kMicro x kMicro block of C in registers: rows ty + kSpread * r and columns tx + kSpread * s, so
// that in every step the lanes of a warp read one broadcast A value and kSpread consecutive B
// values (no bank conflicts) and write C in runs of kSpread consecutive columns.
// Invariants:
// - Operands are addressed through (row, column) element strides, so every transposition runs
//   the same kernel; staging reads walk each operand's unit-stride dimension across neighbouring
//   threads.
// - Accumulation is in f64 for f64 and in f32 for f32, bf16 and f16; each result is rounded once
//   to the storage type. beta == 0 never reads C (it may hold garbage, as in BLAS).
// - Warp-size agnostic: no shuffles; only whole-block barriers, reached by every thread because
//   all loop bounds are uniform over the block.
// - Tiles and batch entries beyond the grid's limits are walked grid-stride, so any sizes work.
#pragma once
#include <algorithm>

#include <jepa/backends/gpu/gemm_batch.cuh>

namespace jepa::gpu::kernels {

namespace tiled_gemm_detail {

inline constexpr int kTile = 64;                   // rows and columns of C per block
inline constexpr int kTileK = 16;                  // depth of each staged slice
inline constexpr int kMicro = 4;                   // rows and columns of C per thread
inline constexpr int kSpread = kTile / kMicro;     // threads along each side of the tile
inline constexpr int kThreads = kSpread * kSpread;  // 256
static_assert(kThreads % kTileK == 0 && (kTile * kTileK) % kThreads == 0);

// Element (r, c) of a matrix is at r * row_stride + c * col_stride.
struct Strides2 {
  int64_t row_stride, col_stride;
};

// Where matrix i of A, B and C starts: a0 + i * stride_a (and likewise for B and C), or, when
// table is set, table[i], table[count + i] and table[2 * count + i].
template <class S>
struct BatchPointers {
  const S* a0;
  const S* b0;
  S* c0;
  int64_t stride_a, stride_b, stride_c;
  const void* const* table;
  int64_t count;

  __device__ const S* a(int64_t i) const { return table ? static_cast<const S*>(table[i]) : a0 + i * stride_a; }
  __device__ const S* b(int64_t i) const { return table ? static_cast<const S*>(table[count + i]) : b0 + i * stride_b; }
  __device__ S* c(int64_t i) const { return table ? static_cast<S*>(const_cast<void*>(table[2 * count + i])) : c0 + i * stride_c; }
};

// Stages the kTile x kTileK panel at (long0, k0) of a matrix whose element (l, k) is at
// base[l * long_stride + k * k_stride] into tile[k][l]; elements outside (long_size, K) become 0.
template <class Acc, class S>
__device__ inline void stage_panel(Acc (*tile)[kTile + 1], const S* base, int64_t long_stride, int64_t k_stride,
                                   int64_t long0, int64_t k0, int64_t long_size, int64_t K) {
  const bool k_fastest = k_stride == 1;  // neighbouring threads read neighbouring addresses
  for (int idx = threadIdx.x; idx < kTile * kTileK; idx += kThreads) {
    const int k = k_fastest ? idx % kTileK : idx / kTile;
    const int l = k_fastest ? idx / kTileK : idx % kTile;
    const int64_t gl = long0 + l, gk = k0 + k;
    tile[k][l] = gl < long_size && gk < K ? convert_value<Acc>(base[gl * long_stride + gk * k_stride]) : Acc(0);
  }
}

// op(A) is (M, K) with strides as, op(B) is (K, N) with strides bs; C rows are ldc apart.
template <class S>
__global__ void __launch_bounds__(kThreads)
    gemm_kernel(BatchPointers<S> batch, Strides2 as, Strides2 bs, int64_t ldc, int64_t M, int64_t N, int64_t K,
                compute_t<S> alpha, compute_t<S> beta) {
  using Acc = compute_t<S>;
  // One padding column spreads the staging writes, which may walk k, over the memory banks.
  __shared__ Acc a_tile[kTileK][kTile + 1];  // a_tile[k][m] = op(A)[m0 + m, k0 + k]
  __shared__ Acc b_tile[kTileK][kTile + 1];  // b_tile[k][n] = op(B)[k0 + k, n0 + n]
  const int tx = threadIdx.x % kSpread, ty = threadIdx.x / kSpread;
  const int64_t tiles_m = (M + kTile - 1) / kTile, tiles_n = (N + kTile - 1) / kTile;
  for (int64_t i = blockIdx.z; i < batch.count; i += gridDim.z) {
    const S* a = batch.a(i);
    const S* b = batch.b(i);
    S* c = batch.c(i);
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * kTile, n0 = tn * kTile;
        Acc acc[kMicro][kMicro];
#pragma unroll
        for (int r = 0; r < kMicro; ++r)
#pragma unroll
          for (int s = 0; s < kMicro; ++s) acc[r][s] = Acc(0);
        for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
          stage_panel(a_tile, a, as.row_stride, as.col_stride, m0, k0, M, K);
          stage_panel(b_tile, b, bs.col_stride, bs.row_stride, n0, k0, N, K);
          __syncthreads();
#pragma unroll
          for (int k = 0; k < kTileK; ++k) {
            Acc x[kMicro], y[kMicro];
#pragma unroll
            for (int r = 0; r < kMicro; ++r) x[r] = a_tile[k][ty + r * kSpread];
#pragma unroll
            for (int s = 0; s < kMicro; ++s) y[s] = b_tile[k][tx + s * kSpread];
#pragma unroll
            for (int r = 0; r < kMicro; ++r)
#pragma unroll
              for (int s = 0; s < kMicro; ++s) acc[r][s] += x[r] * y[s];
          }
          __syncthreads();  // the tiles are overwritten by the next slice
        }
        for (int r = 0; r < kMicro; ++r) {
          const int64_t row = m0 + ty + r * kSpread;
          if (row >= M) break;
          for (int s = 0; s < kMicro; ++s) {
            const int64_t col = n0 + tx + s * kSpread;
            if (col >= N) break;
            S* dst = c + row * ldc + col;
            Acc v = alpha * acc[r][s];
            if (beta != Acc(0)) v += beta * convert_value<Acc>(*dst);
            *dst = convert_value<S>(v);
          }
        }
      }
    }
  }
}

// Calls f(TypeTag<S>) for the storage types GEMM takes: f32, f64, bf16 and f16.
template <class F>
void dispatch_gemm_types(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::bf16: return f(TypeTag<gpu_bf16>{});
    case DType::f16: return f(TypeTag<gpu_f16>{});
    default: fail("matmul", "expected f32, f64, bf16 or f16 operands on ", kBackendName, ", got ", t);
  }
}

}  // namespace tiled_gemm_detail

// C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i] on the own kernel; plan gives the transpositions,
// M, N, K and the leading dims (ops/matmul.hpp's GemmPlan; M, N > 0 and a non-empty batch),
// dtype the storage type of all three.
template <class Plan>
void tiled_gemm(const DeviceContext& ctx, const Plan& plan, const GemmBatch& batch, DType dtype, double alpha,
                double beta) {
  using namespace tiled_gemm_detail;
  // op(A)[m, k] = A[m, k] or A[k, m]; op(B)[k, n] = B[k, n] or B[n, k].
  const Strides2 as = plan.trans_a ? Strides2{1, plan.lda} : Strides2{plan.lda, 1};
  const Strides2 bs = plan.trans_b ? Strides2{1, plan.ldb} : Strides2{plan.ldb, 1};
  const int64_t tiles_m = (plan.M + kTile - 1) / kTile, tiles_n = (plan.N + kTile - 1) / kTile;
  constexpr int64_t kMaxGrid = 65535;  // per dimension: the y and z limit, and keeps x * threads below 2^32 (HIP)
  const dim3 grid(static_cast<unsigned>(std::min(tiles_n, kMaxGrid)), static_cast<unsigned>(std::min(tiles_m, kMaxGrid)),
                  static_cast<unsigned>(std::min(batch.count, kMaxGrid)));
  dispatch_gemm_types(dtype, [&](auto tag) {
    using S = typename decltype(tag)::type;
    using Acc = compute_t<S>;
    const BatchPointers<S> pointers{static_cast<const S*>(batch.a), static_cast<const S*>(batch.b), static_cast<S*>(batch.c),
                                    batch.stride_a, batch.stride_b, batch.stride_c, batch.table, batch.count};
    launch<gemm_kernel<S>>(grid, kThreads, 0, ctx.stream, pointers, as, bs, plan.ldc, plan.M, plan.N, plan.K,
                           static_cast<Acc>(alpha), static_cast<Acc>(beta));
  });
  JEPA_GPU_CHECK_LAUNCH("tiled_gemm");
}

}  // namespace jepa::gpu::kernels
