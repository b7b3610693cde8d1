// 16 f32 lanes in an AVX-512 register, with the operations the fused CPU kernels are written in.
// Every member carries the target attribute; kernels reach them through cpu::dispatch_simd
// (simd.hpp), whose AVX-512 entry point has the same target and inlines everything it calls.
// The interface, shared with Avx2F32 and Scalar<T>:
//   zero, set1, load(p), load(p, n) (lanes >= n read as 0, never touched), store(p), store(p, n),
//   first(n) (mask of lanes < n), + - * /, fma(a, b, c) = a * b + c, max(a, b) = a > b ? a : b
//   and min likewise (b when either is NaN), abs, round (to nearest even), sqrt, reciprocal
//   (~1 ulp), ldexp(a, n) = a * 2^n for integral n, a < b, select(m, a, b) = m ? a : b, any(m),
//   reduce_add, reduce_max, transpose(rows) (a width x width block in place).
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#define JEPA_AVX512 __attribute__((target("avx512f")))

// GCC 12 reports the _mm512_undefined_ps idiom inside its own intrinsics as uninitialized use
// once they are inlined (GCC bug 105593).
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// nvcc's front end does not know `#pragma GCC unroll`; it hands it on to the host compiler.
#if defined(__NVCC__)
#pragma nv_diagnostic push
#pragma nv_diag_suppress 1675
#endif

namespace jepa::cpu::simd {

struct Avx512F32 {
  using value_type = float;
  using Mask = __mmask16;
  static constexpr int64_t width = 16;
  static constexpr int registers = 32;
  __m512 v;

  JEPA_AVX512 static Avx512F32 zero() { return {_mm512_setzero_ps()}; }
  JEPA_AVX512 static Avx512F32 set1(float x) { return {_mm512_set1_ps(x)}; }
  JEPA_AVX512 static Mask first(int64_t n) { return n >= 16 ? Mask(0xFFFF) : Mask((1u << n) - 1u); }
  JEPA_AVX512 static Avx512F32 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  JEPA_AVX512 static Avx512F32 load(const float* p, int64_t n) { return {_mm512_maskz_loadu_ps(first(n), p)}; }
  JEPA_AVX512 void store(float* p) const { _mm512_storeu_ps(p, v); }
  JEPA_AVX512 void store(float* p, int64_t n) const { _mm512_mask_storeu_ps(p, first(n), v); }

  JEPA_AVX512 friend Avx512F32 operator+(Avx512F32 a, Avx512F32 b) { return {_mm512_add_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 operator-(Avx512F32 a, Avx512F32 b) { return {_mm512_sub_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 operator*(Avx512F32 a, Avx512F32 b) { return {_mm512_mul_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 operator/(Avx512F32 a, Avx512F32 b) { return {_mm512_div_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 fma(Avx512F32 a, Avx512F32 b, Avx512F32 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  JEPA_AVX512 friend Avx512F32 max(Avx512F32 a, Avx512F32 b) { return {_mm512_max_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 min(Avx512F32 a, Avx512F32 b) { return {_mm512_min_ps(a.v, b.v)}; }
  JEPA_AVX512 friend Avx512F32 abs(Avx512F32 a) { return {_mm512_abs_ps(a.v)}; }
  JEPA_AVX512 friend Avx512F32 round(Avx512F32 a) {
    return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
  }
  JEPA_AVX512 friend Avx512F32 sqrt(Avx512F32 a) { return {_mm512_sqrt_ps(a.v)}; }
  // rcp14 (14 bits) and one Newton step: r + r (1 - a r).
  JEPA_AVX512 friend Avx512F32 reciprocal(Avx512F32 a) {
    const __m512 r = _mm512_rcp14_ps(a.v);
    return {_mm512_fmadd_ps(r, _mm512_fnmadd_ps(a.v, r, _mm512_set1_ps(1.0f)), r)};
  }
  // scalef is exact for integral n and saturates to 0 or inf like a real 2^n would.
  JEPA_AVX512 friend Avx512F32 ldexp(Avx512F32 a, Avx512F32 n) { return {_mm512_scalef_ps(a.v, n.v)}; }
  JEPA_AVX512 friend Mask operator<(Avx512F32 a, Avx512F32 b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
  JEPA_AVX512 friend Avx512F32 select(Mask m, Avx512F32 a, Avx512F32 b) { return {_mm512_mask_blend_ps(m, b.v, a.v)}; }
  JEPA_AVX512 friend bool any(Mask m) { return m != 0; }

  // Folds halves onto each other (256, 128, 64, 32 bits) until lane 0 holds the total.
  template <bool kMax>
  JEPA_AVX512 static float fold(__m512 x) {
    __m512 y = _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(1, 0, 3, 2));
    x = kMax ? _mm512_max_ps(x, y) : _mm512_add_ps(x, y);
    y = _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(2, 3, 0, 1));
    x = kMax ? _mm512_max_ps(x, y) : _mm512_add_ps(x, y);
    y = _mm512_permute_ps(x, _MM_SHUFFLE(1, 0, 3, 2));
    x = kMax ? _mm512_max_ps(x, y) : _mm512_add_ps(x, y);
    y = _mm512_permute_ps(x, _MM_SHUFFLE(2, 3, 0, 1));
    x = kMax ? _mm512_max_ps(x, y) : _mm512_add_ps(x, y);
    return _mm512_cvtss_f32(x);
  }
  // Rows pairwise interleaved (unpack), then 4-element groups gathered (shuffle), then 128-bit
  // lanes gathered across the four groups of four rows (two rounds of shuffle_f32x4).
  JEPA_AVX512 static void transpose(Avx512F32 (&rows)[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(rows[i].v, rows[i + 1].v);
      t[i + 1] = _mm512_unpackhi_ps(rows[i].v, rows[i + 1].v);
    }
#pragma GCC unroll 16
    for (int g = 0; g < 16; g += 4) {  // u[g + m] holds column 4L + m of rows g..g+3 in lane L
      u[g] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) {
      const __m512 low01 = _mm512_shuffle_f32x4(u[m], u[4 + m], _MM_SHUFFLE(1, 0, 1, 0));
      const __m512 high01 = _mm512_shuffle_f32x4(u[m], u[4 + m], _MM_SHUFFLE(3, 2, 3, 2));
      const __m512 low23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(1, 0, 1, 0));
      const __m512 high23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(3, 2, 3, 2));
      rows[m].v = _mm512_shuffle_f32x4(low01, low23, _MM_SHUFFLE(2, 0, 2, 0));
      rows[4 + m].v = _mm512_shuffle_f32x4(low01, low23, _MM_SHUFFLE(3, 1, 3, 1));
      rows[8 + m].v = _mm512_shuffle_f32x4(high01, high23, _MM_SHUFFLE(2, 0, 2, 0));
      rows[12 + m].v = _mm512_shuffle_f32x4(high01, high23, _MM_SHUFFLE(3, 1, 3, 1));
    }
  }

  JEPA_AVX512 friend float reduce_add(Avx512F32 a) { return fold<false>(a.v); }
  JEPA_AVX512 friend float reduce_max(Avx512F32 a) { return fold<true>(a.v); }
};

}  // namespace jepa::cpu::simd

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#undef JEPA_AVX512

#if defined(__NVCC__)
#pragma nv_diagnostic pop
#endif

#endif
