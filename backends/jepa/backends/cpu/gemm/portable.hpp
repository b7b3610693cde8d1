// Portable GEMM micro-kernel in plain C++ (any architecture, any element type; the compiler
// vectorises it for the baseline ISA). It is the f64 kernel, the f32 fallback, and the statement
// of the contract every micro-kernel (avx2.hpp, avx512.hpp) follows:
// - value_type; mr x nr, the largest tile; row_step: tiles come in kRows = row_step, 2 row_step,
//   ..., mr rows, so that the last panel of a matrix computes few wasted rows.
// - tile<kRows, kRowStride, kDepthStride>(kc, a, b, c, ldc, alpha, beta, bias, m, n) computes
//   C[i, j] = alpha * sum_{p < kc} A(i, p) * B(p, j) + beta * C[i, j] + bias[j] for i < m <= kRows,
//   j < n <= nr, where A(i, p) = a[i * kRowStride + p * kDepthStride] for i < kRows (rows >= m are
//   zeros), B(p, j) = b[p * nr + j] for j < nr (columns >= n are zeros), b 64-byte aligned, C is
//   row-major with leading dim ldc, and a null bias adds nothing (results bit for bit as without
//   the term); beta == 0 never reads C (NaN there is overwritten, as in BLAS).
// - with_isa(f) calls f() with f's code inlined and compiled for the kernel's ISA, so that the
//   generic packing loops around the kernel are vectorised for it too.
// - pack_b_transposed(rows, ld, kc, n, panel) packs a B panel from B^T (gemm_pack::pack_b_transposed
//   states it; SIMD kernels gather instead).
#pragma once
#include <cstdint>

#include <jepa/backends/cpu/gemm/pack.hpp>

namespace jepa::cpu::gemm_kernels {

template <class T>
struct Portable {
  using value_type = T;
  static constexpr int64_t mr = 4, nr = 32 / sizeof(T), row_step = 1;

  template <class F>
  static void with_isa(F&& f) {
    f();
  }

  static void pack_b_transposed(const T* rows, int64_t ld, int64_t kc, int64_t n, T* panel) {
    gemm_pack::pack_b_transposed<nr>(rows, ld, kc, n, panel);
  }

  template <int64_t kRows, int64_t kRowStride, int64_t kDepthStride>
  static void tile(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T alpha, T beta, const T* bias, int64_t m,
                   int64_t n) {
    T acc[kRows][nr] = {};
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t i = 0; i < kRows; ++i) {
        const T ai = a[i * kRowStride + p * kDepthStride];
        for (int64_t j = 0; j < nr; ++j) acc[i][j] += ai * b[p * nr + j];
      }
    // -0.0 is the additive identity for every value, signed zeros included (+0.0 turns -0.0 into +0.0).
    T shift[nr];
    for (int64_t j = 0; j < nr; ++j) shift[j] = bias && j < n ? bias[j] : T(-0.0);
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j)
        row[j] = (beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j]) + shift[j];
    }
  }
};

}  // namespace jepa::cpu::gemm_kernels
