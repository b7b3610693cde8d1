// Patch and tubelet embedding: a convolution with kernel = stride = patch size, computed as one
// GEMM over the flattened patches. The weight keeps the convolution's shape, (D, C, p, p) for
// images and (D, C, t, p, p) for video, so checkpoints load unchanged. Tokens come out row-major
// over the patch grid ([t,] row, column), as the official flatten(2).transpose(1, 2).
#pragma once
#include <jepa/nn/layers.hpp>

namespace jepa::nn {

class PatchEmbed : public Module {
 public:
  // tubelet = 1 embeds images (B, C, H, W); tubelet > 1 embeds clips (B, C, T, H, W).
  PatchEmbed(int64_t channels, int64_t dim, int64_t patch, Generator& gen, int64_t tubelet = 1)
      : channels_(channels), patch_(patch), tubelet_(tubelet),
        proj(register_module("proj", std::make_shared<ConvWeights>(channels, dim, patch, tubelet, gen))) {}

  // (B, C, [T,] H, W) -> (B, tokens, D)
  Tensor forward(const Tensor& x) const {
    const bool video = tubelet_ > 1;
    JEPA_CHECK(x.dim() == (video ? 5 : 4) && x.size(1) == channels_, "PatchEmbed", "expected input (B, ", channels_,
               video ? ", T, H, W)" : ", H, W)", ", got shape ", x.shape());
    const int64_t B = x.size(0), H = x.size(-2), W = x.size(-1), T = video ? x.size(2) : 1;
    JEPA_CHECK(H % patch_ == 0 && W % patch_ == 0 && T % tubelet_ == 0, "PatchEmbed", "input shape ", x.shape(),
               " is not divisible into patches of ", patch_, video ? " and tubelets of " : "", video ? tubelet_ : patch_);
    const int64_t Hp = H / patch_, Wp = W / patch_, Tp = T / tubelet_;
    Tensor patches;  // (B, tokens, C * [t *] p * p)
    if (video) {
      patches = x.reshape({B, channels_, Tp, tubelet_, Hp, patch_, Wp, patch_})
                    .permute({0, 2, 4, 6, 1, 3, 5, 7})
                    .reshape({B, Tp * Hp * Wp, channels_ * tubelet_ * patch_ * patch_});
    } else {
      patches = x.reshape({B, channels_, Hp, patch_, Wp, patch_})
                    .permute({0, 2, 4, 1, 3, 5})
                    .reshape({B, Hp * Wp, channels_ * patch_ * patch_});
    }
    return linear(patches, proj->weight.reshape({proj->weight.size(0), -1}), proj->bias);
  }

  struct ConvWeights : Module {
    ConvWeights(int64_t channels, int64_t dim, int64_t patch, int64_t tubelet, Generator& gen) {
      const Shape shape = tubelet > 1 ? Shape{dim, channels, tubelet, patch, patch} : Shape{dim, channels, patch, patch};
      weight = register_parameter("weight", trunc_normal(shape, kInitStd, -2.0, 2.0, gen));
      bias = register_parameter("bias", zeros({dim}));
    }
    Tensor weight, bias;
  };

 private:
  int64_t channels_, patch_, tubelet_;

 public:
  std::shared_ptr<ConvWeights> proj;
};

}  // namespace jepa::nn
