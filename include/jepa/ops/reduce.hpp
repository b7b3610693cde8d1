// Reductions over any set of dims, with keepdim: sum, mean, max (values, torch.amax semantics:
// the gradient is shared equally among tied maxima), argmax (not differentiable), and sum_to,
// which undoes broadcasting in backward passes.
// reference: https://pytorch.org/docs/stable/generated/torch.amax.html
#pragma once
#include <algorithm>
#include <numeric>

#include <jepa/backends/cpu/reduce.hpp>
#include <jepa/ops/unary.hpp>
#include <jepa/ops/view.hpp>

namespace jepa {

namespace detail {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape keep_shape;           // input shape with reduced dims set to 1
  Shape out_shape;            // what the op returns (keepdim or not)
  int64_t count = 1;          // elements reduced into each output
};

inline ReducePlan plan_reduction(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  ReducePlan p;
  p.reduced.assign(x.dim(), dims.empty());  // no dims: reduce all
  for (int64_t d : dims) {
    const int64_t n = normalize_dim(d, x.dim(), op);
    JEPA_CHECK(x.dim() == 0 || !p.reduced[n], op, "dim ", n, " repeated in ", dims);
    if (x.dim() > 0) p.reduced[n] = true;
  }
  for (int64_t d = 0; d < x.dim(); ++d) {
    p.keep_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
    if (p.reduced[d]) p.count *= x.shape()[d];
    if (!p.reduced[d] || keepdim) p.out_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
  }
  return p;
}

// Runs the (outer, reduced, inner) kernel: directly when x is dense and its reduced dims are one
// block, otherwise on a copy with the reduced dims moved last.
inline Tensor reduce_forward(const Tensor& x, const ReducePlan& p, cpu::ReduceKind kind, double scale,
                             const char* op) {
  Tensor src = x;
  int64_t first = -1, last = -1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (p.reduced[d] && x.shape()[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  bool block = true;
  for (int64_t d = first; d >= 0 && d <= last; ++d) block = block && (p.reduced[d] || x.shape()[d] == 1);
  if (!block || !x.is_contiguous()) {
    Shape order;
    for (int64_t d = 0; d < x.dim(); ++d) if (!p.reduced[d]) order.push_back(d);
    for (int64_t d = 0; d < x.dim(); ++d) if (p.reduced[d]) order.push_back(d);
    NoGrad no_grad;
    src = x.permute(order).contiguous();
    first = x.dim() - static_cast<int64_t>(std::count(p.reduced.begin(), p.reduced.end(), true));
    last = x.dim() - 1;
  }
  int64_t O = 1, R = p.count, I = 1;
  if (first >= 0) {
    for (int64_t d = 0; d < first; ++d) O *= src.shape()[d];
    for (int64_t d = last + 1; d < src.dim(); ++d) I *= src.shape()[d];
  } else {
    O = x.numel();
  }
  Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
  if (R == 0) {
    JEPA_CHECK(kind == cpu::ReduceKind::sum, op, "cannot reduce over an empty dim of shape ", x.shape());
    return out.fill_(scale == 1.0 ? 0.0 : std::nan(""));
  }
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(x.device(), cpu::reduce_ori(src.data<T>(), out.data<T>(), O, R, I, kind, scale),
                   gpu::reduce_ori(src, out, O, R, I, kind, scale));
  });
  return out;
}

struct SumBackward final : Node {
  Shape input_shape, keep_shape;
  double scale;  // 1 for sum, 1/count for mean
  SumBackward(Shape in, Shape keep, double s) : input_shape(std::move(in)), keep_shape(std::move(keep)), scale(s) {}
  const char* name() const override { return scale == 1.0 ? "SumBackward" : "MeanBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = grad.reshape(keep_shape);
    if (scale != 1.0) g = mul(g, scale);
    return {g.expand(input_shape)};
  }
};

struct MaxBackward final : Node {
  Tensor input, result;  // result has keep_shape
  Shape keep_shape;
  Shape dims;
  const char* name() const override { return "MaxBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

}  // namespace detail

inline Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false) {
  detail::check_defined("sum", x);
  const auto plan = detail::plan_reduction(x, dims, keepdim, "sum");
  Tensor out = detail::reduce_forward(x, plan, cpu::ReduceKind::sum, 1.0, "sum");
  record<detail::SumBackward>(out, {x}, x.shape(), plan.keep_shape, 1.0);
  return out;
}

inline Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false) {
  detail::check_defined("mean", x);
  const auto plan = detail::plan_reduction(x, dims, keepdim, "mean");
  const double scale = 1.0 / static_cast<double>(plan.count);
  Tensor out = detail::reduce_forward(x, plan, cpu::ReduceKind::sum, scale, "mean");
  record<detail::SumBackward>(out, {x}, x.shape(), plan.keep_shape, scale);
  return out;
}

inline Tensor max(const Tensor& x, const Shape& dims = {}, bool keepdim = false) {
  detail::check_defined("max", x);
  const auto plan = detail::plan_reduction(x, dims, keepdim, "max");
  Tensor out = detail::reduce_forward(x, plan, cpu::ReduceKind::max, 1.0, "max");
  if (auto node = record<detail::MaxBackward>(out, {x})) {
    node->input = x.detach();
    node->result = out.detach().reshape(plan.keep_shape);
    node->keep_shape = plan.keep_shape;
    for (int64_t d = 0; d < x.dim(); ++d) if (plan.reduced[d]) node->dims.push_back(d);
  }
  return out;
}

// Sums `t` over the dims along which `shape` was broadcast to t's shape.
inline Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const int64_t lead = t.dim() - shape.ndim();
  JEPA_CHECK(lead >= 0, "sum_to", "cannot reduce shape ", t.shape(), " to ", shape);
  Shape dims;
  for (int64_t d = 0; d < t.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && t.shape()[d] != 1)) dims.push_back(d);
  return (dims.empty() ? t : sum(t, dims, true)).reshape(shape);
}

namespace detail {

inline std::vector<Tensor> MaxBackward::backward(const Tensor& grad) {
  Tensor is_max = eq(input, result);  // ties share the gradient equally
  Tensor count = sum(is_max, dims, true);
  return {mul(is_max, div(grad.reshape(keep_shape), count))};
}

inline std::vector<Tensor> ExpandBackward::backward(const Tensor& grad) { return {sum_to(grad, input_shape)}; }

}  // namespace detail

// Index of the largest value along `dim` (first one on ties), as i64. Not differentiable.
inline Tensor argmax(const Tensor& x, int64_t dim) {
  dim = normalize_dim(dim, x.dim(), "argmax");
  JEPA_CHECK(x.dim() == 0 || x.shape()[dim] > 0, "argmax", "cannot take argmax over an empty dim of shape ",
             x.shape());
  Shape order, out_shape;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim) {
      order.push_back(d);
      out_shape.push_back(x.shape()[d]);
    }
  if (x.dim() > 0) order.push_back(dim);
  const int64_t n = x.dim() > 0 ? x.shape()[dim] : 1;
  const std::vector<double> v = x.detach().permute(order).to_vector<double>();
  Tensor out = Tensor::empty(out_shape, DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t r = 0; r < out.numel(); ++r)
    o[r] = std::max_element(v.begin() + r * n, v.begin() + (r + 1) * n) - (v.begin() + r * n);
  return out.to(x.device());
}

}  // namespace jepa
