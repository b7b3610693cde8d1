// AdamW over flat parameter buffers: one fused pass per buffer per step. Which parameters get
// weight decay is decided once, by name and shape (JEPA: no decay on biases and 1-D parameters);
// lr and weight decay are passed to each step, so schedules stay outside the optimizer.
// reference: https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html
#pragma once
#include <functional>
#include <memory>

#include <jepa/backends/cpu/optim.hpp>
#include <jepa/optim/flat_params.hpp>

namespace jepa::optim {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

// The official JEPA rule: decay weights; skip biases and all 1-D parameters.
inline bool decay_weights_only(const std::string& name, const Tensor& t) {
  return name.find("bias") == std::string::npos && t.dim() != 1;
}

class AdamW {
 public:
  using DecayRule = std::function<bool(const std::string&, const Tensor&)>;

  AdamW(std::vector<std::shared_ptr<FlatParameters>> buffers, AdamWOptions options = {},
        DecayRule decay = decay_weights_only)
      : buffers_(std::move(buffers)), options_(options) {
    for (const auto& buf : buffers_) {
      JEPA_CHECK(buf->grads().defined(), "AdamW", "parameter buffer has no gradient buffer");
      State st;
      st.m = zeros_like(buf->values());
      st.v = zeros_like(buf->values());
      const auto& named = buf->named();
      for (size_t i = 0; i < named.size(); ++i) {
        const int64_t b = buf->offset(i), e = b + named[i].second.numel();
        const bool d = decay(named[i].first, named[i].second);
        if (!st.segments.empty() && st.segments.back().decay == d && st.segments.back().end == b)
          st.segments.back().end = e;
        else
          st.segments.push_back({b, e, d});
      }
      state_.push_back(std::move(st));
    }
  }

  void step(double lr, double weight_decay) {
    ++step_;
    const cpu::AdamWStep s{lr, weight_decay, options_.beta1, options_.beta2, options_.eps, step_};
    NoGrad no_grad;
    for (size_t k = 0; k < buffers_.size(); ++k) {
      const Tensor& p = buffers_[k]->values();
      const Tensor& g = buffers_[k]->grads();
      State& st = state_[k];
      dispatch_float(p.dtype(), "AdamW", [&](auto tag) {
        using T = typename decltype(tag)::type;
        JEPA_ON_DEVICE(p.device(),
                       cpu::adamw(p.data<T>(), g.data<T>(), st.m.data<T>(), st.v.data<T>(), st.segments, s),
                       gpu::adamw(p, g, st.m, st.v, st.segments, s));
      });
    }
  }

  void zero_grad() {
    for (auto& b : buffers_) b->zero_grad();
  }

  int64_t steps_taken() const { return step_; }

  // Moments and step count, for checkpoints: "adamw.<k>.m", "adamw.<k>.v", "adamw.step".
  nn::NamedTensors state_dict() const {
    nn::NamedTensors out;
    for (size_t k = 0; k < state_.size(); ++k) {
      out.emplace_back("adamw." + std::to_string(k) + ".m", state_[k].m);
      out.emplace_back("adamw." + std::to_string(k) + ".v", state_[k].v);
    }
    out.emplace_back("adamw.step", from_vector(std::vector<int64_t>{step_}, {1}));
    return out;
  }

  void load_state_dict(const nn::NamedTensors& state) {
    NoGrad no_grad;
    auto find = [&](const std::string& name) -> const Tensor& {
      for (const auto& [n, t] : state)
        if (n == name) return t;
      fail("AdamW", "optimizer state has no tensor '", name, "'");
    };
    for (size_t k = 0; k < state_.size(); ++k) {
      for (auto [suffix, dst] : {std::pair{".m", &state_[k].m}, std::pair{".v", &state_[k].v}}) {
        const Tensor& src = find("adamw." + std::to_string(k) + suffix);
        JEPA_CHECK(src.shape() == dst->shape(), "AdamW", "state 'adamw.", k, suffix, "' has shape ", src.shape(),
                   ", expected ", dst->shape());
        dst->copy_(src.to(dst->dtype()));
      }
    }
    step_ = static_cast<int64_t>(find("adamw.step").item());
  }

 private:
  struct State {
    Tensor m, v;
    std::vector<cpu::DecaySegment> segments;
  };
  std::vector<std::shared_ptr<FlatParameters>> buffers_;
  std::vector<State> state_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

}  // namespace jepa::optim
