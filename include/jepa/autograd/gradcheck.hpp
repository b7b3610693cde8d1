// Finite-difference gradient check, used by the tests of every differentiable op.
// The function's output is contracted with a fixed random tensor w, so one backward pass checks
// the full Jacobian-vector product: analytical d(sum(f * w))/dx from backward() against central
// differences (f(x + eps) - f(x - eps)) / 2 eps per input element, all in f64.
#pragma once
#include <cmath>
#include <functional>
#include <string>

#include <jepa/autograd/engine.hpp>
#include <jepa/ops/creation.hpp>

namespace jepa {

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;  // largest |analytical - numerical|
  std::string message;   // the first mismatch, naming the input and element
  explicit operator bool() const { return ok; }
};

inline std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) {
  return os << (r.ok ? "gradcheck passed" : r.message) << " (max error " << r.max_error << ")";
}

// `inputs` are f64 leaves (any strides); those that should be checked must require grad.
inline GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                 const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-6,
                                 double rtol = 1e-4, uint64_t seed = 1234) {
  for (const Tensor& x : inputs) {
    JEPA_CHECK(x.dtype() == DType::f64 && x.device().is_cpu(), "gradcheck",
               "inputs must be f64 CPU tensors, got ", x.dtype(), " on ", x.device());
    JEPA_CHECK(x.is_leaf(), "gradcheck", "inputs must be leaves");
  }
  Tensor out = f(inputs);
  Generator gen(seed);
  const Tensor w = normal(out.shape(), 0.0, 1.0, gen, DType::f64);
  const std::vector<double> wv = w.to_vector<double>();
  for (const Tensor& x : inputs)
    if (x.requires_grad()) x.impl().grad = nullptr;
  out.backward(w);

  auto objective = [&]() {
    NoGrad no_grad;
    const std::vector<double> y = f(inputs).to_vector<double>();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * wv[i];
    return s;
  };

  GradcheckResult result;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const std::vector<double> analytical =
        x.grad().defined() ? x.grad().to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* base = static_cast<double*>(x.impl().storage->data());
    for (int64_t j = 0; j < x.numel(); ++j) {
      int64_t rest = j, off = x.offset();
      for (int64_t d = x.dim() - 1; d >= 0; --d) {
        off += (rest % x.shape()[d]) * x.strides()[d];
        rest /= x.shape()[d];
      }
      const double saved = base[off];
      base[off] = saved + eps;
      const double plus = objective();
      base[off] = saved - eps;
      const double minus = objective();
      base[off] = saved;
      const double numerical = (plus - minus) / (2 * eps);
      const double err = std::abs(analytical[j] - numerical);
      result.max_error = std::max(result.max_error, err);
      if (result.ok && !(err <= atol + rtol * std::abs(numerical))) {
        result.ok = false;
        result.message = detail::concat("gradcheck failed for input ", k, " (shape ", x.shape(), ") at element ",
                                        j, ": analytical ", analytical[j], " vs numerical ", numerical);
      }
    }
  }
  return result;
}

}  // namespace jepa
