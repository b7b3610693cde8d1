// softmax and log_softmax along any dim. The node saves only the output, from which both
// backward formulas follow (see backends/jepa/backends/cpu/softmax.hpp).
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.softmax.html
#pragma once
#include <jepa/backends/cpu/softmax.hpp>
#include <jepa/ops/view.hpp>

namespace jepa {

namespace detail {

// Splits a dense tensor's shape around `dim` into (outer, n, inner).
inline std::array<int64_t, 3> split_around(const Shape& shape, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (int64_t d = dim + 1; d < shape.ndim(); ++d) inner *= shape[d];
  return {outer, shape.empty() ? 1 : shape[dim], inner};
}

inline Tensor softmax_kernel(const Tensor& x, int64_t dim, bool log, const char* op) {
  Tensor src = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const std::array<int64_t, 3> split = split_around(x.shape(), dim);  // no structured binding: lambdas capture it
  const int64_t outer = split[0], n = split[1], inner = split[2];
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(x.device(), cpu::softmax_forward(src.data<T>(), out.data<T>(), outer, n, inner, log),
                   gpu::softmax_forward(src, out, outer, n, inner, log));
  });
  return out;
}

struct SoftmaxBackward final : Node {
  Tensor out;
  int64_t dim;
  bool log;
  SoftmaxBackward(int64_t d, bool l) : dim(d), log(l) {}
  const char* name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = grad.contiguous();
    Tensor dx = Tensor::empty(out.shape(), out.dtype(), out.device());
    const std::array<int64_t, 3> split = split_around(out.shape(), dim);
    const int64_t outer = split[0], n = split[1], inner = split[2];
    dispatch_float(out.dtype(), name(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      JEPA_ON_DEVICE(out.device(),
                     cpu::softmax_backward(g.data<T>(), out.data<T>(), dx.data<T>(), outer, n, inner, log),
                     gpu::softmax_backward(g, out, dx, outer, n, inner, log));
    });
    return {dx};
  }
};

inline Tensor softmax_op(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_defined(op, x);
  dim = x.dim() == 0 ? 0 : normalize_dim(dim, x.dim(), op);
  Tensor out = softmax_kernel(x, dim, log, op);
  if (auto node = record<SoftmaxBackward>(out, {x}, dim, log)) node->out = out.detach();
  return out;
}

}  // namespace detail

inline Tensor softmax(const Tensor& x, int64_t dim) { return detail::softmax_op(x, dim, false); }
inline Tensor log_softmax(const Tensor& x, int64_t dim) { return detail::softmax_op(x, dim, true); }

}  // namespace jepa
