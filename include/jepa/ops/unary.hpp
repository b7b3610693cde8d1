// Unary elementwise ops: neg, exp, log, sqrt, rsqrt, abs, tanh, relu, pow by a scalar, and
// tensor-scalar arithmetic (gelu has its own fused kernel: ops/gelu.hpp). Each op is one functor
// holding its forward and its derivative side by side; the backward runs as one fused pass over
// (grad, saved), where the saved tensor is the input or the output, whichever the derivative needs.
// reference: https://pytorch.org/docs/stable/torch.html#pointwise-ops
#pragma once
#include <cmath>

#include <jepa/ops/binary.hpp>

namespace jepa {

namespace detail {

enum class Saves { nothing, input, output };

struct NegOp {
  static constexpr const char* name = "neg";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::neg;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::neg_grad;
  static constexpr Saves saves = Saves::nothing;
  template <class T> JEPA_HD T forward(T x) const { return -x; }
  template <class T> JEPA_HD T backward(T g, T) const { return -g; }
};
struct ExpOp {
  static constexpr const char* name = "exp";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::exp;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::exp_grad;
  static constexpr Saves saves = Saves::output;
  template <class T> JEPA_HD T forward(T x) const { return std::exp(x); }
  template <class T> JEPA_HD T backward(T g, T y) const { return g * y; }
};
struct LogOp {
  static constexpr const char* name = "log";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::log;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::log_grad;
  static constexpr Saves saves = Saves::input;
  template <class T> JEPA_HD T forward(T x) const { return std::log(x); }
  template <class T> JEPA_HD T backward(T g, T x) const { return g / x; }
};
struct SqrtOp {
  static constexpr const char* name = "sqrt";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::sqrt;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::sqrt_grad;
  static constexpr Saves saves = Saves::output;
  template <class T> JEPA_HD T forward(T x) const { return std::sqrt(x); }
  template <class T> JEPA_HD T backward(T g, T y) const { return g / (T(2) * y); }
};
struct RsqrtOp {
  static constexpr const char* name = "rsqrt";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::rsqrt;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::rsqrt_grad;
  static constexpr Saves saves = Saves::output;
  template <class T> JEPA_HD T forward(T x) const { return T(1) / std::sqrt(x); }
  template <class T> JEPA_HD T backward(T g, T y) const { return g * T(-0.5) * y * y * y; }
};
struct AbsOp {
  static constexpr const char* name = "abs";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::abs;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::abs_grad;
  static constexpr Saves saves = Saves::input;
  template <class T> JEPA_HD T forward(T x) const { return std::abs(x); }
  template <class T> JEPA_HD T backward(T g, T x) const { return x > T(0) ? g : (x < T(0) ? -g : T(0)); }
};
struct TanhOp {
  static constexpr const char* name = "tanh";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::tanh;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::tanh_grad;
  static constexpr Saves saves = Saves::output;
  template <class T> JEPA_HD T forward(T x) const { return std::tanh(x); }
  template <class T> JEPA_HD T backward(T g, T y) const { return g * (T(1) - y * y); }
};
struct ReluOp {
  static constexpr const char* name = "relu";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::relu;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::relu_grad;
  static constexpr Saves saves = Saves::output;
  template <class T> JEPA_HD T forward(T x) const { return x > T(0) ? x : T(0); }
  template <class T> JEPA_HD T backward(T g, T y) const { return y > T(0) ? g : T(0); }
};
struct PowOp {
  static constexpr const char* name = "pow";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::pow;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::pow_grad;
  static constexpr Saves saves = Saves::input;
  double p;
  template <class T> JEPA_HD T forward(T x) const { return p == 2.0 ? x * x : std::pow(x, T(p)); }
  template <class T> JEPA_HD T backward(T g, T x) const {
    return p == 0.0 ? T(0) : (p == 2.0 ? T(2) * g * x : g * T(p) * std::pow(x, T(p - 1)));
  }
};
struct AddScalarOp {
  static constexpr const char* name = "add";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::add_scalar;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::add_scalar_grad;
  static constexpr Saves saves = Saves::nothing;
  double s;
  template <class T> JEPA_HD T forward(T x) const { return x + T(s); }
  template <class T> JEPA_HD T backward(T g, T) const { return g; }
};
struct MulScalarOp {
  static constexpr const char* name = "mul";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::mul_scalar;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::mul_scalar_grad;
  static constexpr Saves saves = Saves::nothing;
  double s;
  template <class T> JEPA_HD T forward(T x) const { return x * T(s); }
  template <class T> JEPA_HD T backward(T g, T) const { return g * T(s); }
};
struct RsubScalarOp {  // s - x
  static constexpr const char* name = "sub";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::rsub_scalar;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::rsub_scalar_grad;
  static constexpr Saves saves = Saves::nothing;
  double s;
  template <class T> JEPA_HD T forward(T x) const { return T(s) - x; }
  template <class T> JEPA_HD T backward(T g, T) const { return -g; }
};
struct RdivScalarOp {  // s / x
  static constexpr const char* name = "div";
  static constexpr gpu::Map1 gpu_forward = gpu::Map1::rdiv_scalar;
  static constexpr gpu::Map2 gpu_backward = gpu::Map2::rdiv_scalar_grad;
  static constexpr Saves saves = Saves::input;
  double s;
  template <class T> JEPA_HD T forward(T x) const { return T(s) / x; }
  template <class T> JEPA_HD T backward(T g, T x) const { return -g * T(s) / (x * x); }
};

// Adapters that run an op's forward or backward through the shared map kernels. They carry the
// op's GPU ids when it has them; an op defined outside the library without ids runs on the CPU
// only, and gpu::map1/map2 say so when it meets a GPU tensor.
template <class Op> struct ForwardId {};
template <class Op> requires requires { Op::gpu_forward; }
struct ForwardId<Op> { static constexpr gpu::Map1 gpu_map1 = Op::gpu_forward; };
template <class Op> struct BackwardId {};
template <class Op> requires requires { Op::gpu_backward; }
struct BackwardId<Op> { static constexpr gpu::Map2 gpu_map2 = Op::gpu_backward; };

template <class Op> struct ForwardFn : ForwardId<Op> {
  Op op;
  template <class T> JEPA_HD T operator()(T x) const { return op.forward(x); }
};
template <class Op> struct BackwardFn : BackwardId<Op> {
  Op op;
  template <class T> JEPA_HD T operator()(T g, T saved) const { return op.backward(g, saved); }
};

template <class Op>
Tensor unary_forward(const Tensor& x, const Op& op) {
  check_defined(Op::name, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), Op::name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(x.device(),
                   cpu::map1(x.shape(), out.data<T>(), out.strides(), x.data<T>(), x.strides(), ForwardFn<Op>{{}, op}),
                   gpu::map1(out, x, ForwardFn<Op>{{}, op}));
  });
  return out;
}

template <class Op>
struct UnaryBackward final : Node {
  Op op;
  Tensor saved;  // input, output or nothing, as Op::saves says
  explicit UnaryBackward(Op o) : op(o) {}
  const char* name() const override { return Op::name; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    return {binary_forward(Op::name, grad, saved.defined() ? saved : grad, BackwardFn<Op>{{}, op})};
  }
};

template <class Op>
Tensor unary(const Tensor& x, Op op = {}) {
  Tensor out = unary_forward(x, op);
  if (auto node = record<UnaryBackward<Op>>(out, {x}, op)) {
    if constexpr (Op::saves == Saves::input) node->saved = x.detach();
    if constexpr (Op::saves == Saves::output) node->saved = out.detach();
  }
  return out;
}

}  // namespace detail

inline Tensor neg(const Tensor& x) { return detail::unary<detail::NegOp>(x); }
inline Tensor exp(const Tensor& x) { return detail::unary<detail::ExpOp>(x); }
inline Tensor log(const Tensor& x) { return detail::unary<detail::LogOp>(x); }
inline Tensor sqrt(const Tensor& x) { return detail::unary<detail::SqrtOp>(x); }
inline Tensor rsqrt(const Tensor& x) { return detail::unary<detail::RsqrtOp>(x); }
inline Tensor abs(const Tensor& x) { return detail::unary<detail::AbsOp>(x); }
inline Tensor tanh(const Tensor& x) { return detail::unary<detail::TanhOp>(x); }
inline Tensor relu(const Tensor& x) { return detail::unary<detail::ReluOp>(x); }
inline Tensor pow(const Tensor& x, double p) { return detail::unary(x, detail::PowOp{p}); }
inline Tensor add(const Tensor& x, double s) { return detail::unary(x, detail::AddScalarOp{s}); }
inline Tensor sub(const Tensor& x, double s) { return detail::unary(x, detail::AddScalarOp{-s}); }
inline Tensor mul(const Tensor& x, double s) { return detail::unary(x, detail::MulScalarOp{s}); }
inline Tensor div(const Tensor& x, double s) { return detail::unary(x, detail::MulScalarOp{1.0 / s}); }
inline Tensor sub(double s, const Tensor& x) { return detail::unary(x, detail::RsubScalarOp{s}); }
inline Tensor div(double s, const Tensor& x) { return detail::unary(x, detail::RdivScalarOp{s}); }

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return add(x, s); }
inline Tensor operator+(double s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return sub(x, s); }
inline Tensor operator-(double s, const Tensor& x) { return sub(s, x); }
inline Tensor operator*(const Tensor& x, double s) { return mul(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return div(x, s); }
inline Tensor operator/(double s, const Tensor& x) { return div(s, x); }

}  // namespace jepa
