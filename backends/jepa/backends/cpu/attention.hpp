// Fused scaled dot-product attention on the CPU, forward and backward (the flash-attention
// algorithm), vectorized through dispatch_simd (simd.hpp).
// Layout: a batch of problems (batch folds B and heads); problem b reads q (N, dh), k (M, dh) and
// v (M, dv) at element offsets q_offsets[b] etc. from the base pointers, rows *_row_stride apart,
// elements contiguous, so strided views (heads selected out of a packed qkv projection) are read in
// place. out (batch, N, dv), lse (batch, N) and the gradients dq (batch, N, dh), dk (batch, M, dh),
// dv (batch, M, dv) are dense.
// Optional block-causal mask (block_size > 0): query i sees key j iff j / block_size <= i / block_size,
// so each query sees a prefix of the keys, [0, visible_keys(i)). Key blocks no query of a block
// sees are skipped, and so are query blocks that see none of a key block; the scores of hidden keys
// inside a visited block count as probability 0. No N x M mask exists in memory.
// Forward: per block of kQueryBlock queries, loop over blocks of kKeyBlock keys keeping each
// row's running max m and sum l of exp(s - m) (s = scale q.k); when m grows, l and the output
// accumulated so far are rescaled by exp(old m - new m). Only a block of scores exists at a time;
// out = acc / l and lse = m + log l (the only thing saved besides q, k, v, out).
// Backward (written, =), with D_i = sum_d dout_id out_id and P = exp(scale q k^T - lse) recomputed
// block by block:  dv = P^T dout,  dS = P * (dout v^T - D) * scale,  dq = dS k,  dk = dS^T q.
// Work is split over (problem, chunk): forward chunks are query ranges, backward chunks are key
// ranges (each chunk owns its rows of dk and dv; dq is summed over chunks from private buffers).
// Every matrix product is a register-tiled kernel (R rows x C vectors of accumulators) over
// operands whose rows are contiguous; k and v are packed transposed once per problem for the
// products that run along keys. Memory beyond the inputs and outputs is O((N + M) (dh + dv)) per
// thread: linear in the sequence length.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/simd.hpp>

JEPA_SIMD_GENERIC_BEGIN

// nvcc's front end does not know `#pragma GCC unroll`; it hands it on to the host compiler.
#if defined(__NVCC__)
#pragma nv_diagnostic push
#pragma nv_diag_suppress 1675
#endif

namespace jepa::cpu {

struct AttentionShape {
  int64_t batch = 0, N = 0, M = 0, dh = 0, dv = 0;
  std::vector<int64_t> q_offsets, k_offsets, v_offsets;  // (batch) each
  int64_t q_row_stride = 0, k_row_stride = 0, v_row_stride = 0;
  int64_t block_size = 0;  // of the block-causal mask; 0: no mask
};

namespace detail {

inline constexpr int64_t kQueryBlock = 64, kKeyBlock = 64;

// Accumulator tile of a vector type: rows x vectors, within its register file.
template <class V> inline constexpr int kTileRows = V::registers >= 32 ? 6 : 4;
template <class V> inline constexpr int kTileVectors = V::registers >= 32 ? 4 : 2;

inline int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Query i sees keys [0, visible_keys(s, i)).
inline int64_t visible_keys(const AttentionShape& s, int64_t i) {
  return s.block_size == 0 ? s.M : std::min(s.M, (i / s.block_size + 1) * s.block_size);
}

// The first query that sees key j.
inline int64_t first_query_seeing(const AttentionShape& s, int64_t j) {
  return s.block_size == 0 ? 0 : j / s.block_size * s.block_size;
}

// How many of the `cols` keys from j0 on query i sees.
inline int64_t visible_in_block(const AttentionShape& s, int64_t i, int64_t j0, int64_t cols) {
  return std::clamp<int64_t>(visible_keys(s, i) - j0, 0, cols);
}

// c[r, 0:cols] (+)= sum_k A(r, k) b[k, 0:cols] for r < rows <= R, cols <= C * W, where
// A(r, k) = a[r * a_rs + k * a_ks] and b's rows are ldb apart. Rows past `rows` recompute the last
// valid row instead of reading out of bounds, and are not stored.
template <class V, int R, int C, class T>
void product_tile(int64_t depth, const T* a, int64_t a_rs, int64_t a_ks, int64_t rows, const T* b, int64_t ldb,
                  int64_t cols, T* c, int64_t ldc, bool accumulate) {
  constexpr int64_t W = V::width;
  // The loops over r and j must unroll completely for acc to live in registers.
  int64_t count[C];
#pragma GCC unroll 8
  for (int j = 0; j < C; ++j) count[j] = std::clamp<int64_t>(cols - j * W, 0, W);
  const T* a_row[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) a_row[r] = a + std::min<int64_t>(r, rows - 1) * a_rs;
  V acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j)
      acc[r][j] = accumulate && r < rows ? V::load(c + r * ldc + j * W, count[j]) : V::zero();
  for (int64_t k = 0; k < depth; ++k) {
    V bk[C];
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      const T* bj = b + k * ldb + j * W;
      bk[j] = count[j] == W ? V::load(bj) : V::load(bj, count[j]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V ar = V::set1(a_row[r][k * a_ks]);
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) acc[r][j] = fma(ar, bk[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j)
      if (r < rows) acc[r][j].store(c + r * ldc + j * W, count[j]);
}

// The whole product c (rows x cols) (+)= A (rows x depth) b (depth x cols), in tiles.
template <class V, class T>
void product(int64_t rows, int64_t cols, int64_t depth, const T* a, int64_t a_rs, int64_t a_ks, const T* b,
             int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  constexpr int R = kTileRows<V>, C = kTileVectors<V>;
  constexpr int64_t W = V::width;
  for (int64_t j0 = 0; j0 < cols; j0 += C * W) {
    const int64_t n = std::min(C * W, cols - j0);
    for (int64_t i0 = 0; i0 < rows; i0 += R) {
      const int64_t m = std::min<int64_t>(R, rows - i0);
      const T* ai = a + i0 * a_rs;
      T* ci = c + i0 * ldc + j0;
      if (C == 1 || (n + W - 1) / W > C / 2)
        product_tile<V, R, C>(depth, ai, a_rs, a_ks, m, b + j0, ldb, n, ci, ldc, accumulate);
      else  // a narrow column block (dh of 32 with 64-wide tiles): half the accumulators
        product_tile<V, R, (C > 1 ? C / 2 : 1)>(depth, ai, a_rs, a_ks, m, b + j0, ldb, n, ci, ldc, accumulate);
    }
  }
}

// dst[d * ld + j] = src[j * row_stride + d] for j < rows, d < cols; columns [rows, ld) zeroed;
// ld a multiple of W. In blocks of W x W, transposed in registers.
template <class V, class T>
void pack_transposed(const T* src, int64_t row_stride, int64_t rows, int64_t cols, T* dst, int64_t ld) {
  constexpr int64_t W = V::width;
  for (int64_t j0 = 0; j0 < ld; j0 += W) {
    for (int64_t d0 = 0; d0 < cols; d0 += W) {
      V block[W];
#pragma GCC unroll 16
      for (int64_t i = 0; i < W; ++i)
        block[i] = j0 + i < rows ? V::load(src + (j0 + i) * row_stride + d0, cols - d0) : V::zero();
      V::transpose(block);
#pragma GCC unroll 16
      for (int64_t i = 0; i < W; ++i)
        if (d0 + i < cols) block[i].store(dst + (d0 + i) * ld + j0);
    }
  }
}

// Scratch space of one thread, sized once per call.
template <class T>
struct AttentionWorkspace {
  std::vector<T> k_packed, v_packed, scores, grads, row_stats;
  AttentionWorkspace(const AttentionShape& s, int64_t width, bool backward)
      : k_packed(static_cast<size_t>(s.dh * round_up(s.M, width))),
        v_packed(backward ? static_cast<size_t>(s.dv * round_up(s.M, width)) : 0),
        scores(static_cast<size_t>(kQueryBlock * kKeyBlock)),
        grads(backward ? static_cast<size_t>(kQueryBlock * kKeyBlock) : 0),
        row_stats(static_cast<size_t>(backward ? s.N : 2 * kQueryBlock)) {}
};

// Rows [q0, q1) of one problem: out rows and lse.
template <class V, class T>
void attention_forward_rows(const AttentionShape& s, const T* q, const T* k, const T* v, T* out, T* lse, T scale,
                            int64_t q0, int64_t q1, AttentionWorkspace<T>& ws) {
  constexpr int64_t W = V::width;
  constexpr T lowest = std::numeric_limits<T>::lowest();
  const int64_t ldk = round_up(s.M, W);
  pack_transposed<V>(k, s.k_row_stride, s.M, s.dh, ws.k_packed.data(), ldk);
  T* scores = ws.scores.data();
  T* row_max = ws.row_stats.data();
  T* row_sum = row_max + kQueryBlock;
  const V vscale = V::set1(scale);
  for (int64_t i0 = q0; i0 < q1; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, q1 - i0);
    std::fill(row_max, row_max + rows, lowest);
    std::fill(row_sum, row_sum + rows, T(0));
    T* acc = out + i0 * s.dv;
    const int64_t keys = visible_keys(s, i0 + rows - 1);  // the last row sees the most
    for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
      const int64_t cols = std::min(kKeyBlock, keys - j0);
      product<V>(rows, cols, s.dh, q + i0 * s.q_row_stride, s.q_row_stride, 1, ws.k_packed.data() + j0, ldk, scores,
                 kKeyBlock, false);
      for (int64_t r = 0; r < rows; ++r) {
        T* sr = scores + r * kKeyBlock;
        const int64_t visible = visible_in_block(s, i0 + r, j0, cols);
        V peak = V::set1(lowest);
        for (int64_t j = 0; j < visible; j += W)
          peak = max(peak, select(V::first(visible - j), V::load(sr + j, visible - j) * vscale, V::set1(lowest)));
        const T new_max = std::max(row_max[r], reduce_max(peak));
        const T rescale = std::exp(row_max[r] - new_max);
        V total = V::zero();
        const V shift = V::set1(new_max);
        for (int64_t j = 0; j < cols; j += W) {
          const V p = select(V::first(std::max<int64_t>(visible - j, 0)),
                             simd::exp(fma(V::load(sr + j, cols - j), vscale, V::zero() - shift)), V::zero());
          p.store(sr + j, cols - j);
          total = total + p;
        }
        row_sum[r] = row_sum[r] * rescale + reduce_add(total);
        row_max[r] = new_max;
        if (j0 > 0 && rescale != T(1)) {
          T* ar = acc + r * s.dv;
          for (int64_t d = 0; d < s.dv; d += W) (V::load(ar + d, s.dv - d) * V::set1(rescale)).store(ar + d, s.dv - d);
        }
      }
      product<V>(rows, s.dv, cols, scores, kKeyBlock, 1, v + j0 * s.v_row_stride, s.v_row_stride, acc, s.dv, j0 > 0);
    }
    for (int64_t r = 0; r < rows; ++r) {
      T* ar = acc + r * s.dv;
      const V inv = V::set1(T(1) / row_sum[r]);
      for (int64_t d = 0; d < s.dv; d += W) (V::load(ar + d, s.dv - d) * inv).store(ar + d, s.dv - d);
      lse[i0 + r] = row_max[r] + std::log(row_sum[r]);
    }
  }
}

// Keys [k0, k1) of one problem: their rows of dk and dv (written), and their part of dq (added
// into dq, which the caller zeroed).
template <class V, class T>
void attention_backward_keys(const AttentionShape& s, const T* dout, const T* q, const T* k, const T* v, const T* out,
                             const T* lse, T* dq, T* dk, T* dv, T scale, int64_t k0, int64_t k1,
                             AttentionWorkspace<T>& ws) {
  constexpr int64_t W = V::width;
  const int64_t keys = k1 - k0, ld = round_up(keys, W);
  pack_transposed<V>(k + k0 * s.k_row_stride, s.k_row_stride, keys, s.dh, ws.k_packed.data(), ld);
  pack_transposed<V>(v + k0 * s.v_row_stride, s.v_row_stride, keys, s.dv, ws.v_packed.data(), ld);
  T* delta = ws.row_stats.data();  // D_i
  for (int64_t i = 0; i < s.N; ++i) {
    V acc = V::zero();
    const T* gi = dout + i * s.dv;
    const T* oi = out + i * s.dv;
    for (int64_t d = 0; d < s.dv; d += W) acc = fma(V::load(gi + d, s.dv - d), V::load(oi + d, s.dv - d), acc);
    delta[i] = reduce_add(acc);
  }
  T* probs = ws.scores.data();
  T* dscores = ws.grads.data();
  const V vscale = V::set1(scale);
  for (int64_t j0 = k0; j0 < k1; j0 += kKeyBlock) {
    const int64_t cols = std::min(kKeyBlock, k1 - j0), pj = j0 - k0;
    const int64_t first_i0 = first_query_seeing(s, j0) / kQueryBlock * kQueryBlock;
    if (first_i0 >= s.N) {  // keys no query sees (M > N under the mask): no gradient
      std::fill(dk + j0 * s.dh, dk + (j0 + cols) * s.dh, T(0));
      std::fill(dv + j0 * s.dv, dv + (j0 + cols) * s.dv, T(0));
      continue;
    }
    for (int64_t i0 = first_i0; i0 < s.N; i0 += kQueryBlock) {
      const int64_t rows = std::min(kQueryBlock, s.N - i0);
      const T* qi = q + i0 * s.q_row_stride;
      const T* gi = dout + i0 * s.dv;
      product<V>(rows, cols, s.dh, qi, s.q_row_stride, 1, ws.k_packed.data() + pj, ld, probs, kKeyBlock, false);
      product<V>(rows, cols, s.dv, gi, s.dv, 1, ws.v_packed.data() + pj, ld, dscores, kKeyBlock, false);
      for (int64_t r = 0; r < rows; ++r) {
        T* pr = probs + r * kKeyBlock;
        T* dr = dscores + r * kKeyBlock;
        const V shift = V::set1(lse[i0 + r]), dr_shift = V::set1(delta[i0 + r]);
        const int64_t visible = visible_in_block(s, i0 + r, j0, cols);
        for (int64_t j = 0; j < cols; j += W) {
          const V p = select(V::first(std::max<int64_t>(visible - j, 0)),
                             simd::exp(fma(V::load(pr + j, cols - j), vscale, V::zero() - shift)), V::zero());
          p.store(pr + j, cols - j);
          (p * (V::load(dr + j, cols - j) - dr_shift) * vscale).store(dr + j, cols - j);
        }
      }
      product<V>(cols, s.dv, rows, probs, 1, kKeyBlock, gi, s.dv, dv + j0 * s.dv, s.dv, i0 > first_i0);
      product<V>(cols, s.dh, rows, dscores, 1, kKeyBlock, qi, s.q_row_stride, dk + j0 * s.dh, s.dh, i0 > first_i0);
      product<V>(rows, s.dh, cols, dscores, kKeyBlock, 1, k + j0 * s.k_row_stride, s.k_row_stride, dq + i0 * s.dh, s.dh,
                 true);
    }
  }
}

// Splits `batch` problems of `blocks` blocks each into about enough chunks for every thread.
inline int64_t chunks_per_problem(int64_t batch, int64_t blocks) {
  const int64_t threads = max_threads();
  return batch >= threads ? 1 : std::min(blocks, (threads + batch - 1) / batch);
}

// How many work items of `products` N x M x d matrix products each make work worth a thread.
inline int64_t attention_grain(const AttentionShape& s, int64_t chunks, int64_t products) {
  const int64_t flops = std::max<int64_t>(1, products * 2 * s.N * s.M * std::max(s.dh, s.dv) / chunks);
  return std::max<int64_t>(1, (int64_t{1} << 20) / flops);
}

}  // namespace detail

template <class T>
void attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out, T* lse, T scale) {
  const int64_t blocks = (s.N + detail::kQueryBlock - 1) / detail::kQueryBlock;
  const int64_t chunks = detail::chunks_per_problem(s.batch, blocks);
  const int64_t per_chunk = (blocks + chunks - 1) / chunks * detail::kQueryBlock;
  parallel_for(s.batch * chunks, detail::attention_grain(s, chunks, 2), [&](int64_t w0, int64_t w1) {
    detail::AttentionWorkspace<T> ws(s, kMaxSimdWidth, false);
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      for (int64_t w = w0; w < w1; ++w) {
        const int64_t b = w / chunks, i0 = (w % chunks) * per_chunk, i1 = std::min(s.N, i0 + per_chunk);
        if (i0 >= i1) continue;
        detail::attention_forward_rows<V>(s, q + s.q_offsets[b], k + s.k_offsets[b], v + s.v_offsets[b],
                                          out + b * s.N * s.dv, lse + b * s.N, scale, i0, i1, ws);
      }
    });
  });
}

template <class T>
void attention_backward(const AttentionShape& s, const T* dout, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, T* dq, T* dk, T* dv, T scale) {
  const int64_t blocks = (s.M + detail::kKeyBlock - 1) / detail::kKeyBlock;
  const int64_t chunks = detail::chunks_per_problem(s.batch, blocks);
  const int64_t per_chunk = (blocks + chunks - 1) / chunks * detail::kKeyBlock;
  const int64_t dq_size = s.N * s.dh;
  std::vector<T> dq_partial(static_cast<size_t>((chunks - 1) * s.batch * dq_size));  // chunks after the first
  parallel_for(s.batch * chunks, detail::attention_grain(s, chunks, 5), [&](int64_t w0, int64_t w1) {
    detail::AttentionWorkspace<T> ws(s, kMaxSimdWidth, true);
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      for (int64_t w = w0; w < w1; ++w) {
        const int64_t b = w / chunks, c = w % chunks, k0 = c * per_chunk, k1 = std::min(s.M, k0 + per_chunk);
        T* dq_target = c == 0 ? dq + b * dq_size : dq_partial.data() + ((c - 1) * s.batch + b) * dq_size;
        std::fill(dq_target, dq_target + dq_size, T(0));
        if (k0 >= k1) continue;
        detail::attention_backward_keys<V>(s, dout + b * s.N * s.dv, q + s.q_offsets[b], k + s.k_offsets[b],
                                           v + s.v_offsets[b], out + b * s.N * s.dv, lse + b * s.N, dq_target,
                                           dk + b * s.M * s.dh, dv + b * s.M * s.dv, scale, k0, k1, ws);
      }
    });
  });
  if (chunks == 1) return;
  parallel_for(s.batch * dq_size, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t c = 1; c < chunks; ++c) {
      const T* part = dq_partial.data() + (c - 1) * s.batch * dq_size;
      for (int64_t i = i0; i < i1; ++i) dq[i] += part[i];
    }
  });
}

}  // namespace jepa::cpu

JEPA_SIMD_GENERIC_END

#if defined(__NVCC__)
#pragma nv_diagnostic pop
#endif
