// Module: a named tree of parameters and buffers, registered in order so that state_dict names
// equal the official checkpoints' ("blocks.0.attn.qkv.weight").
// Modules are created with std::make_shared and never copied: a member Tensor and the registry
// entry share one TensorImpl, so moving a module to another device, or rebinding its parameters
// into one flat buffer, changes storage under every handle at once.
#pragma once
#include <cassert>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The entries of `state` whose names start with `prefix`, with the prefix removed (a module's
// state_dict out of a file that holds several).
inline NamedTensors with_prefix(const NamedTensors& state, std::string_view prefix) {
  NamedTensors out;
  for (const auto& [name, t] : state)
    if (std::string_view(name).starts_with(prefix)) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // Trainable tensors, depth first in registration order, names joined with '.'.
  NamedTensors named_parameters() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.parameters_) out.emplace_back(prefix + name, t);
    });
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
  }
  // Fixed tensors that belong to the model's state (e.g. sin-cos position tables).
  NamedTensors named_buffers() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.buffers_) out.emplace_back(prefix + name, t);
    });
    return out;
  }
  // Parameters and buffers, each module's own in registration order, then its children's.
  NamedTensors state_dict() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.state_order_) out.emplace_back(prefix + name, t);
    });
    return out;
  }

  // Copies values in by name. Every tensor of the module must be present unless strict is false;
  // names the module does not have are errors when strict.
  void load_state_dict(const NamedTensors& state, bool strict = true) {
    NoGrad no_grad;
    NamedTensors own = state_dict();
    std::vector<bool> used(state.size(), false);
    for (auto& [name, t] : own) {
      size_t k = 0;
      while (k < state.size() && state[k].first != name) ++k;
      if (k == state.size()) {
        JEPA_CHECK(!strict, "load_state_dict", "missing tensor '", name, "' (expected shape ", t.shape(), ")");
        continue;
      }
      used[k] = true;
      const Tensor& src = state[k].second;
      JEPA_CHECK(src.shape() == t.shape(), "load_state_dict", "tensor '", name, "' has shape ", src.shape(),
                 ", the model expects ", t.shape());
      t.copy_(src.to(t.dtype()));
    }
    if (!strict) return;
    for (size_t k = 0; k < state.size(); ++k)
      JEPA_CHECK(used[k], "load_state_dict", "unexpected tensor '", state[k].first, "' of shape ",
                 state[k].second.shape());
  }

  // Moves every parameter and buffer to `device`, keeping tensor identities.
  void to(Device device) {
    for (auto& [name, t] : state_dict()) {
      if (t.device() == device) continue;
      Tensor moved = t.detach().to(device);
      rebind(t, moved);
      t.impl().grad = nullptr;  // a gradient on the old device no longer matches
    }
  }

  // Converts every parameter and buffer to `dtype` (f64 for gradient checks of whole models),
  // keeping tensor identities.
  void to(DType dtype) {
    for (auto& [name, t] : state_dict()) {
      if (t.dtype() == dtype) continue;
      Tensor converted = t.detach().to(dtype);
      t.impl().dtype = dtype;
      rebind(t, converted);
      t.impl().grad = nullptr;  // a gradient of the old dtype no longer matches
    }
  }

  void zero_grad() {
    for (Tensor& t : parameters()) t.zero_grad();
  }

  int64_t num_parameters() const {
    int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
  }

  void set_training(bool on) {
    visit("", [&](const std::string&, const Module& m) { const_cast<Module&>(m).training_ = on; });
  }
  bool training() const { return training_; }

  // Makes `target` use `source`'s storage, shape, strides and offset (same dtype), so every handle
  // to target sees the new memory.
  static void rebind(const Tensor& target, const Tensor& source) {
    TensorImpl& t = target.impl();
    const TensorImpl& s = source.impl();
    assert(t.dtype == s.dtype);
    t.storage = s.storage;
    t.shape = s.shape;
    t.strides = s.strides;
    t.offset = s.offset;
  }

 protected:
  Tensor register_parameter(const std::string& name, Tensor t) {
    t.requires_grad_(true);
    parameters_.emplace_back(name, t);
    state_order_.emplace_back(name, t);
    return t;
  }
  Tensor register_buffer(const std::string& name, Tensor t) {
    buffers_.emplace_back(name, t);
    state_order_.emplace_back(name, t);
    return t;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void visit(const std::string& prefix, const std::function<void(const std::string&, const Module&)>& f) const {
    f(prefix, *this);
    for (const auto& [name, child] : children_) child->visit(prefix + name + ".", f);
  }

  NamedTensors parameters_, buffers_, state_order_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace jepa::nn
