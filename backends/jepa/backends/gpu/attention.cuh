// Fused scaled dot-product attention, forward and backward (the FlashAttention-2 schedule:
// online softmax over key tiles held in shared memory; no N x M matrix in device memory).
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html
//
// Shapes: q (B, H, N, D), k and v (B, H, M, D), out (B, H, N, D); D in {32, 64, 128}. Inputs may
// be any views whose last dim is dense (a head split of a fused qkv projection needs no copy);
// outputs and gradients are dense. Storage f32 or bf16; every product, sum and exponential is
// in f32.
// Invariants:
// - forward writes out and lse[b, h, i] = log(sum_j exp(s_ij)), s = scale * q k^T; backward
//   recomputes P = exp(s - lse) tile by tile from it.
// - backward: delta_i = sum_d dout_id * out_id; dS = P * (dout v^T - delta);
//   dq = scale * dS k, dk = scale * dS^T q, dv = P^T dout. dk and dv are accumulated in one
//   kernel per key tile, dq in another per query tile: every gradient is written (=) once,
//   without atomics, so results are deterministic.
// - Thread layout of every kernel: 16 lanes per group of 4 tile rows; lane tx owns tile columns
//   tx, tx + 16, ... Row statistics are reduced over those 16 lanes (group_reduce<16>), which
//   works for any warp size that is a multiple of 16.
#pragma once
#include <cassert>
#include <cmath>
#include <type_traits>

#include <jepa/backends/gpu/reduce.cuh>

namespace jepa::gpu::kernels {

namespace attention {

inline constexpr int kLanes = 16;      // lanes sharing a group of rows
inline constexpr int kRowsPerLane = 4;  // rows each group owns

struct Strides {  // in elements; the head dim is dense
  int64_t b, h, n;
};

struct Problem {
  int64_t B, H, N, M;  // batch, heads, queries, keys
  float scale;
};

// Element (row, 0) of head (b, h).
template <class S>
__device__ inline const S* head_row(const S* base, const Strides& st, int64_t b, int64_t h, int64_t row) {
  return base + b * st.b + h * st.h + row * st.n;
}

// Copies rows [row0, row0 + Rows) of a head into a (Rows, D + 1) f32 tile; rows past `valid`
// become zeros.
template <int Rows, int D, int Threads, class S>
__device__ inline void load_tile(float* tile, const S* head, int64_t row_stride, int64_t row0, int64_t valid) {
  for (int idx = threadIdx.x; idx < Rows * D; idx += Threads) {
    const int r = idx / D, d = idx % D;
    tile[r * (D + 1) + d] = row0 + r < valid ? convert_value<float>(head[(row0 + r) * row_stride + d]) : 0.0f;
  }
}

// acc[a][c] += X[a] . Y[c]: X points at this group's first row of a (*, D + 1) tile, Y at this
// lane's first row of another; Y rows are kLanes apart.
template <int A, int C, int D>
__device__ inline void dot_rows(float (&acc)[A][C], const float* X, const float* Y) {
#pragma unroll 4
  for (int d = 0; d < D; ++d) {
    float y[C];
#pragma unroll
    for (int c = 0; c < C; ++c) y[c] = Y[c * kLanes * (D + 1) + d];
#pragma unroll
    for (int a = 0; a < A; ++a) {
      const float x = X[a * (D + 1) + d];
#pragma unroll
      for (int c = 0; c < C; ++c) acc[a][c] += x * y[c];
    }
  }
}

// acc[a][c] += sum_k P[a][k] * Y[k][c]: P points at this group's first row of a (*, Kn + 1)
// tile, Y at this lane's first column of a (Kn, D + 1) tile; columns are kLanes apart.
template <int A, int C, int Kn, int D>
__device__ inline void mul_rows(float (&acc)[A][C], const float* P, const float* Y) {
#pragma unroll 4
  for (int k = 0; k < Kn; ++k) {
    float y[C];
#pragma unroll
    for (int c = 0; c < C; ++c) y[c] = Y[k * (D + 1) + c * kLanes];
#pragma unroll
    for (int a = 0; a < A; ++a) {
      const float p = P[a * (Kn + 1) + k];
#pragma unroll
      for (int c = 0; c < C; ++c) acc[a][c] += p * y[c];
    }
  }
}

template <int A, int C>
__device__ inline void zero(float (&acc)[A][C]) {
#pragma unroll
  for (int a = 0; a < A; ++a)
#pragma unroll
    for (int c = 0; c < C; ++c) acc[a][c] = 0.0f;
}

// Writes this group's rows of a (rows, D) result for head (b, h) of a dense (B, H, rows, D) tensor.
template <int D, class S>
__device__ inline void store_rows(S* out, const float (&acc)[kRowsPerLane][D / kLanes], int64_t bh, int64_t rows,
                                  int64_t row0, float factor) {
  for (int a = 0; a < kRowsPerLane; ++a) {
    if (row0 + a >= rows) break;
    S* dst = out + (bh * rows + row0 + a) * D;
    for (int c = 0; c < D / kLanes; ++c) dst[threadIdx.x % kLanes + c * kLanes] = convert_value<S>(acc[a][c] * factor);
  }
}

// ---- forward -----------------------------------------------------------------------------------

template <int D, int Br, int Bc>
struct ForwardTiles {
  static constexpr int kThreads = Br / kRowsPerLane * kLanes;
  static constexpr size_t kSharedFloats = size_t{Br} * (D + 1) + size_t{Bc} * (D + 1) + size_t{Br} * (Bc + 1);
};

// Grid: (B * H, ceil(N / Br)).
template <class S, int D, int Br, int Bc>
__global__ void __launch_bounds__((ForwardTiles<D, Br, Bc>::kThreads))
    forward_kernel(Problem p, const S* q, Strides qs, const S* k, Strides ks, const S* v, Strides vs, S* out,
                   float* lse) {
  constexpr int kThreads = ForwardTiles<D, Br, Bc>::kThreads, A = kRowsPerLane, C = Bc / kLanes, E = D / kLanes;
  JEPA_DYNAMIC_SHARED(float, shared);
  float* Qt = shared;               // (Br, D + 1)
  float* KVt = Qt + Br * (D + 1);   // (Bc, D + 1): K, then V
  float* Pt = KVt + Bc * (D + 1);   // (Br, Bc + 1)
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, q0 = int64_t{blockIdx.y} * Br;
  const int group = threadIdx.x / kLanes, tx = threadIdx.x % kLanes, r0 = group * A;

  load_tile<Br, D, kThreads>(Qt, head_row(q, qs, b, h, 0), qs.n, q0, p.N);
  float m[A], l[A], acc[A][E];
  for (int a = 0; a < A; ++a) {
    m[a] = -INFINITY;
    l[a] = 0.0f;
  }
  zero(acc);
  for (int64_t k0 = 0; k0 < p.M; k0 += Bc) {
    load_tile<Bc, D, kThreads>(KVt, head_row(k, ks, b, h, 0), ks.n, k0, p.M);
    __syncthreads();
    float s[A][C];
    zero(s);
    dot_rows<A, C, D>(s, Qt + r0 * (D + 1), KVt + tx * (D + 1));
    for (int a = 0; a < A; ++a) {
      float tile_max = -INFINITY;
      for (int c = 0; c < C; ++c) {
        s[a][c] = k0 + tx + c * kLanes < p.M ? s[a][c] * p.scale : -INFINITY;
        tile_max = fmaxf(tile_max, s[a][c]);
      }
      const float m_new = fmaxf(m[a], group_reduce<kLanes, MaxCombine>(tile_max));  // finite: a key is valid
      const float correction = expf(m[a] - m_new);
      float row_sum = 0.0f;
      for (int c = 0; c < C; ++c) {
        const float e = expf(s[a][c] - m_new);
        Pt[(r0 + a) * (Bc + 1) + tx + c * kLanes] = e;
        row_sum += e;
      }
      l[a] = l[a] * correction + group_reduce<kLanes, SumCombine>(row_sum);
      m[a] = m_new;
      for (int e = 0; e < E; ++e) acc[a][e] *= correction;
    }
    __syncthreads();  // K no longer read
    load_tile<Bc, D, kThreads>(KVt, head_row(v, vs, b, h, 0), vs.n, k0, p.M);
    __syncthreads();
    mul_rows<A, E, Bc, D>(acc, Pt + r0 * (Bc + 1), KVt + tx);
    __syncthreads();  // V and P no longer read
  }
  for (int a = 0; a < A; ++a) {
    const int64_t row = q0 + r0 + a;
    if (row >= p.N) break;
    const float inv = 1.0f / l[a];
    S* dst = out + (bh * p.N + row) * D;
    for (int e = 0; e < E; ++e) dst[tx + e * kLanes] = convert_value<S>(acc[a][e] * inv);
    if (tx == 0) lse[bh * p.N + row] = m[a] + logf(l[a]);
  }
}

// ---- backward ----------------------------------------------------------------------------------

// delta[row] = dout[row] . out[row] over dense (rows, D) tensors; kMinWarpSize lanes per row.
template <class S, int D>
__global__ void row_dot_kernel(const S* dout, const S* out, float* delta, int64_t rows) {
  constexpr int kGroup = kMinWarpSize;
  const int lane = threadIdx.x % kGroup;
  for (int64_t row = first_row<kGroup>(); row < rows; row += row_step<kGroup>()) {
    float sum = 0.0f;
    for (int d = lane; d < D; d += kGroup)
      sum += convert_value<float>(dout[row * D + d]) * convert_value<float>(out[row * D + d]);
    sum = group_reduce<kGroup, SumCombine>(sum);
    if (lane == 0) delta[row] = sum;
  }
}

template <int D, int Bc, int Br>
struct KeyTiles {  // dk/dv kernel: Bc key rows owned, Br query rows streamed
  static constexpr int kThreads = Bc / kRowsPerLane * kLanes;
  static constexpr size_t kSharedFloats =
      2 * size_t{Bc} * (D + 1) + 2 * size_t{Br} * (D + 1) + 2 * size_t{Bc} * (Br + 1) + 2 * size_t{Br};
};

// Grid: (B * H, ceil(M / Bc)). dout and the gradients are dense.
template <class S, int D, int Bc, int Br>
__global__ void __launch_bounds__((KeyTiles<D, Bc, Br>::kThreads))
    key_grad_kernel(Problem p, const S* q, Strides qs, const S* k, Strides ks, const S* v, Strides vs, const S* dout,
                    const float* lse, const float* delta, S* dk, S* dv) {
  constexpr int kThreads = KeyTiles<D, Bc, Br>::kThreads, A = kRowsPerLane, C = Br / kLanes, E = D / kLanes;
  JEPA_DYNAMIC_SHARED(float, shared);
  float* Kt = shared;                 // (Bc, D + 1)
  float* Vt = Kt + Bc * (D + 1);      // (Bc, D + 1)
  float* Qt = Vt + Bc * (D + 1);      // (Br, D + 1)
  float* dOt = Qt + Br * (D + 1);     // (Br, D + 1)
  float* PTt = dOt + Br * (D + 1);    // (Bc, Br + 1): P^T
  float* dSTt = PTt + Bc * (Br + 1);  // (Bc, Br + 1): dS^T
  float* lse_t = dSTt + Bc * (Br + 1);  // (Br)
  float* delta_t = lse_t + Br;          // (Br)
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, k0 = int64_t{blockIdx.y} * Bc;
  const int group = threadIdx.x / kLanes, tx = threadIdx.x % kLanes, r0 = group * A;
  const Strides dense{p.H * p.N * D, p.N * D, D};

  load_tile<Bc, D, kThreads>(Kt, head_row(k, ks, b, h, 0), ks.n, k0, p.M);
  load_tile<Bc, D, kThreads>(Vt, head_row(v, vs, b, h, 0), vs.n, k0, p.M);
  float dk_acc[A][E], dv_acc[A][E];
  zero(dk_acc);
  zero(dv_acc);
  for (int64_t q0 = 0; q0 < p.N; q0 += Br) {
    load_tile<Br, D, kThreads>(Qt, head_row(q, qs, b, h, 0), qs.n, q0, p.N);
    load_tile<Br, D, kThreads>(dOt, head_row(dout, dense, b, h, 0), dense.n, q0, p.N);
    for (int i = threadIdx.x; i < Br; i += kThreads) {
      const bool valid = q0 + i < p.N;
      lse_t[i] = valid ? lse[bh * p.N + q0 + i] : INFINITY;  // P = 0 for rows past N
      delta_t[i] = valid ? delta[bh * p.N + q0 + i] : 0.0f;
    }
    __syncthreads();
    float s[A][C], dp[A][C];
    zero(s);
    zero(dp);
    dot_rows<A, C, D>(s, Kt + r0 * (D + 1), Qt + tx * (D + 1));
    dot_rows<A, C, D>(dp, Vt + r0 * (D + 1), dOt + tx * (D + 1));
    for (int a = 0; a < A; ++a)
      for (int c = 0; c < C; ++c) {
        const int i = tx + c * kLanes;
        const float prob = expf(s[a][c] * p.scale - lse_t[i]);
        PTt[(r0 + a) * (Br + 1) + i] = prob;
        dSTt[(r0 + a) * (Br + 1) + i] = prob * (dp[a][c] - delta_t[i]);
      }
    __syncthreads();
    mul_rows<A, E, Br, D>(dv_acc, PTt + r0 * (Br + 1), dOt + tx);
    mul_rows<A, E, Br, D>(dk_acc, dSTt + r0 * (Br + 1), Qt + tx);
    __syncthreads();
  }
  store_rows<D>(dk, dk_acc, bh, p.M, k0 + r0, p.scale);
  store_rows<D>(dv, dv_acc, bh, p.M, k0 + r0, 1.0f);
}

template <int D, int Br, int Bc>
struct QueryTiles {  // dq kernel: Br query rows owned, Bc key rows streamed
  static constexpr int kThreads = Br / kRowsPerLane * kLanes;
  static constexpr size_t kSharedFloats = 2 * size_t{Br} * (D + 1) + 2 * size_t{Bc} * (D + 1) + size_t{Br} * (Bc + 1);
};

// Grid: (B * H, ceil(N / Br)).
template <class S, int D, int Br, int Bc>
__global__ void __launch_bounds__((QueryTiles<D, Br, Bc>::kThreads))
    query_grad_kernel(Problem p, const S* q, Strides qs, const S* k, Strides ks, const S* v, Strides vs,
                      const S* dout, const float* lse, const float* delta, S* dq) {
  constexpr int kThreads = QueryTiles<D, Br, Bc>::kThreads, A = kRowsPerLane, C = Bc / kLanes, E = D / kLanes;
  JEPA_DYNAMIC_SHARED(float, shared);
  float* Qt = shared;               // (Br, D + 1)
  float* dOt = Qt + Br * (D + 1);   // (Br, D + 1)
  float* Kt = dOt + Br * (D + 1);   // (Bc, D + 1)
  float* Vt = Kt + Bc * (D + 1);    // (Bc, D + 1)
  float* dSt = Vt + Bc * (D + 1);   // (Br, Bc + 1)
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H, q0 = int64_t{blockIdx.y} * Br;
  const int group = threadIdx.x / kLanes, tx = threadIdx.x % kLanes, r0 = group * A;
  const Strides dense{p.H * p.N * D, p.N * D, D};

  load_tile<Br, D, kThreads>(Qt, head_row(q, qs, b, h, 0), qs.n, q0, p.N);
  load_tile<Br, D, kThreads>(dOt, head_row(dout, dense, b, h, 0), dense.n, q0, p.N);
  float row_lse[A], row_delta[A];
  for (int a = 0; a < A; ++a) {
    const bool valid = q0 + r0 + a < p.N;
    row_lse[a] = valid ? lse[bh * p.N + q0 + r0 + a] : INFINITY;
    row_delta[a] = valid ? delta[bh * p.N + q0 + r0 + a] : 0.0f;
  }
  float dq_acc[A][E];
  zero(dq_acc);
  for (int64_t k0 = 0; k0 < p.M; k0 += Bc) {
    load_tile<Bc, D, kThreads>(Kt, head_row(k, ks, b, h, 0), ks.n, k0, p.M);
    load_tile<Bc, D, kThreads>(Vt, head_row(v, vs, b, h, 0), vs.n, k0, p.M);
    __syncthreads();
    float s[A][C], dp[A][C];
    zero(s);
    zero(dp);
    dot_rows<A, C, D>(s, Qt + r0 * (D + 1), Kt + tx * (D + 1));
    dot_rows<A, C, D>(dp, dOt + r0 * (D + 1), Vt + tx * (D + 1));
    for (int a = 0; a < A; ++a)
      for (int c = 0; c < C; ++c) {
        const int j = tx + c * kLanes;
        const float prob = k0 + j < p.M ? expf(s[a][c] * p.scale - row_lse[a]) : 0.0f;
        dSt[(r0 + a) * (Bc + 1) + j] = prob * (dp[a][c] - row_delta[a]);
      }
    __syncthreads();
    mul_rows<A, E, Bc, D>(dq_acc, dSt + r0 * (Bc + 1), Kt + tx);
    __syncthreads();
  }
  store_rows<D>(dq, dq_acc, bh, p.N, q0 + r0, p.scale);
}

// ---- launchers ---------------------------------------------------------------------------------

// Launches kernel with `shared_floats` of dynamic shared memory, opting in above the device's
// default limit (48 KiB on NVIDIA GPUs; AMD ones allow their whole 64 KiB by default).
template <auto Kernel, class... Args>
void launch_tiled(const DeviceContext& ctx, dim3 grid, int threads, size_t shared_floats, const char* name,
                  Args... args) {
  const size_t bytes = shared_floats * sizeof(float);
  JEPA_CHECK(bytes <= ctx.shared_memory_per_block_optin, name, "needs ", bytes, " bytes of shared memory per block; ",
             kBackendName, ":", ctx.index, " has ", ctx.shared_memory_per_block_optin);
  if (bytes > ctx.shared_memory_per_block)
    JEPA_GPU_CHECK(gpuFuncSetAttribute(reinterpret_cast<const void*>(Kernel), gpuFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)));
  launch<Kernel>(grid, threads, bytes, ctx.stream, args...);
  JEPA_GPU_CHECK_LAUNCH(name);
}

// Tile sizes per head dim, chosen so that every kernel's shared memory stays within 64 KiB.
template <int D> struct Config;
template <> struct Config<32> {
  static constexpr int kFwdBr = 64, kFwdBc = 64, kKeyBc = 64, kKeyBr = 32, kQueryBr = 64, kQueryBc = 32;
};
template <> struct Config<64> {
  static constexpr int kFwdBr = 64, kFwdBc = 32, kKeyBc = 32, kKeyBr = 32, kQueryBr = 32, kQueryBc = 32;
};
template <> struct Config<128> {
  static constexpr int kFwdBr = 32, kFwdBc = 32, kKeyBc = 32, kKeyBr = 16, kQueryBr = 32, kQueryBc = 16;
};

// 64 KiB: what AMD GPUs offer per block; NVIDIA ones from sm_80 allow more after opting in.
template <int D, class C = Config<D>>
inline constexpr bool kFitsSharedMemory =
    ForwardTiles<D, C::kFwdBr, C::kFwdBc>::kSharedFloats * 4 <= 65536 &&
    KeyTiles<D, C::kKeyBc, C::kKeyBr>::kSharedFloats * 4 <= 65536 &&
    QueryTiles<D, C::kQueryBr, C::kQueryBc>::kSharedFloats * 4 <= 65536;
static_assert(kFitsSharedMemory<32> && kFitsSharedMemory<64> && kFitsSharedMemory<128>);

inline unsigned tiles(int64_t n, int tile) { return static_cast<unsigned>(std::max<int64_t>(1, (n + tile - 1) / tile)); }

template <class S, int D>
void forward(const DeviceContext& ctx, const Problem& p, const S* q, Strides qs, const S* k, Strides ks, const S* v,
             Strides vs, S* out, float* lse) {
  using Cf = Config<D>;
  using T = ForwardTiles<D, Cf::kFwdBr, Cf::kFwdBc>;
  launch_tiled<forward_kernel<S, D, Cf::kFwdBr, Cf::kFwdBc>>(ctx, dim3(p.B * p.H, tiles(p.N, Cf::kFwdBr)),
               T::kThreads, T::kSharedFloats, "attention_forward", p, q, qs, k, ks, v, vs, out, lse);
}

template <class S, int D>
void backward(const DeviceContext& ctx, const Problem& p, const S* q, Strides qs, const S* k, Strides ks, const S* v,
              Strides vs, const S* out, const S* dout, const float* lse, float* delta, S* dq, S* dk, S* dv) {
  using Cf = Config<D>;
  const int64_t rows = p.B * p.H * p.N;
  launch<row_dot_kernel<S, D>>(grid_for(ctx, rows, kBlockThreads / kMinWarpSize), kBlockThreads, 0, ctx.stream, dout,
                               out, delta, rows);
  JEPA_GPU_CHECK_LAUNCH("attention_row_dot");
  using K = KeyTiles<D, Cf::kKeyBc, Cf::kKeyBr>;
  launch_tiled<key_grad_kernel<S, D, Cf::kKeyBc, Cf::kKeyBr>>(ctx, dim3(p.B * p.H, tiles(p.M, Cf::kKeyBc)),
               K::kThreads, K::kSharedFloats, "attention_backward_dk_dv", p, q, qs, k, ks, v, vs, dout, lse,
               static_cast<const float*>(delta), dk, dv);
  using Q = QueryTiles<D, Cf::kQueryBr, Cf::kQueryBc>;
  launch_tiled<query_grad_kernel<S, D, Cf::kQueryBr, Cf::kQueryBc>>(ctx, dim3(p.B * p.H, tiles(p.N, Cf::kQueryBr)),
               Q::kThreads, Q::kSharedFloats, "attention_backward_dq", p, q, qs, k, ks, v, vs, dout, lse,
               static_cast<const float*>(delta), dq);
}

// Calls f(std::integral_constant<int, D>) for a supported head dim.
template <class F>
void dispatch_head_dim(int64_t D, F&& f) {
  switch (D) {
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default: fail("scaled_dot_product_attention", "the fused kernel supports head dims 32, 64 and 128, got ", D);
  }
}

inline Strides strides_of(const View& t) { return {t.stride(0), t.stride(1), t.stride(2)}; }

}  // namespace attention

// Whether the fused kernels take these operands: 4-D (B, H, N, D) q and (B, H, M, D) k, v on this
// backend's device, one dtype (f32 or bf16), D in {32, 64, 128}, head dim dense. Other cases
// compose matmul and softmax.
inline bool attention_supported(const View& q, const View& k, const View& v) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) return false;
  const int64_t D = q.size(3);
  bool ok = (D == 32 || D == 64 || D == 128) && k.size(3) == D && v.size(3) == D;
  ok = ok && q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) && q.size(1) == v.size(1);
  ok = ok && k.size(2) == v.size(2) && k.size(2) > 0;
  ok = ok && q.dtype() == k.dtype() && q.dtype() == v.dtype() && (q.dtype() == DType::f32 || q.dtype() == DType::bf16);
  ok = ok && q.device() == k.device() && q.device() == v.device() && q.device().type == kDeviceType;
  for (const View* t : {&q, &k, &v}) ok = ok && (t->stride(3) == 1 || t->size(3) == 1);
  return ok;
}

// out = softmax(scale * q k^T) v and lse, each row's log-sum-exp of scores (kept for the
// backward). Operands must satisfy attention_supported; out (B, H, N, D) and lse (B, H, N) f32 are
// dense and written.
inline void attention_forward(const View& q, const View& k, const View& v, const View& out, const View& lse,
                              double scale) {
  assert(attention_supported(q, k, v) && out.is_contiguous() && lse.is_contiguous() && lse.dtype() == DType::f32);
  const attention::Problem p{q.size(0), q.size(1), q.size(2), k.size(2), static_cast<float>(scale)};
  if (q.numel() == 0) return;
  const DeviceContext& ctx = activate(q.device().index);
  dispatch_compute(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<S, double>) {
      attention::dispatch_head_dim(q.size(3), [&](auto dim) {
        attention::forward<S, decltype(dim)::value>(ctx, p, data_as<const S>(q), attention::strides_of(q),
                                                    data_as<const S>(k), attention::strides_of(k), data_as<const S>(v),
                                                    attention::strides_of(v), data_as<S>(out), data_as<float>(lse));
      });
    }
  });
}

// dq, dk, dv (dense, shaped like q, k, v; written) from dout (dense) and the forward's out and lse.
inline void attention_backward(const View& dout, const View& q, const View& k, const View& v,
                               const View& out, const View& lse, const View& dq, const View& dk,
                               const View& dv, double scale, const View& delta) {
  assert(attention_supported(q, k, v) && out.is_contiguous() && lse.is_contiguous() && dout.is_contiguous());
  const attention::Problem p{q.size(0), q.size(1), q.size(2), k.size(2), static_cast<float>(scale)};
  if (q.numel() == 0) {
    fill(dk, 0.0);
    fill(dv, 0.0);
    return;
  }
  const DeviceContext& ctx = activate(q.device().index);
  dispatch_compute(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<S, double>) {
      attention::dispatch_head_dim(q.size(3), [&](auto dim) {
        attention::backward<S, decltype(dim)::value>(
            ctx, p, data_as<const S>(q), attention::strides_of(q), data_as<const S>(k), attention::strides_of(k),
            data_as<const S>(v), attention::strides_of(v), data_as<const S>(out), data_as<const S>(dout),
            data_as<const float>(lse), data_as<float>(delta), data_as<S>(dq), data_as<S>(dk), data_as<S>(dv));
      });
    }
  });
}

}  // namespace jepa::gpu::kernels
