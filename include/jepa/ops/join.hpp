// Joining and splitting: cat, stack, split, repeat. cat copies each input into its window of the
// output; its backward hands each input the matching window of the gradient (a view). split
// returns views (narrow); repeat is expand + reshape, so autograd composes its backward.
// reference: https://pytorch.org/docs/stable/generated/torch.cat.html
#pragma once
#include <jepa/ops/view.hpp>

namespace jepa {

namespace detail {

struct CatBackward final : Node {
  int64_t dim;
  std::vector<int64_t> sizes;  // each input's extent along dim
  CatBackward(int64_t d, std::vector<int64_t> s) : dim(d), sizes(std::move(s)) {}
  const char* name() const override { return "CatBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    std::vector<Tensor> g(sizes.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs_grad(i)) g[i] = grad.narrow(dim, start, sizes[i]);
      start += sizes[i];
    }
    return g;
  }
};

}  // namespace detail

inline Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0) {
  constexpr const char* op = "cat";
  JEPA_CHECK(!tensors.empty(), op, "expected a non-empty list of tensors");
  const Tensor& first = tensors.front();
  detail::check_defined(op, first);
  dim = normalize_dim(dim, first.dim(), op);
  Shape shape = first.shape();
  shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_defined(op, t);
    detail::check_same_dtype(op, first, t);
    detail::check_same_device(op, first, t);
    bool match = t.dim() == first.dim();
    for (int64_t d = 0; match && d < t.dim(); ++d) match = d == dim || t.size(d) == first.size(d);
    JEPA_CHECK(match, op, "tensor ", i, " has shape ", t.shape(), ", which does not match shape ", first.shape(),
               " outside dim ", dim);
    sizes.push_back(t.size(dim));
    shape[dim] += t.size(dim);
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    Shape window_shape = shape;
    window_shape[dim] = t.size(dim);
    Tensor window = out.view_as_strided(window_shape, out.strides(), start * out.strides()[dim]);
    detail::copy_elements(window, t, op);
    start += t.size(dim);
  }
  record<detail::CatBackward>(out, tensors, dim, sizes);
  return out;
}

inline Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0) {
  JEPA_CHECK(!tensors.empty(), "stack", "expected a non-empty list of tensors");
  for (size_t i = 1; i < tensors.size(); ++i)
    JEPA_CHECK(tensors[i].shape() == tensors[0].shape(), "stack", "tensor ", i, " has shape ", tensors[i].shape(),
               ", expected ", tensors[0].shape());
  dim = normalize_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(dim));
  return cat(expanded, dim);
}

// Consecutive views of `sizes[i]` elements along dim; the sizes must add up to the dim's size.
inline std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0) {
  dim = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  JEPA_CHECK(total == x.size(dim), "split", "sizes add up to ", total, " but dim ", dim, " of shape ", x.shape(),
             " has size ", x.size(dim));
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(x.narrow(dim, start, s));
    start += s;
  }
  return parts;
}

// Chunks of `chunk` elements along dim (the last may be smaller), as torch.split with an int.
inline std::vector<Tensor> split(const Tensor& x, int64_t chunk, int64_t dim = 0) {
  JEPA_CHECK(chunk > 0, "split", "chunk size must be positive, got ", chunk);
  const int64_t n = x.size(dim);
  std::vector<int64_t> sizes;
  for (int64_t s = 0; s < n; s += chunk) sizes.push_back(std::min(chunk, n - s));
  return split(x, sizes, dim);
}

// Tiles x: repeats[i] copies along dim i (leading extra repeats add dims), as torch.Tensor.repeat.
inline Tensor repeat(const Tensor& x, const Shape& repeats) {
  JEPA_CHECK(repeats.ndim() >= x.dim(), "repeat", "got ", repeats.ndim(), " repeats ", repeats,
             " for a tensor of rank ", x.dim());
  const int64_t lead = repeats.ndim() - x.dim();
  Shape interleaved, expanded, result;
  for (int64_t i = 0; i < repeats.ndim(); ++i) {
    JEPA_CHECK(repeats[i] >= 0, "repeat", "negative repeat in ", repeats);
    const int64_t size = i < lead ? 1 : x.size(i - lead);
    interleaved.insert(interleaved.end(), {1, size});
    expanded.insert(expanded.end(), {repeats[i], size});
    result.push_back(repeats[i] * size);
  }
  return x.reshape(interleaved).expand(expanded).reshape(result);
}

}  // namespace jepa
