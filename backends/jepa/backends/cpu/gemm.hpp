// CPU matrix multiply: C = alpha * op(A) * op(B) + beta * C, row-major, op = identity or
// transpose, with leading dimensions. The batched form takes arrays of matrix pointers, which
// covers broadcast batch dims and strided batches alike; batches run in parallel when there are
// enough of them, otherwise rows of each product do.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>

namespace jepa::cpu {

namespace detail {

// One product on the calling thread, rows [i0, i1) of C.
template <class T>
void gemm_rows(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  constexpr int64_t kBlockK = 256;
  std::vector<T> b_row(static_cast<size_t>(N));
  for (int64_t i = i0; i < i1; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) std::fill(c, c + N, T(0));
    else if (beta != T(1)) for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
  for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
    const int64_t k1 = std::min(K, k0 + kBlockK);
    for (int64_t i = i0; i < i1; ++i) {
      T* c = C + i * ldc;
      for (int64_t k = k0; k < k1; ++k) {
        const T a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
        if (trans_b) {
          for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
        } else {
          const T* b = B + k * ldb;
#pragma omp simd
          for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

}  // namespace detail

template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* const* A,
                  int64_t lda, const T* const* B, int64_t ldb, T beta, T* const* C, int64_t ldc, int64_t batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  const int64_t flops = 2 * M * N * std::max<int64_t>(K, 1);
  if (batch >= max_threads()) {
    parallel_for(batch, std::max<int64_t>(1, (1 << 18) / flops), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        detail::gemm_rows(trans_a, trans_b, 0, M, N, K, alpha, A[b], lda, B[b], ldb, beta, C[b], ldc);
    });
    return;
  }
  for (int64_t b = 0; b < batch; ++b)
    parallel_for(M, std::max<int64_t>(1, (1 << 18) / (2 * N * std::max<int64_t>(K, 1))), [&](int64_t i0, int64_t i1) {
      detail::gemm_rows(trans_a, trans_b, i0, i1, N, K, alpha, A[b], lda, B[b], ldb, beta, C[b], ldc);
    });
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  gemm_batched(trans_a, trans_b, M, N, K, alpha, &A, lda, &B, ldb, beta, &C, ldc, 1);
}

// Matrices at fixed strides (in elements) from the first.
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
  std::vector<const T*> a(batch), b(batch);
  std::vector<T*> c(batch);
  for (int64_t i = 0; i < batch; ++i) {
    a[i] = A + i * stride_a;
    b[i] = B + i * stride_b;
    c[i] = C + i * stride_c;
  }
  gemm_batched(trans_a, trans_b, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc, batch);
}

}  // namespace jepa::cpu
