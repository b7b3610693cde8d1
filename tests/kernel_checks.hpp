// Helpers of the tests that compare fused kernels with their composite references: random
// inputs, a relative difference, per-dtype tolerances, outputs and input gradients of a function,
// and a loop over the SIMD paths this machine runs.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa::test {

inline Tensor random(const Shape& shape, uint64_t seed, DType dtype, double lo = -2, double hi = 2) {
  Generator g(seed);
  return uniform(shape, lo, hi, g, dtype);
}

// max |a - b| / max(1, max |b|)
inline double difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return diff / scale;
}

inline double tolerance(DType dtype) { return dtype == DType::f32 ? 2e-6 : 1e-12; }

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// f's output and the gradients of sum(f(inputs) * w) for fresh leaf copies of the inputs.
inline std::vector<Tensor> run_with_grads(const Fn& f, const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_());
  Tensor out = f(leaves);
  Generator g(seed);
  out.backward(normal(out.shape(), 0, 1, g, out.dtype()));
  std::vector<Tensor> result{out.detach()};
  for (const Tensor& t : leaves) result.push_back(t.grad());
  return result;
}

// Output and input gradients of `fused` and `reference` agree within the dtype's tolerance.
inline void check_against(const Fn& fused, const Fn& reference, const std::vector<Tensor>& inputs, double tol) {
  const auto a = run_with_grads(fused, inputs, 7), b = run_with_grads(reference, inputs, 7);
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);  // 0: output, then each input's gradient
    CHECK(difference(a[i], b[i]) <= tol);
  }
}

inline const std::vector<cpu::Isa> kIsas = {cpu::Isa::avx512, cpu::Isa::avx2, cpu::Isa::scalar};

// Runs body once per SIMD path this machine supports, with the path named in failures.
inline void for_each_isa(const std::function<void()>& body) {
  for (cpu::Isa isa : kIsas) {
    if (!cpu::isa_supported(isa)) continue;
    cpu::ScopedIsaLimit limit(isa);
    const std::string path = cpu::isa_name(cpu::simd_isa());
    CAPTURE(path);
    body();
  }
}

}  // namespace jepa::test
