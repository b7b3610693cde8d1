// Binary elementwise ops with NumPy broadcasting: add, sub, mul, div (tensor-tensor), their
// tensor-scalar forms, maximum and minimum, and the comparison eq (not differentiable). Backward
// reduces each gradient back over the dims its input was broadcast along (sum_to, reduce.hpp).
// reference: https://pytorch.org/docs/stable/notes/broadcasting.html
// reference: https://pytorch.org/docs/stable/generated/torch.maximum.html
#pragma once
#include <jepa/ops/copy.hpp>

namespace jepa {

Tensor sum_to(const Tensor& t, const Shape& shape);  // reduce.hpp
Tensor neg(const Tensor& x);                         // unary.hpp

namespace detail {

struct AddFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::add;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a + b; }
};
struct SubFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::sub;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a - b; }
};
struct MulFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::mul;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a * b; }
};
struct DivFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::div;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a / b; }
};
struct EqFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::eq;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a == b ? T(1) : T(0); }
};
// A NaN operand wins, as in torch.maximum (a != a only for NaN).
struct MaxFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::maximum;
  template <class T> JEPA_HD T operator()(T a, T b) const { return (a != a || a > b) ? a : b; }
};
struct MinFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::minimum;
  template <class T> JEPA_HD T operator()(T a, T b) const { return (a != a || a < b) ? a : b; }
};
// The share of the gradient that goes to a: all when a was picked, half on a tie (torch's rule).
struct MaxShareFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::maximum_share;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a > b ? T(1) : (a == b ? T(0.5) : T(0)); }
};
struct MinShareFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::minimum_share;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a < b ? T(1) : (a == b ? T(0.5) : T(0)); }
};
struct AxpyFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::axpy;
  double alpha;
  template <class T> JEPA_HD T operator()(T a, T b) const { return a + T(alpha) * b; }
};
struct ScaleFn {
  static constexpr gpu::Map1 gpu_map1 = gpu::Map1::scale;
  double factor;
  template <class T> JEPA_HD T operator()(T a) const { return T(factor) * a; }
};
struct NegDivFn {
  static constexpr gpu::Map2 gpu_map2 = gpu::Map2::neg_div;
  template <class T> JEPA_HD T operator()(T a, T b) const { return -a / b; }
};

// out = f(a, b) broadcast, on a's device and dtype.
template <class F>
Tensor binary_forward(const char* op, const Tensor& a, const Tensor& b, F f) {
  check_defined(op, a, "first");
  check_defined(op, b, "second");
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
  const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(a.device(),
                   cpu::map2(shape, out.data<T>(), out.strides(), a.data<T>(), sa, b.data<T>(), sb, f),
                   gpu::map2(out, a, sa, b, sb, f));
  });
  return out;
}

struct AddBackward final : Node {
  Shape a_shape, b_shape;
  double b_sign;  // +1 for add, -1 for sub
  AddBackward(Shape a, Shape b, double sign) : a_shape(std::move(a)), b_shape(std::move(b)), b_sign(sign) {}
  const char* name() const override { return b_sign > 0 ? "AddBackward" : "SubBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

struct MulBackward final : Node {
  Tensor a, b;  // each saved only when the other input needs its gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "MulBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

struct DivBackward final : Node {
  Tensor b, out;  // d/da = 1/b, d/db = -out/b
  Shape a_shape, b_shape;
  const char* name() const override { return "DivBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

template <class Share>
struct ExtremumBackward final : Node {
  Tensor a, b;
  Shape a_shape, b_shape;
  const char* op;
  ExtremumBackward(const Tensor& first, const Tensor& second, const char* node_name)
      : a(first), b(second), a_shape(first.shape()), b_shape(second.shape()), op(node_name) {}
  const char* name() const override { return op; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

}  // namespace detail

inline Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("add", a, b, detail::AddFn{});
  record<detail::AddBackward>(out, {a, b}, a.shape(), b.shape(), 1.0);
  return out;
}

inline Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("sub", a, b, detail::SubFn{});
  record<detail::AddBackward>(out, {a, b}, a.shape(), b.shape(), -1.0);
  return out;
}

inline Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("mul", a, b, detail::MulFn{});
  if (auto node = record<detail::MulBackward>(out, {a, b})) {
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (node->needs_grad(0)) node->b = b.detach();
    if (node->needs_grad(1)) node->a = a.detach();
  }
  return out;
}

inline Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("div", a, b, detail::DivFn{});
  if (auto node = record<detail::DivBackward>(out, {a, b})) {
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    node->b = b.detach();
    if (node->needs_grad(1)) node->out = out.detach();
  }
  return out;
}

inline Tensor& Tensor::add_(const Tensor& other, double alpha) {
  detail::check_inplace("add_", *this);
  detail::check_same_device("add_", *this, other);
  detail::check_same_dtype("add_", *this, other);
  JEPA_CHECK(broadcast_shapes(shape(), other.shape(), "add_") == shape(), "add_", "cannot add shape ",
             other.shape(), " in place into shape ", shape());
  const Shape so = broadcast_strides(other.shape(), other.strides(), shape());
  dispatch_float(dtype(), "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(device(),
                   cpu::map2(shape(), data<T>(), strides(), data<T>(), strides(), other.data<T>(), so,
                             detail::AxpyFn{alpha}),
                   gpu::map2(*this, *this, strides(), other, so, detail::AxpyFn{alpha}));
  });
  return *this;
}

inline Tensor& Tensor::mul_(double factor) {
  detail::check_inplace("mul_", *this);
  dispatch_float(dtype(), "mul_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(device(),
                   cpu::map1(shape(), data<T>(), strides(), data<T>(), strides(), detail::ScaleFn{factor}),
                   gpu::map1(*this, *this, detail::ScaleFn{factor}));
  });
  return *this;
}

inline Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("maximum", a, b, detail::MaxFn{});
  record<detail::ExtremumBackward<detail::MaxShareFn>>(out, {a, b}, a.detach(), b.detach(), "MaximumBackward");
  return out;
}

inline Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("minimum", a, b, detail::MinFn{});
  record<detail::ExtremumBackward<detail::MinShareFn>>(out, {a, b}, a.detach(), b.detach(), "MinimumBackward");
  return out;
}

// 1 where a == b, else 0, in the inputs' dtype. Not differentiable.
inline Tensor eq(const Tensor& a, const Tensor& b) { return detail::binary_forward("eq", a, b, detail::EqFn{}); }

namespace detail {

inline std::vector<Tensor> AddBackward::backward(const Tensor& grad) {
  std::vector<Tensor> g(2);
  if (needs_grad(0)) g[0] = sum_to(grad, a_shape);
  if (needs_grad(1)) g[1] = sum_to(b_sign > 0 ? grad : neg(grad), b_shape);
  return g;
}

inline std::vector<Tensor> MulBackward::backward(const Tensor& grad) {
  std::vector<Tensor> g(2);
  if (needs_grad(0)) g[0] = sum_to(mul(grad, b), a_shape);
  if (needs_grad(1)) g[1] = sum_to(mul(grad, a), b_shape);
  return g;
}

inline std::vector<Tensor> DivBackward::backward(const Tensor& grad) {
  std::vector<Tensor> g(2);
  if (needs_grad(0)) g[0] = sum_to(div(grad, b), a_shape);
  if (needs_grad(1)) g[1] = sum_to(binary_forward("div", mul(grad, out), b, NegDivFn{}), b_shape);
  return g;
}

template <class Share>
std::vector<Tensor> ExtremumBackward<Share>::backward(const Tensor& grad) {
  std::vector<Tensor> g(2);
  if (needs_grad(0)) g[0] = sum_to(mul(grad, binary_forward(op, a, b, Share{})), a_shape);
  if (needs_grad(1)) g[1] = sum_to(mul(grad, binary_forward(op, b, a, Share{})), b_shape);
  return g;
}

}  // namespace detail
}  // namespace jepa
