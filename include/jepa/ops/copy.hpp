// Copies and conversions: contiguous, clone, to(dtype), to(device), copy_, fill_, and element
// access for tests. Gradients pass through copies unchanged (converted back to the source dtype
// or device where the copy changed them).
#pragma once
#include <vector>

#include <jepa/ops/common.hpp>

namespace jepa {

namespace detail {

// dst[i] = convert(src[i]) over dst's shape; src is broadcast to it. Same device.
inline void copy_elements(const Tensor& dst, const Tensor& src, const char* op) {
  check_same_device(op, dst, src);
  const Shape src_strides = broadcast_strides(src.shape(), src.strides(), dst.shape());
  JEPA_ON_DEVICE(dst.device(),
                 dispatch_all(dst.dtype(), [&](auto to) {
                   using To = typename decltype(to)::type;
                   dispatch_all(src.dtype(), [&](auto from) {
                     using From = typename decltype(from)::type;
                     cpu::map1(dst.shape(), static_cast<To*>(dst.raw_data()), dst.strides(),
                               static_cast<const From*>(src.raw_data()), src_strides,
                               [](From v) { return convert<To>(v); });
                   });
                 }),
                 gpu::copy_elements(dst, src, src_strides));
}

struct PassThroughBackward final : Node {
  const char* name() const override { return "CopyBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad}; }
};

struct ToDTypeBackward final : Node {
  DType source;
  explicit ToDTypeBackward(DType s) : source(s) {}
  const char* name() const override { return "ToDTypeBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.to(source)}; }
};

struct ToDeviceBackward final : Node {
  Device source;
  explicit ToDeviceBackward(Device s) : source(s) {}
  const char* name() const override { return "ToDeviceBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.to(source)}; }
};

inline void check_inplace(const char* op, const Tensor& t) {
  JEPA_CHECK(!(grad_enabled() && t.requires_grad()), op,
             "in-place update of a tensor that requires grad while recording the graph; "
             "do it inside a NoGrad scope (as optimizers do)");
}

}  // namespace detail

inline Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  detail::copy_elements(out, *this, "clone");
  record<detail::PassThroughBackward>(out, {*this});
  return out;
}

inline Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

inline Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target, device());
  detail::copy_elements(out, *this, "to");
  if (is_floating(target) && is_floating(dtype())) record<detail::ToDTypeBackward>(out, {*this}, dtype());
  return out;
}

inline Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  const DeviceHooks& dst_hooks = require_device(target, "to");
  const DeviceHooks& src_hooks = require_device(device(), "to");
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), target);
  const size_t nbytes = static_cast<size_t>(numel()) * itemsize(dtype());
  if (nbytes) {
    if (device().is_cpu()) {
      dst_hooks.copy_from_host(out.raw_data(), src.raw_data(), nbytes, target.index);
    } else if (target.is_cpu()) {
      src_hooks.copy_to_host(out.raw_data(), src.raw_data(), nbytes, device().index);
    } else {  // between two GPUs: through the host
      Tensor host = src.to(Device::cpu());
      dst_hooks.copy_from_host(out.raw_data(), host.raw_data(), nbytes, target.index);
    }
  }
  record<detail::ToDeviceBackward>(out, {*this}, device());
  return out;
}

inline Tensor& Tensor::copy_(const Tensor& src) {
  detail::check_inplace("copy_", *this);
  broadcast_shapes(src.shape(), shape(), "copy_");  // throws when src cannot broadcast to this shape
  JEPA_CHECK(src.dim() <= dim(), "copy_", "source of shape ", src.shape(), " has more dims than destination ",
             shape());
  Tensor s = src.device() == device() ? src : src.to(device());
  detail::copy_elements(*this, s, "copy_");
  return *this;
}

inline Tensor& Tensor::fill_(double value) {
  detail::check_inplace("fill_", *this);
  JEPA_ON_DEVICE(device(),
                 dispatch_all(dtype(), [&](auto tag) {
                   using T = typename decltype(tag)::type;
                   const T v = convert<T>(value);
                   T* p = static_cast<T*>(raw_data());
                   cpu::map1(shape(), p, strides(), p, strides(), [v](T) { return v; });
                 }),
                 gpu::fill(*this, value));
  return *this;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu());
  std::vector<T> out(static_cast<size_t>(numel()));
  if (out.empty()) return out;
  dispatch_all(dtype(), [&](auto tag) {
    using From = typename decltype(tag)::type;
    cpu::map1(shape(), out.data(), contiguous_strides(shape()), static_cast<const From*>(host.raw_data()),
              host.strides(), [](From v) { return convert<T>(v); });
  });
  return out;
}

inline double Tensor::item() const {
  JEPA_CHECK(numel() == 1, "item", "expected a tensor with one element, got shape ", shape());
  return to_vector<double>()[0];
}

inline double Tensor::at(std::initializer_list<int64_t> index) const {
  JEPA_CHECK(static_cast<int64_t>(index.size()) == dim(), "at", "index of ", index.size(),
             " values for a tensor of shape ", shape());
  int64_t off = offset(), d = 0;
  for (int64_t i : index) {
    JEPA_CHECK(i >= 0 && i < shape()[d], "at", "index ", i, " out of range for dim ", d, " of shape ", shape());
    off += i * strides()[d++];
  }
  return view_as_strided({}, {}, off).to_vector<double>()[0];
}

}  // namespace jepa
