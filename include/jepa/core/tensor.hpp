// Tensor: a cheap handle to (shared storage, shape, strides, offset, dtype, device, autograd slot).
// Copies of a Tensor share one TensorImpl (like PyTorch's Python objects); views share storage but
// not the impl. Member functions that compute live with their op family under include/jepa/ops/
// and are defined there; include <jepa/jepa.hpp> to get all of them.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <jepa/core/allocator.hpp>
#include <jepa/core/device.hpp>
#include <jepa/core/dtype.hpp>
#include <jepa/core/error.hpp>
#include <jepa/core/shape.hpp>

namespace jepa {

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements, from storage->data()
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;           // the op that made this tensor (non-leaves only)
  std::shared_ptr<Node> grad_accumulator;  // leaves that require grad: deposits into `grad`
  std::shared_ptr<TensorImpl> grad;        // accumulated gradient of a leaf
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new dense tensor with uninitialised contents.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu()) {
    for (int64_t d : shape)
      JEPA_CHECK(d >= 0, "empty", "negative size in shape ", shape);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * itemsize(dtype), device);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
  }

  // A view of this tensor's storage with another geometry (no autograd link; ops add it).
  Tensor view_as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = this->impl().storage;
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    impl->dtype = this->impl().dtype;
    return Tensor(std::move(impl));
  }

  bool defined() const { return impl_ != nullptr; }
  TensorImpl& impl() const {
    if (!impl_) fail("tensor", "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // Geometry
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return impl().shape.ndim(); }
  int64_t numel() const { return impl().shape.numel(); }
  int64_t size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
  int64_t stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const {
    const Shape& s = shape();
    int64_t expected = 1;
    for (int64_t i = s.ndim() - 1; i >= 0; --i) {
      if (s[i] != 1 && strides()[i] != expected) return false;
      expected *= s[i];
    }
    return true;
  }

  // Raw data at this tensor's offset. The dtype must match T.
  template <class T>
  T* data() const {
    JEPA_CHECK(dtype() == dtype_v<T>, "data", "tensor has dtype ", dtype(), ", accessed as ", dtype_v<T>);
    return static_cast<T*>(impl().storage->data()) + offset();
  }
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data()) + offset() * static_cast<int64_t>(itemsize(dtype()));
  }

  // Element access for tests and printing (copies to the host when needed).
  template <class T = double>
  std::vector<T> to_vector() const;       // all elements in row-major order, converted to T
  double item() const;                    // the only element of a one-element tensor
  double at(std::initializer_list<int64_t> index) const;

  // Conversions and copies (ops/copy.hpp)
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor& copy_(const Tensor& src);  // in place, broadcasting src; no autograd
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other (ops/binary.hpp)
  Tensor& mul_(double factor);                            // this *= factor

  // Views sharing storage (ops/view.hpp); all differentiable.
  Tensor reshape(const Shape& shape) const;   // a view when the strides allow, else a copy
  Tensor view(const Shape& shape) const;      // always a view; throws when the strides do not allow
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;

  // Autograd (autograd/engine.hpp)
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g) const;  // installs a gradient buffer (e.g. a view of a flat buffer)
  void zero_grad() const;           // fills the gradient buffer with zeros, keeping it
  void backward(const Tensor& grad = Tensor()) const;
  Tensor detach() const;            // same storage, no autograd history

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace jepa
