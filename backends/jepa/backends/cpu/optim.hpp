// Fused optimizer kernels over flat parameter buffers, one parallel region each:
// AdamW (decoupled weight decay, PyTorch's formulation) and the EMA update used for JEPA target
// encoders. Weight decay applies per segment of the buffer: [begin, end) with its own flag.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>

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
  const T eps = static_cast<T>(s.eps);
  const int64_t total = segments.empty() ? 0 : segments.back().end;
  parallel_for(total, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    for (const DecaySegment& seg : segments) {
      const int64_t b = std::max(i0, seg.begin), e = std::min(i1, seg.end);
      if (b >= e) continue;
      const T keep = seg.decay ? static_cast<T>(1.0 - s.lr * s.weight_decay) : T(1);
#pragma omp simd
      for (int64_t i = b; i < e; ++i) {
        const T g = grad[i];
        const T mi = b1 * m[i] + (T(1) - b1) * g;
        const T vi = b2 * v[i] + (T(1) - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * keep - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
      }
    }
  });
}

// target = momentum * target + (1 - momentum) * online
template <class T>
void ema(T* target, const T* online, int64_t n, double momentum) {
  const T m = static_cast<T>(momentum), rest = static_cast<T>(1.0 - momentum);
  parallel_for(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) target[i] = m * target[i] + rest * online[i];
  });
}

}  // namespace jepa::cpu
