// One lane of T: the portable fallback (any architecture, and every f64 kernel), implementing the
// interface described in avx512.hpp with plain C++, so kernels written once run everywhere.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace jepa::cpu::simd {

template <class T>
struct Scalar {
  using value_type = T;
  using Mask = bool;
  static constexpr int64_t width = 1;
  static constexpr int registers = 16;
  T v;

  static Scalar zero() { return {T(0)}; }
  static Scalar set1(T x) { return {x}; }
  static Mask first(int64_t n) { return n > 0; }
  static Scalar load(const T* p) { return {*p}; }
  static Scalar load(const T* p, int64_t n) { return {n > 0 ? *p : T(0)}; }
  void store(T* p) const { *p = v; }
  void store(T* p, int64_t n) const {
    if (n > 0) *p = v;
  }

  friend Scalar operator+(Scalar a, Scalar b) { return {a.v + b.v}; }
  friend Scalar operator-(Scalar a, Scalar b) { return {a.v - b.v}; }
  friend Scalar operator*(Scalar a, Scalar b) { return {a.v * b.v}; }
  friend Scalar operator/(Scalar a, Scalar b) { return {a.v / b.v}; }
  friend Scalar fma(Scalar a, Scalar b, Scalar c) { return {a.v * b.v + c.v}; }
  friend Scalar max(Scalar a, Scalar b) { return {a.v > b.v ? a.v : b.v}; }
  friend Scalar min(Scalar a, Scalar b) { return {a.v < b.v ? a.v : b.v}; }
  friend Scalar abs(Scalar a) { return {std::abs(a.v)}; }
  friend Scalar round(Scalar a) { return {std::nearbyint(a.v)}; }
  friend Scalar sqrt(Scalar a) { return {std::sqrt(a.v)}; }
  friend Scalar reciprocal(Scalar a) { return {T(1) / a.v}; }
  friend Scalar ldexp(Scalar a, Scalar n) { return {std::ldexp(a.v, static_cast<int>(n.v))}; }
  friend Mask operator<(Scalar a, Scalar b) { return a.v < b.v; }
  friend Scalar select(Mask m, Scalar a, Scalar b) { return m ? a : b; }
  static void transpose(Scalar (&)[1]) {}
  friend T reduce_add(Scalar a) { return a.v; }
  friend T reduce_max(Scalar a) { return a.v; }
};

// Outside Scalar<T>: the mask type bool is the same for every T.
inline bool any(bool m) { return m; }

}  // namespace jepa::cpu::simd
