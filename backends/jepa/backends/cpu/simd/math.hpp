// Transcendental functions over the SIMD types, written once against their shared interface:
// exp and the standard normal CDF/PDF (for GELU). f32 vectors use range reduction plus the fitted
// polynomials of math_coefficients.hpp (tests/ref/fit_simd_math.py); one-lane types call the C
// library, so f64 keeps full precision.
// Accuracy of the f32 vectors (measured in tests/test_kernels.cpp): exp within 2 ulp where its
// result is a normal float; the normal CDF within 5e-7 relative error (far tails included:
// computed from erfc, not from 1 + erf) and its PDF within 3e-7. Results below FLT_MIN flush to 0;
// NaN propagates.
#pragma once
#include <cmath>
#include <cstddef>

#include <jepa/backends/cpu/simd/math_coefficients.hpp>

// Generic code over the vector types sits between these two: GCC warns that returning AVX vectors
// from functions compiled without AVX changes the ABI, but such functions are always inlined into
// the AVX entry points of dispatch_simd (simd.hpp). Generic functions take vectors by reference:
// GCC notes by-value 64-byte parameters whatever the pragmas say.
#if defined(__GNUC__) && !defined(__clang__)
#define JEPA_SIMD_GENERIC_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpsabi\"")
#define JEPA_SIMD_GENERIC_END _Pragma("GCC diagnostic pop")
#else
#define JEPA_SIMD_GENERIC_BEGIN
#define JEPA_SIMD_GENERIC_END
#endif

JEPA_SIMD_GENERIC_BEGIN

namespace jepa::cpu::simd {

// c[0] + c[1] x + ... + c[K-1] x^(K-1), by Horner's rule.
template <class V, size_t K>
V polynomial(const V& x, const float (&c)[K]) {
  V p = V::set1(c[K - 1]);
  for (size_t i = K - 1; i-- > 0;) p = fma(p, x, V::set1(c[i]));
  return p;
}

// exp(x) = 2^n exp(r) with n = round(x / ln 2) and r = x - n ln 2 computed in two FMA steps
// (ln 2 split into a float head and tail, Cody and Waite). Results that would be subnormal are
// flushed to 0 without computing them (subnormal arithmetic costs a microcode assist on x86), and
// inputs above 89 give inf.
template <class V>
V exp(const V& x_in) {
  using T = typename V::value_type;
  if constexpr (V::width == 1) {
    return {std::exp(x_in.v)};
  } else {
    constexpr float kLog2e = 1.44269504088896341f, kLn2Head = 0.693147182464599609375f;
    constexpr float kLn2Tail = -1.904654299957768e-09f, kLowest = -87.33654f;  // ln(FLT_MIN)
    const V x = min(V::set1(T(89)), max(V::set1(kLowest), x_in));  // max/min return their second operand on NaN
    const V n = round(x * V::set1(kLog2e));
    V r = fma(n, V::set1(-kLn2Head), x);
    r = fma(n, V::set1(-kLn2Tail), r);
    return select(x_in < V::set1(kLowest), V::zero(), ldexp(polynomial(r, coefficients::kExp), n));
  }
}

template <class V>
struct NormalCdfPdf {
  V cdf, pdf;
};

// Phi(h) and phi(h) of the standard normal distribution. With x = h / sqrt(2):
//   |x| <= 0.5:  Phi = 1/2 + 1/2 x P(x^2)               (P fits erf(x)/x)
//   |x| >  0.5:  Phi = 1/2 erfc(|x|) or 1 - 1/2 erfc(|x|), erfc(|x|) = exp(-x^2) Q(2 / (2 + |x|))
//   phi = exp(-x^2) / sqrt(2 pi)
// exp(-x^2) = exp(-h^2 / 2) is taken from the exact square h^2 = s + e (e from an FMA) as
// exp(-s/2) (1 - e/2), so that the far tails lose no accuracy to rounding h^2 or h / sqrt(2).
template <class V>
NormalCdfPdf<V> normal_cdf_pdf(const V& h) {
  using T = typename V::value_type;
  constexpr double kInvSqrt2Pi = 0.5 * M_2_SQRTPI * M_SQRT1_2;
  if constexpr (V::width == 1) {
    const double x = static_cast<double>(h.v) * M_SQRT1_2;
    return {{static_cast<T>(0.5 * std::erfc(-x))}, {static_cast<T>(kInvSqrt2Pi * std::exp(-x * x))}};
  } else {
    const V one = V::set1(T(1)), half = V::set1(T(0.5));
    const V x = h * V::set1(T(M_SQRT1_2));
    const V a = min(V::set1(T(14)), abs(h));  // exp(-h^2 / 2) is below FLT_MIN beyond 14
    const V square = a * a, square_error = fma(a, a, V::zero() - square);
    const V gauss = exp(V::zero() - half * square) * (one - half * square_error);
    const V u = V::set1(T(2)) * reciprocal(V::set1(T(2)) + a * V::set1(T(M_SQRT1_2)));
    const V half_erfc = half * gauss * polynomial(u, coefficients::kErfcLarge);
    const V cdf_tail = select(x < V::zero(), half_erfc, one - half_erfc);
    const V cdf_center = fma(half * x, polynomial(x * x, coefficients::kErfSmall), half);
    return {select(V::set1(coefficients::kErfSplit) < abs(x), cdf_tail, cdf_center),
            V::set1(T(kInvSqrt2Pi)) * gauss};
  }
}

}  // namespace jepa::cpu::simd

JEPA_SIMD_GENERIC_END
