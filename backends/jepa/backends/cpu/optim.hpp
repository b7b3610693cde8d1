// Fused optimizer kernels over flat parameter buffers, one parallel region each, vectorized
// through dispatch_simd (simd.hpp; the compiler does not vectorize sqrt on its own without
// -fno-math-errno): AdamW (decoupled weight decay, PyTorch's formulation) and the EMA update used
// for JEPA target encoders. Weight decay applies per segment of the buffer: [begin, end) with its
// own flag. Both are bound by memory bandwidth (AdamW moves 7 values per parameter, EMA 3).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/simd.hpp>

namespace jepa::cpu {

struct DecaySegment {
  int64_t begin, end;
  bool decay;
};

struct AdamWStep {
  double lr, weight_decay, beta1, beta2, eps;
  int64_t step;  // 1-based, for bias correction
};

// p -= lr*wd*p (decayed segments); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
template <class T>
void adamw(T* param, const T* grad, T* m, T* v, const std::vector<DecaySegment>& segments, const AdamWStep& s) {
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T step_size = static_cast<T>(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step))));
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step))));
  const int64_t total = segments.empty() ? 0 : segments.back().end;
  parallel_for(total, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      const V vb1 = V::set1(b1), vb2 = V::set1(b2), rest1 = V::set1(T(1) - b1), rest2 = V::set1(T(1) - b2);
      const V vstep = V::set1(step_size), vbc2 = V::set1(inv_sqrt_bc2), veps = V::set1(static_cast<T>(s.eps));
      for (const DecaySegment& seg : segments) {
        const int64_t b = std::max(i0, seg.begin), e = std::min(i1, seg.end);
        const V keep = V::set1(seg.decay ? static_cast<T>(1.0 - s.lr * s.weight_decay) : T(1));
        for (int64_t i = b; i < e; i += V::width) {
          const int64_t n = e - i;
          const V g = V::load(grad + i, n);
          const V mi = fma(vb1, V::load(m + i, n), rest1 * g);
          const V vi = fma(vb2, V::load(v + i, n), rest2 * g * g);
          mi.store(m + i, n);
          vi.store(v + i, n);
          (V::load(param + i, n) * keep - vstep * mi / fma(sqrt(vi), vbc2, veps)).store(param + i, n);
        }
      }
    });
  });
}

// target = momentum * target + (1 - momentum) * online
template <class T>
void ema(T* target, const T* online, int64_t n, double momentum) {
  const T keep = static_cast<T>(momentum), rest = static_cast<T>(1.0 - momentum);
  parallel_for(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    dispatch_simd<T>([&](auto tag) {
      using V = typename decltype(tag)::type;
      const V vkeep = V::set1(keep), vrest = V::set1(rest);
      for (int64_t i = i0; i < i1; i += V::width)
        fma(vkeep, V::load(target + i, i1 - i), vrest * V::load(online + i, i1 - i)).store(target + i, i1 - i);
    });
  });
}

}  // namespace jepa::cpu
