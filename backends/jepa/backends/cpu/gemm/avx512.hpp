// AVX-512 f32 GEMM micro-kernel: a 12x32 tile of C (24 zmm accumulators) from packed panels.
// Same contract as every micro-kernel (gemm/portable.hpp).
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <climits>
#include <cstdint>

#include <jepa/backends/cpu/gemm/pack.hpp>

namespace jepa::cpu::gemm_kernels {

struct Avx512F32 {
  using value_type = float;
  static constexpr int64_t mr = 12, nr = 32, row_step = 4;

  // Lanes [0, count) of a 16-lane vector; count may be <= 0 or >= 16.
  static __mmask16 column_mask(int64_t count) {
    return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
  }

  template <class F>
  __attribute__((target("avx512f"), flatten)) static void with_isa(F&& f) {
    f();
  }

  // Lane j of a gather reads rows[j * ld + p]; 32-bit lane offsets bound ld (else: portable).
  __attribute__((target("avx512f"))) static void pack_b_transposed(const float* rows, int64_t ld, int64_t kc,
                                                                   int64_t n, float* panel) {
    if (ld > INT32_MAX / nr) return gemm_pack::pack_b_transposed<nr>(rows, ld, kc, n, panel);
    const __m512i offsets0 = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                _mm512_set1_epi32(static_cast<int>(ld)));
    const __m512i offsets1 = _mm512_add_epi32(offsets0, _mm512_set1_epi32(static_cast<int>(16 * ld)));
    const __mmask16 mask0 = column_mask(n), mask1 = column_mask(n - 16);
    for (int64_t p = 0; p < kc; ++p) {
      _mm512_store_ps(panel + p * nr, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask0, offsets0, rows + p, 4));
      _mm512_store_ps(panel + p * nr + 16,
                      _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask1, offsets1, rows + p, 4));
    }
  }

  template <int64_t kRows, int64_t kRowStride, int64_t kDepthStride>
  __attribute__((target("avx512f"))) static void tile(int64_t kc, const float* a, const float* b, float* c,
                                                      int64_t ldc, float alpha, float beta, const float* bias,
                                                      int64_t m, int64_t n) {
    __m512 acc[kRows][2];
#pragma GCC unroll 12
    for (int64_t i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; ++p) {
      const __m512 b0 = _mm512_load_ps(b + p * nr), b1 = _mm512_load_ps(b + p * nr + 16);
#pragma GCC unroll 12
      for (int64_t i = 0; i < kRows; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i * kRowStride + p * kDepthStride]);
        acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      }
    }
    const __mmask16 mask0 = column_mask(n), mask1 = column_mask(n - 16);
    const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
    // Without a bias, -0.0f: alpha * acc + -0.0f == alpha * acc exactly, so the FMA costs what a multiply did.
    const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(mask0, bias) : _mm512_set1_ps(-0.0f);
    const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(mask1, bias + 16) : _mm512_set1_ps(-0.0f);
#pragma GCC unroll 12
    for (int64_t i = 0; i < kRows; ++i) {
      if (i >= m) break;
      float* row = c + i * ldc;
      __m512 out0 = _mm512_fmadd_ps(valpha, acc[i][0], bias0), out1 = _mm512_fmadd_ps(valpha, acc[i][1], bias1);
      if (beta != 0.0f) {
        out0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask0, row), out0);
        out1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask1, row + 16), out1);
      }
      _mm512_mask_storeu_ps(row, mask0, out0);
      _mm512_mask_storeu_ps(row + 16, mask1, out1);
    }
  }
};

}  // namespace jepa::cpu::gemm_kernels
#endif
