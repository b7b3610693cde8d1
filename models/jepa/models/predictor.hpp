// The JEPA predictor: a narrow ViT that receives the context encoder's tokens plus one mask token
// per target position and predicts the target encoder's features there. I-JEPA uses one learned
// mask token (trunc-normal init) and 2-D positions; V-JEPA uses one zero-initialised mask token per
// mask configuration (mask_tokens.i) and 3-D positions over (time, row, column).
//   x  = predictor_embed(context) + positions at the context indices
//   t  = mask_token + positions at the target indices (one set per target block)
//   run the blocks on [x repeated per target block | t], normalize, keep the target tokens,
//   predictor_proj back to the encoder width.
// Batch layout of the output: [target block, context block, image] (the official ordering).
// Names follow the official checkpoints: mask_token (or mask_tokens.i), predictor_pos_embed,
// predictor_embed, predictor_blocks.i, predictor_norm, predictor_proj.
#pragma once
#include <jepa/models/vit.hpp>

namespace jepa::models {

struct PredictorConfig {
  int64_t grid = 14;         // patches per side (the encoder's)
  int64_t frames = 1, tubelet = 2;  // frames > 1: video tokens with 3-D positions (V-JEPA)
  int64_t num_mask_tokens = 0;      // 0: one trunc-normal `mask_token` (I-JEPA); n: n zero-init `mask_tokens.i`
  int64_t embed_dim = 768;   // encoder width
  int64_t dim = 384, depth = 6, heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double eps = 1e-6;
  bool rescale_residual_init = true;
};

// The predictor config that goes with an encoder: same grid and heads, given width and depth.
inline PredictorConfig predictor_for(const ViTConfig& encoder, int64_t dim, int64_t depth) {
  PredictorConfig p;
  p.grid = encoder.grid();
  p.frames = encoder.frames;
  p.tubelet = encoder.tubelet;
  p.embed_dim = encoder.dim;
  p.dim = dim;
  p.depth = depth;
  p.heads = encoder.heads;
  p.mlp_ratio = encoder.mlp_ratio;
  p.qkv_bias = encoder.qkv_bias;
  p.eps = encoder.eps;
  p.rescale_residual_init = encoder.rescale_residual_init;
  return p;
}

class Predictor : public nn::Module {
 public:
  Predictor(const PredictorConfig& config, Generator& gen) : config_(config) {
    JEPA_CHECK(config.dim % config.heads == 0, "Predictor", "dim ", config.dim, " is not divisible by ", config.heads,
               " heads");
    predictor_embed = register_module("predictor_embed", std::make_shared<nn::Linear>(config.embed_dim, config.dim, true, gen));
    if (config.num_mask_tokens == 0) {
      mask_tokens.push_back(
          register_parameter("mask_token", trunc_normal({1, 1, config.dim}, nn::kInitStd, -2.0, 2.0, gen)));
    }
    for (int64_t i = 0; i < config.num_mask_tokens; ++i)
      mask_tokens.push_back(register_parameter("mask_tokens." + std::to_string(i), zeros({1, 1, config.dim})));
    const Tensor table = config.frames > 1
                             ? nn::sincos_3d_vjepa(config.dim, config.frames / config.tubelet, config.grid, config.grid)
                             : nn::sincos_2d_ijepa(config.dim, config.grid, config.grid);
    predictor_pos_embed = register_buffer("predictor_pos_embed", table.unsqueeze(0));
    for (int64_t i = 0; i < config.depth; ++i)
      predictor_blocks.push_back(register_module(
          "predictor_blocks." + std::to_string(i),
          std::make_shared<nn::Block>(config.dim, config.heads, config.mlp_ratio, config.qkv_bias, config.eps, gen)));
    predictor_norm = register_module("predictor_norm", std::make_shared<nn::LayerNorm>(config.dim, config.eps));
    predictor_proj = register_module("predictor_proj", std::make_shared<nn::Linear>(config.dim, config.embed_dim, true, gen));
    if (config.rescale_residual_init) rescale_residual_weights(predictor_blocks);
  }

  // context (nenc * B, Kc, D), masks_context list(nenc) of (B, Kc), masks_target list(npred) of
  // (B, Kp) -> (npred * nenc * B, Kp, D). mask_index picks the V-JEPA mask token.
  Tensor forward(const Tensor& context, const std::vector<Tensor>& masks_context,
                 const std::vector<Tensor>& masks_target, int64_t mask_index = 0) const {
    JEPA_CHECK(!masks_context.empty() && !masks_target.empty(), "Predictor", "needs context and target masks");
    const int64_t B = masks_context[0].size(0), nenc = static_cast<int64_t>(masks_context.size());
    const int64_t npred = static_cast<int64_t>(masks_target.size());
    JEPA_CHECK(context.dim() == 3 && context.size(0) == nenc * B, "Predictor", "context of shape ", context.shape(),
               " does not match ", nenc, " context masks of batch ", B);
    const Tensor pos = predictor_pos_embed.expand({B, predictor_pos_embed.size(1), config_.dim});  // (B, N, Dp)

    Tensor x = predictor_embed->forward(context) + apply_masks(pos, masks_context);  // (nenc*B, Kc, Dp)
    const int64_t Kc = x.size(1);
    const Tensor& token = mask_tokens[static_cast<size_t>(mask_index) % mask_tokens.size()];
    Tensor targets = repeat_interleave_batch(apply_masks(pos, masks_target), B, nenc) + token;  // (npred*nenc*B, Kp, Dp)
    x = cat({repeat(x, {npred, 1, 1}), targets}, 1);
    for (const auto& block : predictor_blocks) x = block->forward(x);
    x = predictor_norm->forward(x);
    return predictor_proj->forward(x.narrow(1, Kc, x.size(1) - Kc));
  }

  const PredictorConfig& config() const { return config_; }

  std::shared_ptr<nn::Linear> predictor_embed;
  std::vector<Tensor> mask_tokens;  // each (1, 1, Dp)
  Tensor predictor_pos_embed;  // (1, N, Dp), fixed
  std::vector<std::shared_ptr<nn::Block>> predictor_blocks;
  std::shared_ptr<nn::LayerNorm> predictor_norm;
  std::shared_ptr<nn::Linear> predictor_proj;

 private:
  PredictorConfig config_;
};

}  // namespace jepa::models
