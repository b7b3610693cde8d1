// Scaled dot-product attention: softmax(q k^T * scale) v over the last two dims, batch dims
// broadcast. This is the composition of matmul and softmax, which is also the reference the fused
// kernels are tested against. On a GPU, (B, H, N, dh) operands that the fused kernels take
// (gpu::attention_supported) run them instead: one pass each way, no N x M matrix in memory; the
// node saves q, k, v, the output and each row's log-sum-exp.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html
#pragma once
#include <cmath>

#include <jepa/ops/matmul.hpp>
#include <jepa/ops/softmax.hpp>

namespace jepa {

#ifdef JEPA_WITH_GPU
namespace detail {

struct FusedAttentionBackward final : Node {
  Tensor q, k, v, out, lse;
  double scale;
  explicit FusedAttentionBackward(double s) : scale(s) {}
  const char* name() const override { return "FusedAttentionBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    gpu::AttentionGrads g = gpu::attention_backward(q, k, v, out, lse, grad, scale);
    return {g.dq, g.dk, g.dv};
  }
};

}  // namespace detail
#endif

// q (..., N, dh), k (..., M, dh), v (..., M, dv) -> (..., N, dv). scale defaults to dh^-0.5.
inline Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           std::optional<double> scale = std::nullopt) {
  constexpr const char* op = "scaled_dot_product_attention";
  for (const Tensor* t : {&q, &k, &v}) {
    detail::check_defined(op, *t);
    JEPA_CHECK(t->dim() >= 2, op, "q, k and v need at least 2 dims, got shape ", t->shape());
  }
  JEPA_CHECK(q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2), op, "incompatible shapes q ", q.shape(), ", k ",
             k.shape(), ", v ", v.shape(), " (need q (..., N, d), k (..., M, d), v (..., M, dv))");
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
#ifdef JEPA_WITH_GPU
  if (q.device().is_gpu() && gpu::attention_supported(q, k, v)) {
    gpu::AttentionResult r = gpu::attention_forward(q, k, v, s);
    if (auto node = record<detail::FusedAttentionBackward>(r.out, {q, k, v}, s)) {
      node->q = q.detach();
      node->k = k.detach();
      node->v = v.detach();
      node->out = r.out.detach();
      node->lse = r.lse;
    }
    return r.out;
  }
#endif
  return matmul(softmax(mul(matmul(q, k.transpose(-2, -1)), s), -1), v);
}

}  // namespace jepa
