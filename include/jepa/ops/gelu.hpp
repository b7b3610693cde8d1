// gelu(x) = x Phi(x) (PyTorch's exact erf form, approximate='none') and bias_gelu(x, bias) =
// gelu(x + bias), bias over the last dim: a Linear without bias followed by bias_gelu is the ViT
// MLP's fc1 -> GELU with the bias folded into the activation pass. On the CPU, one pass forward and
// one backward pass that also reduces the bias gradient (backends/jepa/backends/cpu/gelu.hpp). GPU
// tensors go through the shared elementwise kernels with the functors below. The node saves the
// pre-bias input and the bias.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.gelu.html
#pragma once
#include <cmath>

#include <jepa/backends/cpu/gelu.hpp>
#include <jepa/ops/reduce.hpp>

namespace jepa {

namespace detail {

// The formulas, per element, for GPU kernels and as the tests' scalar reference.
struct GeluFn {
  static constexpr gpu::Map1 gpu_map1 = gpu::Map1::gelu;        // gelu(x)
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::bias_gelu;   // gelu(x + bias)
  template <class T> JEPA_HD static T cdf(T h) { return T(0.5) * (T(1) + std::erf(h * T(M_SQRT1_2))); }
  template <class T> JEPA_HD static T derivative(T h) {
    return cdf(h) + h * T(0.5 * M_2_SQRTPI * M_SQRT1_2) * std::exp(T(-0.5) * h * h);
  }
  template <class T> JEPA_HD T operator()(T x) const { return x * cdf(x); }
  template <class T> JEPA_HD T operator()(T x, T bias) const { return (*this)(x + bias); }
};
struct GeluGradFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::gelu_grad;
  static constexpr gpu::Map3 gpu_map3 = gpu::Map3::bias_gelu_grad;
  template <class T> JEPA_HD T operator()(T g, T x) const { return g * GeluFn::derivative(x); }
  template <class T> JEPA_HD T operator()(T g, T x, T bias) const { return g * GeluFn::derivative(x + bias); }
};

struct BiasGeluBackward final : Node {
  Tensor input, bias;  // input dense (rows, D); bias (D) or undefined
  int64_t rows, D;
  const char* name() const override { return bias.defined() ? "BiasGeluBackward" : "GeluBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = grad.contiguous();
    Tensor dx = Tensor::empty(input.shape(), input.dtype(), input.device());
    Tensor dbias = needs_grad(1) ? Tensor::empty({D}, input.dtype(), input.device()) : Tensor();
    dispatch_float(input.dtype(), name(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      JEPA_ON_DEVICE(input.device(),
                     cpu::bias_gelu_backward(g.data<T>(), input.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                                             dx.data<T>(), dbias.defined() ? dbias.data<T>() : nullptr, rows, D),
                     ([&] {
                       if (bias.defined()) gpu::map3(dx, g, input, bias, GeluGradFn{});
                       else gpu::map2(dx, g, g.strides(), input, input.strides(), GeluGradFn{});
                       if (dbias.defined()) dbias = sum_to(dx, bias.shape());
                     }()));
    });
    return {dx, dbias};
  }
};

}  // namespace detail

// x (..., D), bias (D) or undefined -> gelu(x + bias), same shape as x.
inline Tensor bias_gelu(const Tensor& x, const Tensor& bias) {
  const char* op = bias.defined() ? "bias_gelu" : "gelu";
  detail::check_defined(op, x);
  if (bias.defined()) {
    detail::check_same_dtype(op, x, bias);
    detail::check_same_device(op, x, bias);
    JEPA_CHECK(x.dim() >= 1 && bias.dim() == 1 && bias.size(0) == x.size(-1), op, "bias of shape ", bias.shape(),
               " does not match the last dim of input shape ", x.shape());
  }
  Tensor src = x.contiguous();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  const int64_t D = b.defined() ? b.numel() : x.numel(), rows = D ? x.numel() / D : 0;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(x.device(),
                   cpu::bias_gelu_forward(src.data<T>(), b.defined() ? b.data<T>() : nullptr, out.data<T>(), rows, D),
                   ([&] {
                     if (b.defined())
                       gpu::map2(out, src, src.strides(), b, broadcast_strides(b.shape(), b.strides(), x.shape()),
                                 detail::GeluFn{});
                     else gpu::map1(out, src, detail::GeluFn{});
                   }()));
  });
  if (auto node = record<detail::BiasGeluBackward>(out, {x, bias})) {
    node->input = src.detach();
    node->bias = b.defined() ? b.detach() : Tensor();
    node->rows = rows;
    node->D = D;
  }
  return out;
}

inline Tensor gelu(const Tensor& x) { return bias_gelu(x, Tensor()); }

}  // namespace jepa
