// 8 f32 lanes in an AVX2 register (with FMA), implementing the interface described in avx512.hpp.
// Masks hold all-ones / all-zeros lanes, as the AVX2 compare instructions produce, wrapped in a
// struct: clang rejects raw AVX vectors passed to the (inlined) generic kernel code.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#define JEPA_AVX2 __attribute__((target("avx2,fma")))

// nvcc's front end does not know `#pragma GCC unroll`; it hands it on to the host compiler.
#if defined(__NVCC__)
#pragma nv_diagnostic push
#pragma nv_diag_suppress 1675
#endif

namespace jepa::cpu::simd {

struct Avx2F32 {
  using value_type = float;
  struct Mask {
    __m256 lanes;
  };
  static constexpr int64_t width = 8;
  static constexpr int registers = 16;
  __m256 v;

  JEPA_AVX2 static Avx2F32 zero() { return {_mm256_setzero_ps()}; }
  JEPA_AVX2 static Avx2F32 set1(float x) { return {_mm256_set1_ps(x)}; }
  JEPA_AVX2 static Mask first(int64_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return {_mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 8 ? n : 8)), lane))};
  }
  JEPA_AVX2 static Avx2F32 load(const float* p) { return {_mm256_loadu_ps(p)}; }
  JEPA_AVX2 static Avx2F32 load(const float* p, int64_t n) {
    return {_mm256_maskload_ps(p, _mm256_castps_si256(first(n).lanes))};
  }
  JEPA_AVX2 void store(float* p) const { _mm256_storeu_ps(p, v); }
  JEPA_AVX2 void store(float* p, int64_t n) const { _mm256_maskstore_ps(p, _mm256_castps_si256(first(n).lanes), v); }

  JEPA_AVX2 friend Avx2F32 operator+(Avx2F32 a, Avx2F32 b) { return {_mm256_add_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 operator-(Avx2F32 a, Avx2F32 b) { return {_mm256_sub_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 operator*(Avx2F32 a, Avx2F32 b) { return {_mm256_mul_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 operator/(Avx2F32 a, Avx2F32 b) { return {_mm256_div_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 fma(Avx2F32 a, Avx2F32 b, Avx2F32 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  JEPA_AVX2 friend Avx2F32 max(Avx2F32 a, Avx2F32 b) { return {_mm256_max_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 min(Avx2F32 a, Avx2F32 b) { return {_mm256_min_ps(a.v, b.v)}; }
  JEPA_AVX2 friend Avx2F32 abs(Avx2F32 a) {
    return {_mm256_and_ps(a.v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))};
  }
  JEPA_AVX2 friend Avx2F32 round(Avx2F32 a) {
    return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
  }
  JEPA_AVX2 friend Avx2F32 sqrt(Avx2F32 a) { return {_mm256_sqrt_ps(a.v)}; }
  // rcp (12 bits) and one Newton step: r + r (1 - a r).
  JEPA_AVX2 friend Avx2F32 reciprocal(Avx2F32 a) {
    const __m256 r = _mm256_rcp_ps(a.v);
    return {_mm256_fmadd_ps(r, _mm256_fnmadd_ps(a.v, r, _mm256_set1_ps(1.0f)), r)};
  }
  // 2^n built in two halves so that each factor is a normal float: exact for |n| <= 252,
  // overflowing to inf and underflowing gradually through the final multiply like a real 2^n.
  JEPA_AVX2 friend Avx2F32 ldexp(Avx2F32 a, Avx2F32 n) {
    const __m256i ni = _mm256_cvtps_epi32(n.v);
    const __m256i half = _mm256_srai_epi32(ni, 1), rest = _mm256_sub_epi32(ni, half);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return {_mm256_mul_ps(_mm256_mul_ps(a.v, s1), s2)};
  }
  JEPA_AVX2 friend Mask operator<(Avx2F32 a, Avx2F32 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
  JEPA_AVX2 friend Avx2F32 select(Mask m, Avx2F32 a, Avx2F32 b) { return {_mm256_blendv_ps(b.v, a.v, m.lanes)}; }
  JEPA_AVX2 friend bool any(Mask m) { return _mm256_movemask_ps(m.lanes) != 0; }

  // Folds the upper half onto the lower one (128, 64, 32 bits) until lane 0 holds the total.
  template <bool kMax>
  JEPA_AVX2 static float fold(__m256 x) {
    __m128 lo = _mm256_castps256_ps128(x), hi = _mm256_extractf128_ps(x, 1);
    lo = kMax ? _mm_max_ps(lo, hi) : _mm_add_ps(lo, hi);
    hi = _mm_movehl_ps(lo, lo);
    lo = kMax ? _mm_max_ps(lo, hi) : _mm_add_ps(lo, hi);
    hi = _mm_shuffle_ps(lo, lo, _MM_SHUFFLE(1, 1, 1, 1));
    lo = kMax ? _mm_max_ss(lo, hi) : _mm_add_ss(lo, hi);
    return _mm_cvtss_f32(lo);
  }
  // Rows pairwise interleaved (unpack), then 4-element groups gathered (shuffle), then the 128-bit
  // halves of rows i and i + 4 exchanged.
  JEPA_AVX2 static void transpose(Avx2F32 (&rows)[8]) {
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(rows[i].v, rows[i + 1].v);
      t[i + 1] = _mm256_unpackhi_ps(rows[i].v, rows[i + 1].v);
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; g += 4) {  // u[g + m] holds column 4L + m of rows g..g+3 in half L
      u[g] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) {
      rows[m].v = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
      rows[4 + m].v = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
  }

  JEPA_AVX2 friend float reduce_add(Avx2F32 a) { return fold<false>(a.v); }
  JEPA_AVX2 friend float reduce_max(Avx2F32 a) { return fold<true>(a.v); }
};

}  // namespace jepa::cpu::simd

#undef JEPA_AVX2

#if defined(__NVCC__)
#pragma nv_diagnostic pop
#endif

#endif
