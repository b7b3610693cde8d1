// AVX2+FMA f32 GEMM micro-kernel: a 6x16 tile of C (12 ymm accumulators) from packed panels, for
// x86-64 machines without AVX-512. Same contract as every micro-kernel (gemm/portable.hpp).
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <climits>
#include <cstdint>

#include <jepa/backends/cpu/gemm/pack.hpp>

namespace jepa::cpu::gemm_kernels {

struct Avx2F32 {
  using value_type = float;
  static constexpr int64_t mr = 6, nr = 16, row_step = 2;

  // Lanes [0, count) of an 8-lane vector set (all bits), the rest clear; count may be <= 0 or >= 8.
  __attribute__((target("avx2,fma"))) static __m256i column_mask(int64_t count) {
    const int64_t clamped = count < 0 ? 0 : count > 8 ? 8 : count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(clamped)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // Lane j of a gather reads rows[j * ld + p]; 32-bit lane offsets bound ld (else: portable).
  __attribute__((target("avx2,fma"))) static void pack_b_transposed(const float* rows, int64_t ld, int64_t kc,
                                                                    int64_t n, float* panel) {
    if (ld > INT32_MAX / nr) return gemm_pack::pack_b_transposed<nr>(rows, ld, kc, n, panel);
    const __m256i offsets0 =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(ld)));
    const __m256i offsets1 = _mm256_add_epi32(offsets0, _mm256_set1_epi32(static_cast<int>(8 * ld)));
    const __m256 mask0 = _mm256_castsi256_ps(column_mask(n)), mask1 = _mm256_castsi256_ps(column_mask(n - 8));
    for (int64_t p = 0; p < kc; ++p) {
      _mm256_store_ps(panel + p * nr, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), rows + p, offsets0, mask0, 4));
      _mm256_store_ps(panel + p * nr + 8, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), rows + p, offsets1, mask1, 4));
    }
  }

  template <class F>
  __attribute__((target("avx2,fma"), flatten)) static void with_isa(F&& f) {
    f();
  }

  template <int64_t kRows, int64_t kRowStride, int64_t kDepthStride>
  __attribute__((target("avx2,fma"))) static void tile(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, float alpha, float beta, const float* bias,
                                                       int64_t m, int64_t n) {
    __m256 acc[kRows][2];
#pragma GCC unroll 6
    for (int64_t i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
      const __m256 b0 = _mm256_load_ps(b + p * nr), b1 = _mm256_load_ps(b + p * nr + 8);
#pragma GCC unroll 6
      for (int64_t i = 0; i < kRows; ++i) {
        const __m256 ai = _mm256_broadcast_ss(a + i * kRowStride + p * kDepthStride);
        acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
      }
    }
    const __m256i mask0 = column_mask(n), mask1 = column_mask(n - 8);
    const __m256 valpha = _mm256_set1_ps(alpha), vbeta = _mm256_set1_ps(beta);
    // Without a bias, -0.0f: alpha * acc + -0.0f == alpha * acc exactly, so the FMA costs what a multiply did.
    const __m256 bias0 = bias ? _mm256_maskload_ps(bias, mask0) : _mm256_set1_ps(-0.0f);
    const __m256 bias1 = bias ? _mm256_maskload_ps(bias + 8, mask1) : _mm256_set1_ps(-0.0f);
#pragma GCC unroll 6
    for (int64_t i = 0; i < kRows; ++i) {
      if (i >= m) break;
      float* row = c + i * ldc;
      __m256 out0 = _mm256_fmadd_ps(valpha, acc[i][0], bias0), out1 = _mm256_fmadd_ps(valpha, acc[i][1], bias1);
      if (beta != 0.0f) {
        out0 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row, mask0), out0);
        out1 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row + 8, mask1), out1);
      }
      _mm256_maskstore_ps(row, mask0, out0);
      _mm256_maskstore_ps(row + 8, mask1, out1);
    }
  }
};

}  // namespace jepa::cpu::gemm_kernels
#endif
