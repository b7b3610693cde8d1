// Graph nodes of reverse-mode autodiff.
// Invariants:
// - A node is created by a differentiable op for its one output and knows, per input, the node its
//   gradient flows to (`next[i]`; null when that input needs no gradient).
// - A node saves only what its backward needs, always as detached tensors (no grad_fn), so the
//   graph holds no cycles and saved data never keeps other nodes alive.
// - backward(grad) returns one gradient per input, shaped like that input; an undefined tensor
//   stands for "no gradient" (input not needed).
// - Destruction is iterative, so graphs of any depth are freed without recursion.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <jepa/autograd/grad_mode.hpp>
#include <jepa/core/tensor.hpp>

namespace jepa {

struct Node {
  std::vector<std::shared_ptr<Node>> next;
  const uint64_t sequence = next_sequence();  // creation order: backward runs newest first
  bool consumed = false;                      // set once backward has run through it

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node() {
    // Unlink the chain of uniquely owned predecessors one by one instead of recursively.
    std::vector<std::shared_ptr<Node>> pending;
    auto take = [&](std::vector<std::shared_ptr<Node>>& edges) {
      for (auto& e : edges)
        if (e && e.use_count() == 1) pending.push_back(std::move(e));
      edges.clear();
    };
    take(next);
    while (!pending.empty()) {
      std::shared_ptr<Node> n = std::move(pending.back());
      pending.pop_back();
      take(n->next);
    }
  }

  virtual const char* name() const = 0;
  virtual std::vector<Tensor> backward(const Tensor& grad) = 0;

  bool needs_grad(size_t input) const { return input < next.size() && next[input] != nullptr; }

 private:
  static uint64_t next_sequence() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed);
  }
};

// The node that deposits a leaf's gradient into leaf.grad (adding to what is there).
struct AccumulateGrad final : Node {
  std::weak_ptr<TensorImpl> leaf;
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& l) : leaf(l) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> backward(const Tensor& grad) override;  // engine.hpp
};

// Where the gradient of `t` must go: its grad_fn, its accumulator if it is a leaf that requires
// grad, or nowhere.
inline std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl& impl = t.impl();
  if (impl.grad_fn) return impl.grad_fn;
  if (!impl.grad_accumulator) impl.grad_accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return impl.grad_accumulator;
}

// Makes `out` the result of a new NodeT over `inputs` when grad mode is on and any input requires
// grad; returns the node (for the op to save what its backward needs) or null.
template <class NodeT, class... Args>
std::shared_ptr<NodeT> record(Tensor& out, const std::vector<Tensor>& inputs, Args&&... args) {
  if (!grad_enabled()) return nullptr;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return nullptr;
  auto node = std::make_shared<NodeT>(std::forward<Args>(args)...);
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next.push_back(gradient_edge(t));
  out.impl().grad_fn = node;
  out.impl().requires_grad = true;
  return node;
}

template <class NodeT, class... Args>
std::shared_ptr<NodeT> record(Tensor& out, std::initializer_list<Tensor> inputs, Args&&... args) {
  return record<NodeT>(out, std::vector<Tensor>(inputs), std::forward<Args>(args)...);
}

}  // namespace jepa
