// Views: tensors that share storage with their input and differ only in shape, strides and
// offset (reshape, view, flatten, permute, transpose, narrow, slice, select, expand, squeeze,
// unsqueeze). Each backward maps the gradient back to the input's geometry.
// reference: https://pytorch.org/docs/stable/tensor_view.html
#pragma once
#include <algorithm>
#include <numeric>
#include <optional>

#include <jepa/ops/copy.hpp>

namespace jepa {

namespace detail {

// Strides that let a tensor of (shape, strides) be read as `target` without copying, or an empty
// optional when its memory layout does not allow that. Walks chunks of old dims that are laid out
// contiguously with respect to each other; each chunk must map onto whole new dims.
inline std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  if (shape.numel() == 0 || shape.empty()) return contiguous_strides(target);
  Shape out(target.size());
  int64_t t = target.ndim() - 1;
  int64_t chunk_base_stride = strides.back(), chunk_numel = 1, mapped_numel = 1;
  for (int64_t d = shape.ndim() - 1; d >= 0; --d) {
    chunk_numel *= shape[d];
    const bool chunk_ends =
        d == 0 || (shape[d - 1] != 1 && strides[d - 1] != chunk_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (t >= 0 && (mapped_numel < chunk_numel || target[t] == 1)) {
      out[t] = mapped_numel * chunk_base_stride;
      mapped_numel *= target[t];
      --t;
    }
    if (mapped_numel != chunk_numel) return std::nullopt;
    if (d > 0) {
      chunk_base_stride = strides[d - 1];
      chunk_numel = 1;
      mapped_numel = 1;
    }
  }
  if (t != -1) return std::nullopt;
  return out;
}

// Resolves a single -1 in a requested shape against numel.
inline Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (int64_t i = 0; i < out.ndim(); ++i) {
    if (out[i] == -1) {
      JEPA_CHECK(infer_at < 0, op, "only one dim can be -1, got ", requested);
      infer_at = i;
    } else {
      JEPA_CHECK(out[i] >= 0, op, "invalid size in shape ", requested);
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    JEPA_CHECK(known != 0 && numel % known == 0, op, "shape ", requested, " is invalid for input of shape ", from);
    out[infer_at] = numel / known;
  }
  JEPA_CHECK(out.numel() == numel, op, "shape ", requested, " is invalid for input of shape ", from, " (",
             numel, " elements)");
  return out;
}

struct ReshapeBackward final : Node {
  Shape input_shape;
  explicit ReshapeBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.reshape(input_shape)}; }
};

struct PermuteBackward final : Node {
  Shape inverse;
  explicit PermuteBackward(Shape inv) : inverse(std::move(inv)) {}
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.permute(inverse)}; }
};

// narrow, slice and select: the gradient is zero outside the viewed window.
struct SliceBackward final : Node {
  Shape input_shape;
  int64_t dim, start, end, step;
  bool keep_dim;  // false for select, which removes `dim`
  SliceBackward(Shape s, int64_t d, int64_t b, int64_t e, int64_t st, bool keep)
      : input_shape(std::move(s)), dim(d), start(b), end(e), step(st), keep_dim(keep) {}
  const char* name() const override { return "SliceBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = Tensor::empty(input_shape, grad.dtype(), grad.device());
    g.zero_();
    Tensor window = g.slice(dim, start, end, step);
    window.copy_(keep_dim ? grad : grad.unsqueeze(dim));
    return {g};
  }
};

struct ExpandBackward final : Node {
  Shape input_shape;
  explicit ExpandBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;  // reduce.hpp: sum_to
};

inline Tensor make_view(const Tensor& in, const Shape& shape, const Shape& strides, int64_t offset) {
  return in.view_as_strided(shape, strides, offset);
}

}  // namespace detail

inline Tensor Tensor::view(const Shape& requested) const {
  const Shape target = detail::infer_shape(requested, numel(), "view", shape());
  auto strides_for = detail::view_strides(shape(), strides(), target);
  JEPA_CHECK(strides_for.has_value(), "view", "cannot view a tensor of shape ", shape(), " and strides ",
             strides(), " as ", target, " without copying; use reshape (or contiguous() first)");
  Tensor out = detail::make_view(*this, target, *strides_for, offset());
  record<detail::ReshapeBackward>(out, {*this}, shape());
  return out;
}

inline Tensor Tensor::reshape(const Shape& requested) const {
  const Shape target = detail::infer_shape(requested, numel(), "reshape", shape());
  if (auto s = detail::view_strides(shape(), strides(), target)) {
    Tensor out = detail::make_view(*this, target, *s, offset());
    record<detail::ReshapeBackward>(out, {*this}, shape());
    return out;
  }
  return contiguous().view(target);
}

inline Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = normalize_dim(start, dim(), "flatten");
  end = normalize_dim(end, dim(), "flatten");
  JEPA_CHECK(start <= end, "flatten", "start dim ", start, " is after end dim ", end);
  Shape target(shape().begin(), shape().begin() + start);
  int64_t n = 1;
  for (int64_t d = start; d <= end; ++d) n *= shape()[d];
  target.push_back(n);
  target.insert(target.end(), shape().begin() + end + 1, shape().end());
  return reshape(target);
}

inline Tensor Tensor::permute(const Shape& dims) const {
  JEPA_CHECK(dims.ndim() == dim(), "permute", "got ", dims.ndim(), " dims ", dims, " for a tensor of shape ",
             shape());
  Shape new_shape(dims.size()), new_strides(dims.size()), inverse(dims.size(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    const int64_t d = normalize_dim(dims[i], dim(), "permute");
    JEPA_CHECK(inverse[d] < 0, "permute", "dim ", d, " repeated in ", dims);
    inverse[d] = i;
    new_shape[i] = shape()[d];
    new_strides[i] = strides()[d];
  }
  Tensor out = detail::make_view(*this, new_shape, new_strides, offset());
  record<detail::PermuteBackward>(out, {*this}, inverse);
  return out;
}

inline Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Shape dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_dim(d0, dim(), "transpose")], dims[normalize_dim(d1, dim(), "transpose")]);
  return permute(dims);
}

inline Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  JEPA_CHECK(step > 0, "slice", "step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape new_shape = shape(), new_strides = strides();
  new_shape[d] = (end - start + step - 1) / step;
  new_strides[d] *= step;
  Tensor out = detail::make_view(*this, new_shape, new_strides, offset() + start * strides()[d]);
  record<detail::SliceBackward>(out, {*this}, shape(), d, start, end, step, true);
  return out;
}

inline Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = normalize_dim(d, dim(), "narrow");
  JEPA_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow", "range [", start, ", ",
             start + length, ") is out of bounds for dim ", d, " of shape ", shape());
  return slice(d, start, start + length);
}

inline Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  const int64_t n = shape()[d];
  JEPA_CHECK(index >= -n && index < n, "select", "index ", index, " is out of range for dim ", d, " of shape ",
             shape());
  if (index < 0) index += n;
  Shape new_shape = shape(), new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  Tensor out = detail::make_view(*this, new_shape, new_strides, offset() + index * strides()[d]);
  record<detail::SliceBackward>(out, {*this}, shape(), d, index, index + 1, 1, false);
  return out;
}

inline Tensor Tensor::expand(const Shape& target_in) const {
  JEPA_CHECK(target_in.ndim() >= dim(), "expand", "cannot expand shape ", shape(), " to fewer dims ", target_in);
  Shape target = target_in;
  const int64_t lead = target.ndim() - dim();
  for (int64_t i = 0; i < dim(); ++i) {
    if (target[lead + i] == -1) target[lead + i] = shape()[i];
    JEPA_CHECK(shape()[i] == 1 || shape()[i] == target[lead + i], "expand", "cannot expand shape ", shape(),
               " to ", target_in, " (dim ", i, ")");
  }
  Tensor out = detail::make_view(*this, target, broadcast_strides(shape(), strides(), target), offset());
  record<detail::ExpandBackward>(out, {*this}, shape());
  return out;
}

inline Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape();
  s.erase(s.begin() + d);
  return reshape(s);
}

inline Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return reshape(s);
}

}  // namespace jepa
