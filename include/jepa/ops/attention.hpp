// Scaled dot-product attention: softmax(q k^T * scale) v over the last two dims, batch dims
// broadcast. One fused kernel each way (flash attention: no N x M score matrix in memory; see
// backends/jepa/backends/cpu/attention.hpp); one node saving q, k, v (the views as given, not
// copies), out and the per-row logsumexp lse. q, k and v may be any views whose last dim is
// contiguous (others are copied once); the kernels read their batch and row strides in place.
// GPU tensors go to gpu::attention_forward(q, k, v, out, lse, scale) and
// gpu::attention_backward(dout, q, k, v, out, lse, dq, dk, dv, scale) when gpu::attention_supported
// says the fused kernels take them (4-D, head dims 32/64/128), else to the reference composition:
// q, k, v share one batch shape (broadcast dims expanded, stride 0), last-dim stride 1; out, lse,
// dout, dq, dk, dv dense.
// An optional BlockCausalMask (V-JEPA 2-AC) hides later blocks of keys from each query; the CPU
// kernels skip hidden key blocks and never build the N x M mask. GPU tensors with a mask are
// refused: the GPU masked kernel is not there yet.
// detail::attention_reference is the composition of matmul and softmax (a mask added as a
// materialised 0 / -inf matrix): the tests' oracle, and the route for empty sizes.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html
#pragma once
#include <array>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include <jepa/backends/cpu/attention.hpp>
#include <jepa/ops/creation.hpp>
#include <jepa/ops/matmul.hpp>
#include <jepa/ops/softmax.hpp>

namespace jepa {

// The block-causal mask of V-JEPA 2-AC (build_action_block_causal_attention_mask in the official
// modules.py, cut to N x M): tokens form consecutive blocks of block_size (per frame: its action,
// state and H * W patch tokens); query i may attend key j iff j / block_size <= i / block_size.
struct BlockCausalMask {
  int64_t block_size = 0;  // tokens per block, >= 1
};

namespace detail {

// (N, M): 0 where query i may attend key j, -inf elsewhere.
inline Tensor block_causal_bias(int64_t N, int64_t M, int64_t block_size, DType dtype) {
  std::vector<double> bias(static_cast<size_t>(N * M), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j)
      if (j / block_size > i / block_size) bias[i * M + j] = -INFINITY;
  return from_vector(bias, {N, M}, dtype);
}

inline Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                  std::optional<BlockCausalMask> mask = std::nullopt) {
  Tensor scores = mul(matmul(q, k.transpose(-2, -1)), scale);  // (..., N, M)
  if (mask) scores = scores + block_causal_bias(q.size(-2), k.size(-2), mask->block_size, q.dtype()).to(q.device());
  return matmul(softmax(scores, -1), v);
}

// t (..., rows, cols) seen with the batch shape `batch` (broadcast dims get stride 0) and a
// contiguous last dim, outside autograd.
inline Tensor attention_operand(const Tensor& t, const Shape& batch) {
  Tensor src = t.detach();
  if (src.stride(-1) != 1 && src.size(-1) > 1) src = src.contiguous();
  const Shape matrix(src.shape().end() - 2, src.shape().end());
  Shape shape = batch, strides = broadcast_strides(Shape(src.shape().begin(), src.shape().end() - 2),
                                                   Shape(src.strides().begin(), src.strides().end() - 2), batch);
  shape.insert(shape.end(), matrix.begin(), matrix.end());
  strides.push_back(src.stride(-2));
  strides.push_back(1);
  return src.view_as_strided(shape, strides, src.offset());
}

// Offsets (from t's data pointer) of t's matrices, batch indices in row-major order.
inline std::vector<int64_t> matrix_offsets(const Tensor& t) {
  const int64_t batch_dims = t.dim() - 2, count = t.numel() / std::max<int64_t>(1, t.size(-1) * t.size(-2));
  std::vector<int64_t> offsets(static_cast<size_t>(count));
  Shape index(static_cast<size_t>(batch_dims), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < batch_dims; ++d) off += index[d] * t.stride(d);
    offsets[i] = off;
    for (int64_t d = batch_dims - 1; d >= 0 && ++index[d] == t.size(d); --d) index[d] = 0;
  }
  return offsets;
}

inline cpu::AttentionShape attention_shape(const Tensor& q, const Tensor& k, const Tensor& v, int64_t block_size) {
  cpu::AttentionShape s;
  s.block_size = block_size;
  s.N = q.size(-2);
  s.M = k.size(-2);
  s.dh = q.size(-1);
  s.dv = v.size(-1);
  s.q_offsets = matrix_offsets(q);
  s.k_offsets = matrix_offsets(k);
  s.v_offsets = matrix_offsets(v);
  s.batch = static_cast<int64_t>(s.q_offsets.size());
  s.q_row_stride = q.stride(-2);
  s.k_row_stride = k.stride(-2);
  s.v_row_stride = v.stride(-2);
  return s;
}

// out = softmax(scale q k^T) v and lse for operands prepared by attention_operand; out and lse
// have the batch shape of q followed by (N, dv) and (N). block_size > 0 (the block-causal mask)
// only on CPU tensors: the op refuses GPU ones.
inline std::pair<Tensor, Tensor> attention_forward_kernel(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          double scale, int64_t block_size = 0) {
  constexpr const char* op = "scaled_dot_product_attention";
  Shape out_shape(q.shape().begin(), q.shape().end() - 1), lse_shape = out_shape;
  out_shape.push_back(v.size(-1));
  Tensor out = Tensor::empty(out_shape, q.dtype(), q.device());
  Tensor lse = Tensor::empty(lse_shape, q.dtype(), q.device());
  dispatch_float(q.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(q.device(),
                   cpu::attention_forward(attention_shape(q, k, v, block_size), q.data<T>(), k.data<T>(), v.data<T>(),
                                          out.data<T>(), lse.data<T>(), static_cast<T>(scale)),
                   gpu::attention_forward(q, k, v, out, lse, scale));
  });
  return {out, lse};
}

// dq, dk, dv (dense, shaped like q, k, v) from a dense dout.
inline std::array<Tensor, 3> attention_backward_kernel(const Tensor& dout, const Tensor& q, const Tensor& k,
                                                       const Tensor& v, const Tensor& out, const Tensor& lse,
                                                       double scale, int64_t block_size = 0) {
  Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor dk = Tensor::empty(k.shape(), k.dtype(), k.device());
  Tensor dv = Tensor::empty(v.shape(), v.dtype(), v.device());
  dispatch_float(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(q.device(),
                   cpu::attention_backward(attention_shape(q, k, v, block_size), dout.data<T>(), q.data<T>(),
                                           k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>(), dq.data<T>(),
                                           dk.data<T>(), dv.data<T>(), static_cast<T>(scale)),
                   gpu::attention_backward(dout, q, k, v, out, lse, dq, dk, dv, scale));
  });
  return {dq, dk, dv};
}

struct AttentionBackward final : Node {
  Tensor q, k, v, out, lse;  // q, k, v as attention_operand made them; out (..., N, dv), lse (..., N) dense
  Shape q_shape, k_shape, v_shape;
  double scale;
  int64_t block_size;  // of the block-causal mask; 0: none
  const char* name() const override { return "AttentionBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    auto [dq, dk, dv] = attention_backward_kernel(grad.contiguous(), q, k, v, out, lse, scale, block_size);
    return {needs_grad(0) ? sum_to(dq, q_shape) : Tensor(), needs_grad(1) ? sum_to(dk, k_shape) : Tensor(),
            needs_grad(2) ? sum_to(dv, v_shape) : Tensor()};
  }
};

// The heads of a packed (B, N, 3, H, dh) projection as (3, B, H, N, dh) strided views, no autograd.
inline Tensor qkv_heads(const Tensor& qkv, int64_t heads) {
  const int64_t B = qkv.size(0), N = qkv.size(1), dh = qkv.size(2) / (3 * heads);
  return qkv.detach().contiguous().view({B, N, 3, heads, dh}).permute({2, 0, 3, 1, 4});
}

struct SelfAttentionBackward final : Node {
  Tensor qkv, out, lse;  // qkv (B, N, 3D) dense; out (B, H, N, dh), lse (B, H, N)
  int64_t heads;
  double scale;
  SelfAttentionBackward(int64_t h, double s) : heads(h), scale(s) {}
  const char* name() const override { return "SelfAttentionBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const int64_t B = qkv.size(0), N = qkv.size(1), D = qkv.size(2) / 3, dh = D / heads;
    const Tensor h = qkv_heads(qkv, heads);
    const Tensor dout = grad.reshape({B, N, heads, dh}).permute({0, 2, 1, 3}).contiguous();  // (B, H, N, dh)
    auto d = attention_backward_kernel(dout, h.select(0, 0), h.select(0, 1), h.select(0, 2), out, lse, scale);
    Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype(), qkv.device());  // written once, in the packed layout
    const Tensor dheads = dqkv.view({B, N, 3, heads, dh}).permute({2, 0, 3, 1, 4});
    for (int64_t i = 0; i < 3; ++i) dheads.select(0, i).copy_(d[i]);
    return {dqkv};
  }
};

}  // namespace detail

// q (..., N, dh), k (..., M, dh), v (..., M, dv) -> (..., N, dv). scale defaults to dh^-0.5.
inline Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           std::optional<double> scale = std::nullopt,
                                           std::optional<BlockCausalMask> mask = std::nullopt) {
  constexpr const char* op = "scaled_dot_product_attention";
  for (const Tensor* t : {&q, &k, &v}) {
    detail::check_defined(op, *t);
    JEPA_CHECK(t->dim() >= 2, op, "q, k and v need at least 2 dims, got shape ", t->shape());
    detail::check_same_dtype(op, q, *t);
    detail::check_same_device(op, q, *t);
  }
  JEPA_CHECK(q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2), op, "incompatible shapes q ", q.shape(), ", k ",
             k.shape(), ", v ", v.shape(), " (need q (..., N, d), k (..., M, d), v (..., M, dv))");
  JEPA_CHECK(!mask || mask->block_size > 0, op, "the block-causal mask needs block_size >= 1, got ",
             mask->block_size);
  JEPA_CHECK(!mask || q.device().is_cpu(), op, "q, k and v are on ", q.device(), ": the GPU masked attention "
             "kernel is not there yet, the block-causal mask takes CPU tensors only");
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  auto batch_of = [](const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); };
  const Shape batch = broadcast_shapes(broadcast_shapes(batch_of(q), batch_of(k), op), batch_of(v), op);
  if (batch.numel() == 0 || q.size(-2) == 0 || k.size(-2) == 0 || q.size(-1) == 0 || v.size(-1) == 0)
    return detail::attention_reference(q, k, v, s, mask);
  if (q.device().is_gpu() && !gpu::attention_supported(q, k, v)) return detail::attention_reference(q, k, v, s);
  const int64_t block_size = mask ? mask->block_size : 0;
  Tensor qe = detail::attention_operand(q, batch), ke = detail::attention_operand(k, batch),
         ve = detail::attention_operand(v, batch);
  auto [out, lse] = detail::attention_forward_kernel(qe, ke, ve, s, block_size);
  if (auto node = record<detail::AttentionBackward>(out, {q, k, v})) {
    node->q = qe;
    node->k = ke;
    node->v = ve;
    node->out = out.detach();
    node->lse = lse;
    node->q_shape = q.shape();
    node->k_shape = k.shape();
    node->v_shape = v.shape();
    node->scale = s;
    node->block_size = block_size;
  }
  return out;
}

// Multi-head self-attention on a packed projection, as a ViT block computes it:
// qkv (B, N, 3D) laid out [q | k | v] with heads contiguous inside each -> (B, N, D), the heads'
// outputs concatenated. Same result as splitting qkv into heads and calling
// scaled_dot_product_attention, but the backward writes the gradient of qkv once, in its packed
// layout, instead of one full-size gradient per q, k and v view.
inline Tensor self_attention(const Tensor& qkv, int64_t heads, std::optional<double> scale = std::nullopt) {
  constexpr const char* op = "self_attention";
  detail::check_defined(op, qkv);
  JEPA_CHECK(qkv.dim() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0, op, "expected qkv (B, N, 3 * D) with D "
             "divisible by ", heads, " heads, got shape ", qkv.shape());
  const int64_t B = qkv.size(0), N = qkv.size(1), D = qkv.size(2) / 3, dh = D / heads;
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(dh)));
  const Tensor h = detail::qkv_heads(qkv, heads);
  const Tensor q = h.select(0, 0), k = h.select(0, 1), v = h.select(0, 2);
  const bool fused = B * N > 0 && !(qkv.device().is_gpu() && !gpu::attention_supported(q, k, v));
  if (!fused) {  // the composition, through autograd
    const Tensor views = qkv.reshape({B, N, 3, heads, dh}).permute({2, 0, 3, 1, 4});
    return detail::attention_reference(views.select(0, 0), views.select(0, 1), views.select(0, 2), s)
        .transpose(1, 2)
        .reshape({B, N, D});
  }
  auto [heads_out, lse] = detail::attention_forward_kernel(q, k, v, s);  // (B, H, N, dh)
  Tensor out = heads_out.transpose(1, 2).contiguous().view({B, N, D});
  if (auto node = record<detail::SelfAttentionBackward>(out, {qkv}, heads, s)) {
    node->qkv = qkv.detach().contiguous();
    node->out = heads_out;
    node->lse = lse;
  }
  return out;
}

}  // namespace jepa
