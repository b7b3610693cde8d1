// Rotary position embedding of V-JEPA 2-AC (ACRoPEAttention in the official
// src/models/utils/modules.py), applied to queries or keys of shape (B, H, N, dh), the layout the
// official code rotates. positions (N, A) or (B, N, A) give each token A coordinates; axis a turns
// head dims [a * section, (a + 1) * section), the dims after A * section pass through. The official
// forms:
//   frame tokens  A = 3 (t, row * grid / H, col * grid / W), section = rope_axis_dims(dh)
//   cond tokens   A = 1 (t), the same section: the time-only rotation of the action/state tokens.
// A token with coordinates (t, 0, 0) gets the time-only form too (angle 0 is the identity), so an
// interleaved [cond, frame] sequence can be turned in one call.
// The frequencies are tiled over each section, the official layout kept for weight compatibility
// (see backends/jepa/backends/cpu/rope.hpp for the formulas of both directions).
// One CPU kernel each way; the node saves only the positions. positions may be any dtype (they are
// read as f64) and get no gradient. GPU tensors are refused: there is no GPU kernel yet.
// detail::rope_reference composes the same map from slices, products and cat: the tests' oracle.
#pragma once
#include <vector>

#include <jepa/backends/cpu/rope.hpp>
#include <jepa/ops/creation.hpp>
#include <jepa/ops/join.hpp>
#include <jepa/ops/unary.hpp>

namespace jepa {

// Dims per position axis in V-JEPA 2-AC: 2 * ((dh / 3) / 2), e.g. 20 of dh = 64 (4 left unrotated).
inline int64_t rope_axis_dims(int64_t head_dim) { return 2 * ((head_dim / 3) / 2); }

namespace detail {

// x (B, H, N, dh) with a contiguous last dim, positions f64 dense.
inline cpu::RopeShape rope_shape(const Tensor& x, const Tensor& positions, int64_t section) {
  cpu::RopeShape s;
  s.batch = x.size(0);
  s.heads = x.size(1);
  s.tokens = x.size(2);
  s.head_dim = x.size(3);
  s.axes = positions.size(-1);
  s.section = section;
  s.batch_stride = x.stride(0);
  s.head_stride = x.stride(1);
  s.token_stride = x.stride(2);
  s.positions_per_sample = positions.dim() == 3;
  return s;
}

struct RopeBackward final : Node {
  Tensor positions;  // (N, A) or (B, N, A), f64 dense
  int64_t section;
  explicit RopeBackward(int64_t sec) : section(sec) {}
  const char* name() const override { return "RopeBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor g = grad.contiguous();  // (B, H, N, dh)
    Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
    dispatch_float(g.dtype(), "rope", [&](auto tag) {
      using T = typename decltype(tag)::type;
      cpu::rope_backward(rope_shape(g, positions, section), positions.data<double>(), g.data<T>(), dx.data<T>());
    });
    return {dx};
  }
};

// The official formula written with ops: per axis, x cos + partner sin, partner = (-x1, x0, -x3, x2, ...).
inline Tensor rope_reference(const Tensor& x, const Tensor& positions, int64_t section) {
  const int64_t N = x.size(2), dh = x.size(3), A = positions.size(-1);
  const int64_t samples = positions.dim() == 3 ? positions.size(0) : 1;
  const std::vector<double> pos = positions.to(DType::f64).contiguous().to_vector<double>();  // (samples, N, A)
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < A; ++a) {
    std::vector<double> cosine, sine;  // (samples, 1, N, section)
    for (int64_t t = 0; t < samples * N; ++t)
      for (int64_t j = 0; j < section; ++j) {
        const double angle = pos[t * A + a] * cpu::rope_frequency(j, section);
        cosine.push_back(std::cos(angle));
        sine.push_back(std::sin(angle));
      }
    const Shape table{samples, 1, N, section};
    const Tensor xa = x.narrow(-1, a * section, section);  // (B, H, N, section)
    const Tensor even = xa.slice(-1, 0, section, 2), odd = xa.slice(-1, 1, section, 2);  // (B, H, N, section / 2)
    const Tensor partner = stack({neg(odd), even}, -1).reshape(xa.shape());
    parts.push_back(xa * from_vector(cosine, table, x.dtype()) + partner * from_vector(sine, table, x.dtype()));
  }
  if (A * section < dh) parts.push_back(x.narrow(-1, A * section, dh - A * section));
  return cat(parts, -1);
}

}  // namespace detail

// x (B, H, N, dh), positions (N, A) or (B, N, A) -> (B, H, N, dh); section even, A * section <= dh.
inline Tensor rope(const Tensor& x, const Tensor& positions, int64_t section) {
  constexpr const char* op = "rope";
  detail::check_defined(op, x);
  detail::check_defined(op, positions, "positions");
  JEPA_CHECK(x.device().is_cpu() && positions.device().is_cpu(), op, "x is on ", x.device(), " and positions on ",
             positions.device(), ": rope has no GPU kernel yet, it takes CPU tensors only");
  JEPA_CHECK(x.dim() == 4, op, "expected x (B, H, N, dh), got shape ", x.shape());
  const bool shared = positions.dim() == 2 && positions.size(0) == x.size(2);
  const bool per_sample = positions.dim() == 3 && positions.size(0) == x.size(0) && positions.size(1) == x.size(2);
  JEPA_CHECK((shared || per_sample) && positions.size(-1) > 0, op, "positions must be (N, A) or (B, N, A) with A >= 1 "
             "for x (B, H, N, dh) = ", x.shape(), ", got shape ", positions.shape());
  JEPA_CHECK(section > 0 && section % 2 == 0 && positions.size(-1) * section <= x.size(3), op, "section must be even, "
             "positive and fit ", positions.size(-1), " axes into head dim ", x.size(3), ", got ", section);
  const Tensor src = x.stride(-1) == 1 ? x.detach() : x.detach().contiguous();  // (B, H, N, dh)
  const Tensor pos = positions.detach().to(DType::f64).contiguous();            // (N, A) or (B, N, A)
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cpu::rope_forward(detail::rope_shape(src, pos, section), pos.data<double>(), src.data<T>(), out.data<T>());
  });
  if (auto node = record<detail::RopeBackward>(out, {x}, section)) node->positions = pos;
  return out;
}

}  // namespace jepa
