// gather (torch.gather semantics) and index_select along a dim; their backward is scatter_add
// into zeros. JEPA's apply_masks is gather along the token dim with an index expanded over
// features, which the CPU kernel copies row by row.
// reference: https://pytorch.org/docs/stable/generated/torch.gather.html
#pragma once
#include <jepa/backends/cpu/index.hpp>
#include <jepa/ops/creation.hpp>
#include <jepa/ops/view.hpp>

namespace jepa {

namespace detail {

inline Shape strides_without(const Shape& strides, int64_t dim) {
  Shape s = strides;
  s[dim] = 0;
  return s;
}

struct GatherBackward final : Node {
  Tensor index;
  Shape input_shape;
  int64_t dim;
  GatherBackward(Tensor i, Shape s, int64_t d) : index(std::move(i)), input_shape(std::move(s)), dim(d) {}
  const char* name() const override { return "GatherBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor dx = zeros(input_shape, grad.dtype(), grad.device());
    int64_t split_dim = -1;
    for (int64_t d = 0; d < index.dim() && split_dim < 0; ++d)
      if (d != dim && index.size(d) > 1) split_dim = d;
    dispatch_float(grad.dtype(), "gather", [&](auto tag) {
      using T = typename decltype(tag)::type;
      JEPA_ON_DEVICE(grad.device(),
                     cpu::scatter_add(index.shape(), split_dim, grad.data<T>(), grad.strides(), index.data<int64_t>(),
                                      index.strides(), dx.data<T>(), strides_without(dx.strides(), dim),
                                      dx.strides()[dim]),
                     gpu::scatter_add(index, grad, dx, dim));
    });
    return {dx};
  }
};

}  // namespace detail

// out[p] = x[p with coordinate `dim` replaced by index[p]]; index is i64 with x's rank and
// index.size(d) <= x.size(d) for d != dim.
inline Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  constexpr const char* op = "gather";
  detail::check_defined(op, x);
  detail::check_defined(op, index, "index");
  detail::check_same_device(op, x, index);
  JEPA_CHECK(index.dtype() == DType::i64, op, "index must have dtype i64, got ", index.dtype());
  JEPA_CHECK(index.dim() == x.dim(), op, "index of shape ", index.shape(), " must have the same rank as input of shape ",
             x.shape());
  dim = normalize_dim(dim, x.dim(), op);
  for (int64_t d = 0; d < x.dim(); ++d)
    JEPA_CHECK(d == dim || index.size(d) <= x.size(d), op, "index of shape ", index.shape(),
               " is larger than input of shape ", x.shape(), " at dim ", d);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(x.device(),
                   ([&] {
                     const auto bad = cpu::gather(index.shape(), out.data<T>(), out.strides(), index.data<int64_t>(),
                                                     index.strides(), x.data<T>(),
                                                     detail::strides_without(x.strides(), dim), x.stride(dim), x.size(dim));
                     JEPA_CHECK(!bad, op, "index ", bad.value_or(0), " is out of bounds for dim ", dim,
                                " with size ", x.size(dim));
                   }()),
                   gpu::gather(x, index, out, dim));
  });
  record<detail::GatherBackward>(out, {x}, index.detach(), x.shape(), dim);
  return out;
}

// Selects entries index[0..K) along dim: out has x's shape with size K at dim; index is 1-D i64.
inline Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  constexpr const char* op = "index_select";
  detail::check_defined(op, x);
  detail::check_defined(op, index, "index");
  JEPA_CHECK(index.dim() == 1, op, "index must be 1-D, got shape ", index.shape());
  dim = normalize_dim(dim, x.dim(), op);
  Shape shape = x.shape(), strides(x.dim(), 0);
  shape[dim] = index.size(0);
  strides[dim] = index.stride(0);
  return gather(x, dim, index.view_as_strided(shape, strides, index.offset()));
}

}  // namespace jepa
