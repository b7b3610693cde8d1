// layer_norm over the trailing dims given by normalized_shape, with optional affine weight and
// bias. One fused kernel each way; the node saves the input and the per-row mean and rstd.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.layer_norm.html
#pragma once
#include <jepa/backends/cpu/layernorm.hpp>
#include <jepa/ops/view.hpp>

namespace jepa {

namespace detail {

struct LayerNormBackward final : Node {
  Tensor input, weight, mean, rstd;  // input dense (rows, D); weight may be undefined
  Shape normalized_shape;            // of weight and bias; D elements
  int64_t rows, D;
  const char* name() const override { return "LayerNormBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = grad.contiguous();
    std::vector<Tensor> out(3);
    if (needs_grad(0)) out[0] = Tensor::empty(input.shape(), input.dtype(), input.device());
    if (needs_grad(1)) out[1] = Tensor::empty(weight.shape(), input.dtype(), input.device());
    if (needs_grad(2)) out[2] = Tensor::empty(normalized_shape, input.dtype(), input.device());
    dispatch_float(input.dtype(), "layer_norm", [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
      JEPA_ON_DEVICE(input.device(),
                     cpu::layernorm_backward(g.data<T>(), input.data<T>(), ptr(weight), mean.data<T>(), rstd.data<T>(),
                                             ptr(out[0]), ptr(out[1]), ptr(out[2]), rows, D),
                     gpu::layernorm_backward(g, input, weight, mean, rstd, out[0], out[1], out[2], rows, D));
    });
    return out;
  }
};

}  // namespace detail

// Normalizes over the last normalized_shape.size() dims (which must equal normalized_shape).
inline Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                         const Tensor& bias = Tensor(), double eps = 1e-5) {
  constexpr const char* op = "layer_norm";
  detail::check_defined(op, x);
  const int64_t k = normalized_shape.ndim();
  JEPA_CHECK(k >= 1 && k <= x.dim() && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape, op,
             "normalized_shape ", normalized_shape, " does not match the trailing dims of input shape ", x.shape());
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    JEPA_CHECK(p->shape() == normalized_shape, op, (p == &weight ? "weight" : "bias"), " has shape ", p->shape(),
               ", expected ", normalized_shape);
    detail::check_same_dtype(op, x, *p);
    detail::check_same_device(op, x, *p);
  }
  const int64_t D = normalized_shape.numel(), rows = D ? x.numel() / D : 0;
  Tensor src = x.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor(), b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({rows}, x.dtype(), x.device()), rstd = Tensor::empty({rows}, x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    JEPA_ON_DEVICE(x.device(),
                   cpu::layernorm_forward(src.data<T>(), ptr(w), ptr(b), y.data<T>(), mean.data<T>(), rstd.data<T>(),
                                          rows, D, eps),
                   gpu::layernorm_forward(src, w, b, y, mean, rstd, rows, D, eps));
  });
  if (auto node = record<detail::LayerNormBackward>(y, {x, weight, bias})) {
    node->input = src.detach();
    node->weight = w.defined() ? w.detach() : Tensor();
    node->mean = mean;
    node->rstd = rstd;
    node->normalized_shape = normalized_shape;
    node->rows = rows;
    node->D = D;
  }
  return y;
}

}  // namespace jepa
