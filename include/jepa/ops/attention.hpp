// Scaled dot-product attention: softmax(q k^T * scale) v over the last two dims, batch dims
// broadcast. This is the composition of matmul and softmax, which is also the reference the fused
// kernels are tested against.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html
#pragma once
#include <cmath>

#include <jepa/ops/matmul.hpp>
#include <jepa/ops/softmax.hpp>

namespace jepa {

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
  return matmul(softmax(mul(matmul(q, k.transpose(-2, -1)), s), -1), v);
}

}  // namespace jepa
