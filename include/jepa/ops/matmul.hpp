// matmul (1-D, 2-D and batched with broadcast batch dims) and linear (x W^T + b).
// Transposed operands are not copied: a matrix whose last two dims are laid out column-major is
// passed to GEMM with the transpose flag. linear folds all leading dims into the GEMM's rows; on
// the CPU the GEMM adds the bias to each tile as it stores it, on a GPU the bias is written into
// the output and the GEMM accumulates onto it (either way, no separate pass adding the bias).
// reference: https://pytorch.org/docs/stable/generated/torch.matmul.html
#pragma once
#include <cassert>
#include <optional>

#include <jepa/backends/cpu/gemm.hpp>
#include <jepa/ops/reduce.hpp>

namespace jepa {

namespace detail {

struct MatrixLayout {
  bool trans;
  int64_t ld;
};

// How GEMM can read the last two dims of t in place, if it can.
inline std::optional<MatrixLayout> gemm_layout(const Tensor& t) {
  const int64_t rows = t.size(-2), cols = t.size(-1), rs = t.stride(-2), cs = t.stride(-1);
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
    return MatrixLayout{false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
    return MatrixLayout{true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  return std::nullopt;
}

// A view with the last two dims swapped, outside autograd (for use inside ops and backward).
inline Tensor transposed(const Tensor& t) {
  Shape s = t.shape(), st = t.strides();
  std::swap(s[s.ndim() - 1], s[s.ndim() - 2]);
  std::swap(st[st.ndim() - 1], st[st.ndim() - 2]);
  return t.view_as_strided(s, st, t.offset());
}

// out[batch..., M, N] = a[..., M, K] @ b[..., K, N] + beta * out + bias, batch dims broadcast.
// a and b may be any views; out must be dense. bias (N), dense, added to every row, is for CPU
// tensors only (the GPU GEMM has no such term).
inline void gemm_into(const char* op, Tensor a, Tensor b, const Tensor& out, double beta,
                      const Tensor& bias = Tensor()) {
  assert(!bias.defined() || (out.device().is_cpu() && bias.is_contiguous() && bias.numel() == b.size(-1)));
  auto la = gemm_layout(a);
  if (!la) {
    a = a.detach().contiguous();
    la = gemm_layout(a);
  }
  auto lb = gemm_layout(b);
  if (!lb) {
    b = b.detach().contiguous();
    lb = gemm_layout(b);
  }
  GemmPlan plan;
  plan.trans_a = la->trans;
  plan.trans_b = lb->trans;
  plan.M = a.size(-2);
  plan.K = a.size(-1);
  plan.N = b.size(-1);
  plan.lda = la->ld;
  plan.ldb = lb->ld;
  plan.ldc = std::max<int64_t>(plan.N, 1);
  const Shape batch(out.shape().begin(), out.shape().end() - 2);
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape sa = broadcast_strides(a_batch, Shape(a.strides().begin(), a.strides().end() - 2), batch);
  const Shape sb = broadcast_strides(b_batch, Shape(b.strides().begin(), b.strides().end() - 2), batch);
  const int64_t count = batch.numel();
  plan.a_offsets.resize(count);
  plan.b_offsets.resize(count);
  plan.c_offsets.resize(count);
  Shape index(batch.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = 0; d < batch.ndim(); ++d) {
      oa += index[d] * sa[d];
      ob += index[d] * sb[d];
    }
    plan.a_offsets[i] = oa;
    plan.b_offsets[i] = ob;
    plan.c_offsets[i] = i * plan.M * plan.N;
    for (int64_t d = batch.ndim() - 1; d >= 0 && ++index[d] == batch[d]; --d) index[d] = 0;
  }
  dispatch_float(out.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(out.device(),
                   ([&] {
                     std::vector<const T*> pa(count), pb(count);
                     std::vector<T*> pc(count);
                     for (int64_t i = 0; i < count; ++i) {
                       pa[i] = a.data<T>() + plan.a_offsets[i];
                       pb[i] = b.data<T>() + plan.b_offsets[i];
                       pc[i] = out.data<T>() + plan.c_offsets[i];
                     }
                     cpu::gemm_batched<T>(plan.trans_a, plan.trans_b, plan.M, plan.N, plan.K, T(1), pa.data(), plan.lda,
                                          pb.data(), plan.ldb, T(beta), pc.data(), plan.ldc, count, cpu::best_isa(),
                                          bias.defined() ? bias.data<T>() : nullptr);
                   }()),
                   gpu::gemm(plan, a, b, out, beta));
  });
}

inline void check_matmul_args(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "first");
  check_defined(op, b, "second");
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
}

struct MatmulBackward final : Node {
  Tensor a, b;  // each saved when the other input needs its gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "MatmulBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override;
};

}  // namespace detail

inline Tensor matmul(const Tensor& a, const Tensor& b) {
  constexpr const char* op = "matmul";
  detail::check_matmul_args(op, a, b);
  JEPA_CHECK(a.dim() >= 1 && b.dim() >= 1, op, "both arguments need at least 1 dim, got shapes ", a.shape(),
             " and ", b.shape());
  if (a.dim() == 1 && b.dim() == 1) return matmul(a.unsqueeze(0), b.unsqueeze(-1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  JEPA_CHECK(a.size(-1) == b.size(-2), op, "cannot multiply shapes ", a.shape(), " and ", b.shape(), " (", a.size(-1),
             " != ", b.size(-2), ")");
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), op);
  Shape out_shape = batch;
  out_shape.push_back(a.size(-2));
  out_shape.push_back(b.size(-1));
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (b.dim() == 2 && a.dim() > 2 && a.is_contiguous()) {  // fold batch dims into rows: one big GEMM
    detail::gemm_into(op, a.detach().view_as_strided({a.numel() / a.size(-1), a.size(-1)}, {a.size(-1), 1},
                                                     a.offset()),
                      b.detach(), out.view_as_strided({out.numel() / b.size(-1), b.size(-1)}, {b.size(-1), 1}, 0), 0.0);
  } else {
    detail::gemm_into(op, a.detach(), b.detach(), out, 0.0);
  }
  if (auto node = record<detail::MatmulBackward>(out, {a, b})) {
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (node->needs_grad(1)) node->a = a.detach();
    if (node->needs_grad(0)) node->b = b.detach();
  }
  return out;
}

namespace detail {

inline std::vector<Tensor> MatmulBackward::backward(const Tensor& grad) {
  std::vector<Tensor> g(2);
  if (needs_grad(0)) g[0] = sum_to(matmul(grad, transposed(b)), a_shape);
  if (needs_grad(1)) {
    if (b_shape.ndim() == 2 && a_shape.ndim() > 2) {  // sum over the batch inside one GEMM
      const int64_t K = a_shape.back(), N = b_shape.back();
      g[1] = matmul(transposed(a.reshape({-1, K})), grad.reshape({-1, N}));
    } else {
      g[1] = sum_to(matmul(transposed(a), grad), b_shape);
    }
  }
  return g;
}

struct LinearBackward final : Node {
  Tensor input, weight;  // input as (rows, in)
  Shape input_shape;
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor g = grad.reshape({-1, grad.size(-1)});  // (rows, out)
    std::vector<Tensor> out(3);
    if (needs_grad(0)) out[0] = matmul(g, weight).reshape(input_shape);
    if (needs_grad(1)) out[1] = matmul(transposed(g), input);
    if (needs_grad(2)) out[2] = sum(g, {0});
    return out;
  }
};

}  // namespace detail

// y = x W^T + b over the last dim of x: x (..., in), weight (out, in), bias (out) or undefined.
inline Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor()) {
  constexpr const char* op = "linear";
  detail::check_matmul_args(op, x, weight);
  JEPA_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1), op, "input of shape ", x.shape(),
             " does not match weight of shape ", weight.shape(), " (expected input (..., ", weight.dim() == 2 ? weight.size(1) : -1,
             ") and weight (out, in))");
  const int64_t in = weight.size(1), out_features = weight.size(0);
  Tensor x2 = x.detach().reshape({-1, in});
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor y2 = y.view_as_strided({x2.size(0), out_features}, {out_features, 1}, 0);
  double beta = 0.0;
  Tensor gemm_bias;  // the CPU GEMM adds it to each tile of y2 as it stores the tile
  if (bias.defined()) {
    detail::check_same_dtype(op, x, bias);
    detail::check_same_device(op, x, bias);
    JEPA_CHECK(bias.dim() == 1 && bias.size(0) == out_features, op, "bias has shape ", bias.shape(), ", expected [",
               out_features, "]");
    if (x.device().is_cpu()) {
      gemm_bias = bias.detach().contiguous();
    } else {  // the GPU GEMM has no bias term: it accumulates onto the bias written into every row
      detail::copy_elements(y2, bias.detach(), op);
      beta = 1.0;
    }
  }
  detail::gemm_into(op, x2, detail::transposed(weight.detach()), y2, beta, gemm_bias);
  if (auto node = record<detail::LinearBackward>(y, {x, weight, bias})) {
    node->input_shape = x.shape();
    if (node->needs_grad(1)) node->input = x2;
    if (node->needs_grad(0)) node->weight = weight.detach();
  }
  return y;
}

}  // namespace jepa
