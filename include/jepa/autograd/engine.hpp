// The backward engine: runs the graph behind a tensor in reverse topological order.
// - Iterative (explicit stack and heap), so graph depth is unbounded.
// - Nodes run newest first, the order of the forward pass reversed, so memory saved for late
//   layers is released first.
// - Each node's edges are cut right after it runs: the engine then holds the only references to
//   its predecessors, and their saved tensors are freed as soon as they have run. A second
//   backward through the same graph therefore throws.
// - Gradients reaching a node from several consumers are summed; leaves add into their `grad`.
#pragma once
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <jepa/ops/creation.hpp>
#include <jepa/ops/unary.hpp>

namespace jepa {

inline Tensor Tensor::detach() const {
  auto out = std::make_shared<TensorImpl>();
  const TensorImpl& self = impl();
  out->storage = self.storage;
  out->shape = self.shape;
  out->strides = self.strides;
  out->offset = self.offset;
  out->dtype = self.dtype;
  return Tensor(std::move(out));
}

inline Tensor& Tensor::requires_grad_(bool on) {
  JEPA_CHECK(is_leaf(), "requires_grad_", "can only be set on leaf tensors; use detach() for a new leaf");
  JEPA_CHECK(!on || is_floating(dtype()), "requires_grad_", "only floating-point tensors can require grad, got ",
             dtype());
  impl().requires_grad = on;
  return *this;
}

inline void Tensor::set_grad(const Tensor& g) const {
  JEPA_CHECK(!g.defined() || (g.shape() == shape() && g.dtype() == dtype() && g.device() == device()), "set_grad",
             "gradient of shape ", g.shape(), " ", g.dtype(), " on ", g.device(), " does not match tensor of shape ",
             shape(), " ", dtype(), " on ", device());
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

inline void Tensor::zero_grad() const {
  if (impl().grad) Tensor(impl().grad).zero_();
}

inline std::vector<Tensor> AccumulateGrad::backward(const Tensor& grad) {
  std::shared_ptr<TensorImpl> target = leaf.lock();
  if (!target) return {};
  JEPA_CHECK(grad.shape() == target->shape, "backward", "internal: gradient of shape ", grad.shape(),
             " for a leaf of shape ", target->shape);
  if (target->grad) {
    Tensor(target->grad).add_(grad);
  } else {
    Tensor g = Tensor::empty(target->shape, target->dtype, grad.device());
    g.copy_(grad);  // a private copy: `grad` may be shared with other consumers
    target->grad = g.impl_ptr();
  }
  return {};
}

namespace detail {

inline void run_backward(const Tensor& root, const Tensor& root_grad) {
  std::shared_ptr<Node> start = gradient_edge(root);
  JEPA_CHECK(start != nullptr, "backward", "tensor of shape ", root.shape(),
             " does not require grad and has no grad_fn");
  Tensor grad = root_grad;
  if (!grad.defined()) {
    JEPA_CHECK(root.numel() == 1, "backward", "a gradient can be created implicitly only for a one-element "
               "tensor; got shape ", root.shape(), " (pass the gradient: t.backward(grad))");
    grad = ones_like(root.detach());
  } else {
    JEPA_CHECK(grad.shape() == root.shape() && grad.dtype() == root.dtype() && grad.device() == root.device(),
               "backward", "gradient of shape ", grad.shape(), " ", grad.dtype(), " on ", grad.device(),
               " does not match the tensor's shape ", root.shape(), " ", root.dtype(), " on ", root.device());
  }
  NoGrad no_grad;

  // Count, for every reachable node, how many edges lead into it.
  std::unordered_map<Node*, int> pending;
  std::unordered_set<Node*> seen{start.get()};
  std::vector<Node*> stack{start.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    JEPA_CHECK(!n->consumed, "backward", "trying to run backward through the graph a second time (at ", n->name(),
               "); its saved tensors were freed after the first backward");
    for (const auto& e : n->next) {
      if (!e) continue;
      ++pending[e.get()];
      if (seen.insert(e.get()).second) stack.push_back(e.get());
    }
  }

  auto newer_first = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
    return a->sequence < b->sequence;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(newer_first)> ready(
      newer_first);
  std::unordered_map<Node*, Tensor> grads;
  grads[start.get()] = grad;
  ready.push(std::move(start));
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    auto it = grads.find(node.get());
    Tensor g;
    if (it != grads.end()) {
      g = std::move(it->second);
      grads.erase(it);
    }
    std::vector<Tensor> input_grads = g.defined() ? node->backward(g) : std::vector<Tensor>();
    input_grads.resize(node->next.size());
    for (size_t i = 0; i < node->next.size(); ++i) {
      const std::shared_ptr<Node>& e = node->next[i];
      if (!e) continue;
      if (input_grads[i].defined()) {
        Tensor& slot = grads[e.get()];
        slot = slot.defined() ? add(slot, input_grads[i]) : input_grads[i];
      }
      if (--pending[e.get()] == 0) ready.push(e);
    }
    if (!dynamic_cast<AccumulateGrad*>(node.get())) node->consumed = true;
    node->next.clear();
  }
}

}  // namespace detail

inline void Tensor::backward(const Tensor& grad) const { detail::run_backward(*this, grad); }

}  // namespace jepa
