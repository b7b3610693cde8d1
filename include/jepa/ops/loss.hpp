// Losses: mse, l1, smooth_l1 (Huber with beta, as PyTorch) and cross_entropy over integer labels.
// The pointwise losses share one functor shape (value and derivative of the difference); each
// runs as one pass forward and one pass backward. cross_entropy fuses log_softmax and the
// negative log-likelihood; its node saves the log-probabilities. The per-row pick and its backward
// run on the host: cross_entropy serves classifier heads and probes, where N x C is small.
// reference: https://pytorch.org/docs/stable/nn.functional.html#loss-functions
#pragma once
#include <cmath>

#include <jepa/ops/reduce.hpp>
#include <jepa/ops/softmax.hpp>

namespace jepa {

enum class Reduction { mean, sum, none };

namespace detail {

struct MseFn {
  static constexpr gpu::Map2 gpu_value = gpu::Map2::mse;
  static constexpr gpu::Map3 gpu_grad = gpu::Map3::mse_grad;
  static constexpr const char* name = "mse_loss";
  template <class T> JEPA_HD T value(T d) const { return d * d; }
  template <class T> JEPA_HD T derivative(T d) const { return T(2) * d; }
};
struct L1Fn {
  static constexpr gpu::Map2 gpu_value = gpu::Map2::l1;
  static constexpr gpu::Map3 gpu_grad = gpu::Map3::l1_grad;
  static constexpr const char* name = "l1_loss";
  template <class T> JEPA_HD T value(T d) const { return d < T(0) ? -d : d; }
  template <class T> JEPA_HD T derivative(T d) const { return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0)); }
};
struct SmoothL1Fn {
  static constexpr gpu::Map2 gpu_value = gpu::Map2::smooth_l1;
  static constexpr gpu::Map3 gpu_grad = gpu::Map3::smooth_l1_grad;
  static constexpr const char* name = "smooth_l1_loss";
  double beta;
  template <class T> JEPA_HD T value(T d) const {
    const T a = d < T(0) ? -d : d;
    return a < T(beta) ? T(0.5) * d * d / T(beta) : a - T(0.5 * beta);
  }
  template <class T> JEPA_HD T derivative(T d) const {
    if (d <= T(-beta)) return T(-1);
    if (d >= T(beta)) return T(1);
    return d / T(beta);
  }
};

template <class Loss> struct LossValueFn {
  static constexpr gpu::Map2 gpu_map2 = Loss::gpu_value;
  Loss loss;
  template <class T> JEPA_HD T operator()(T a, T b) const { return loss.value(a - b); }
};
template <class Loss> struct LossGradFn {  // (g, a, b) -> g * dloss/da
  static constexpr gpu::Map3 gpu_map3 = Loss::gpu_grad;
  Loss loss;
  template <class T> JEPA_HD T operator()(T g, T a, T b) const { return g * loss.derivative(a - b); }
};

template <class Loss>
struct PointwiseLossBackward final : Node {
  Loss loss;
  Tensor input, target;
  Reduction reduction;
  PointwiseLossBackward(Loss l, Reduction r) : loss(l), reduction(r) {}
  const char* name() const override { return Loss::name; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor g = grad;
    if (reduction != Reduction::none) {
      g = reduction == Reduction::mean ? mul(grad, 1.0 / static_cast<double>(input.numel())) : grad;
      g = g.expand(input.shape());
    }
    Tensor da = Tensor::empty(input.shape(), input.dtype(), input.device());
    dispatch_float(input.dtype(), Loss::name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      JEPA_ON_DEVICE(input.device(),
                     cpu::map3(input.shape(), da.data<T>(), da.strides(), g.data<T>(), g.strides(), input.data<T>(),
                               input.strides(), target.data<T>(), target.strides(), LossGradFn<Loss>{loss}),
                     gpu::map3(da, g, input, target, LossGradFn<Loss>{loss}));
    });
    return {needs_grad(0) ? da : Tensor(), needs_grad(1) ? neg(da) : Tensor()};
  }
};

template <class Loss>
Tensor pointwise_loss(const Tensor& input, const Tensor& target, Reduction reduction, Loss loss) {
  check_defined(Loss::name, input);
  check_defined(Loss::name, target, "target");
  JEPA_CHECK(input.shape() == target.shape(), Loss::name, "input of shape ", input.shape(),
             " and target of shape ", target.shape(), " must have the same shape");
  Tensor per_element = binary_forward(Loss::name, input.detach(), target.detach(), LossValueFn<Loss>{loss});
  Tensor out;
  {
    NoGrad no_grad;
    out = reduction == Reduction::mean ? mean(per_element) : (reduction == Reduction::sum ? sum(per_element) : per_element);
  }
  if (auto node = record<PointwiseLossBackward<Loss>>(out, {input, target}, loss, reduction)) {
    node->input = input.detach();
    node->target = target.detach();
  }
  return out;
}

struct CrossEntropyBackward final : Node {
  Tensor log_probs, labels;  // (N, C) and (N)
  Reduction reduction;
  explicit CrossEntropyBackward(Reduction r) : reduction(r) {}
  const char* name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const int64_t N = log_probs.size(0), C = log_probs.size(1);
    const double scale = reduction == Reduction::mean ? 1.0 / static_cast<double>(N) : 1.0;
    Tensor dx = Tensor::empty(log_probs.shape(), log_probs.dtype(), Device::cpu());
    const Tensor lp = log_probs.to(Device::cpu()), g = grad.to(Device::cpu()).contiguous();
    const int64_t* y = labels.data<int64_t>();
    dispatch_float(dx.dtype(), "cross_entropy", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = lp.data<T>();
      const T* gr = g.data<T>();
      T* d = dx.data<T>();
      cpu::parallel_for(N, std::max<int64_t>(1, cpu::kElementwiseGrain / C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T gr_r = static_cast<T>((reduction == Reduction::none ? gr[r] : gr[0]) * scale);
          for (int64_t c = 0; c < C; ++c) d[r * C + c] = gr_r * (std::exp(p[r * C + c]) - (c == y[r] ? T(1) : T(0)));
        }
      });
    });
    return {dx.to(log_probs.device())};
  }
};

}  // namespace detail

inline Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean) {
  return detail::pointwise_loss(input, target, reduction, detail::MseFn{});
}

inline Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean) {
  return detail::pointwise_loss(input, target, reduction, detail::L1Fn{});
}

inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta = 1.0,
                             Reduction reduction = Reduction::mean) {
  JEPA_CHECK(beta > 0, "smooth_l1_loss", "beta must be positive, got ", beta);
  return detail::pointwise_loss(input, target, reduction, detail::SmoothL1Fn{beta});
}

// logits (N, C), labels (N) of class indices in [0, C).
inline Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction = Reduction::mean) {
  constexpr const char* op = "cross_entropy";
  detail::check_defined(op, logits);
  detail::check_defined(op, labels, "labels");
  JEPA_CHECK(logits.dim() == 2, op, "logits must be (N, C), got shape ", logits.shape());
  JEPA_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == logits.size(0), op,
             "labels must be i64 of shape [", logits.size(0), "], got ", labels.dtype(), " of shape ", labels.shape());
  const int64_t N = logits.size(0), C = logits.size(1);
  const Tensor y = labels.to(Device::cpu()).contiguous();
  const int64_t* yp = y.data<int64_t>();
  for (int64_t r = 0; r < N; ++r)
    JEPA_CHECK(yp[r] >= 0 && yp[r] < C, op, "label ", yp[r], " at row ", r, " is out of range for ", C, " classes");
  Tensor log_probs;
  {
    NoGrad no_grad;
    log_probs = log_softmax(logits.detach(), 1);
  }
  const Tensor lp = log_probs.to(Device::cpu());
  Tensor per_row = Tensor::empty({N}, logits.dtype());
  dispatch_float(logits.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t r = 0; r < N; ++r) per_row.data<T>()[r] = -lp.data<T>()[r * C + yp[r]];
  });
  Tensor out;
  {
    NoGrad no_grad;
    per_row = per_row.to(logits.device());
    out = reduction == Reduction::mean ? mean(per_row) : (reduction == Reduction::sum ? sum(per_row) : per_row);
  }
  if (auto node = record<detail::CrossEntropyBackward>(out, {logits}, reduction)) {
    node->log_probs = log_probs;
    node->labels = y;
  }
  return out;
}

}  // namespace jepa
