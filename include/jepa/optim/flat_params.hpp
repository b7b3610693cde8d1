// Flat parameter and gradient buffers (the llm.c layout): a module's parameters are rebound to
// views of one contiguous buffer, and their gradients to views of another, so that AdamW, EMA,
// gradient clipping and zeroing are each one pass over one array. Parameters keep their identity
// (every handle, including the module's members, sees the new storage).
#pragma once
#include <string>
#include <vector>

#include <jepa/nn/module.hpp>

namespace jepa::optim {

class FlatParameters {
 public:
  // Packs `params` (same dtype and device) in the given order; with_grads also creates the
  // gradient buffer and installs views of it as each parameter's grad.
  explicit FlatParameters(const nn::NamedTensors& params, bool with_grads = true) : named_(params) {
    JEPA_CHECK(!params.empty(), "FlatParameters", "no parameters to pack");
    const DType dtype = params.front().second.dtype();
    const Device device = params.front().second.device();
    int64_t total = 0;
    for (const auto& [name, t] : params) {
      JEPA_CHECK(t.dtype() == dtype && t.device() == device, "FlatParameters", "parameter '", name, "' is ", t.dtype(),
                 " on ", t.device(), ", expected ", dtype, " on ", device);
      offsets_.push_back(total);
      total += t.numel();
    }
    values_ = Tensor::empty({total}, dtype, device);
    if (with_grads) grads_ = zeros({total}, dtype, device);
    NoGrad no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& p = params[i].second;
      Tensor slot = view_of(values_, i);
      slot.copy_(p);
      nn::Module::rebind(p, slot);
      if (with_grads) p.set_grad(view_of(grads_, i));
    }
  }

  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  const nn::NamedTensors& named() const { return named_; }
  int64_t offset(size_t i) const { return offsets_[i]; }
  int64_t numel() const { return values_.numel(); }

  void zero_grad() {
    if (grads_.defined()) grads_.zero_();
  }

 private:
  Tensor view_of(const Tensor& flat, size_t i) const {
    const Tensor& p = named_[i].second;
    return flat.view_as_strided(p.shape(), contiguous_strides(p.shape()), offsets_[i]);
  }

  nn::NamedTensors named_;
  std::vector<int64_t> offsets_;
  Tensor values_, grads_;
};

}  // namespace jepa::optim
