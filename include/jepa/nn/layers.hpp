// Linear and LayerNorm modules with the ViT initialisation used by the JEPA models: weights
// trunc_normal(std 0.02, bounds +-2 absolute), biases 0, LayerNorm weight 1 and bias 0.
// reference: https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
#pragma once
#include <jepa/nn/module.hpp>

namespace jepa::nn {

inline constexpr double kInitStd = 0.02;

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen, double init_std = kInitStd) {
    weight = register_parameter("weight", trunc_normal({out_features, in_features}, init_std, -2.0, 2.0, gen));
    if (bias) this->bias = register_parameter("bias", zeros({out_features}));
  }
  Tensor forward(const Tensor& x) const { return linear(x, weight, bias); }

  Tensor weight;  // (out, in)
  Tensor bias;    // (out) or undefined
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-6, bool affine = true) : dim_(dim), eps_(eps) {
    if (affine) {
      weight = register_parameter("weight", ones({dim}));
      bias = register_parameter("bias", zeros({dim}));
    }
  }
  Tensor forward(const Tensor& x) const { return layer_norm(x, {dim_}, weight, bias, eps_); }

  Tensor weight, bias;  // (dim) each, or undefined without affine

 private:
  int64_t dim_;
  double eps_;
};

}  // namespace jepa::nn
