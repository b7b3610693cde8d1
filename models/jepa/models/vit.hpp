// Vision Transformer encoder as in I-JEPA/V-JEPA: patch (or tubelet) embedding, fixed sin-cos
// positions added, optional token selection by masks, pre-norm blocks, final LayerNorm.
// No cls token and no pooling (evaluations pool outside). Parameter names and state_dict order
// follow the official checkpoints: pos_embed, patch_embed.proj.{weight,bias}, blocks.i.*, norm.*.
#pragma once
#include <string>

#include <jepa/models/masks_util.hpp>
#include <jepa/nn.hpp>

namespace jepa::models {

struct ViTConfig {
  int64_t image_size = 224, patch_size = 16, channels = 3;
  int64_t dim = 768, depth = 12, heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double eps = 1e-6;
  int64_t frames = 1, tubelet = 2;    // frames > 1: video with 3-D tubelets and V-JEPA positions
  bool rescale_residual_init = true;  // attn.proj / mlp.fc2 weights of block l divided by sqrt(2 l)

  bool video() const { return frames > 1; }
  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return (video() ? frames / tubelet : 1) * grid() * grid(); }
};

// The official sizes: tiny, small, base, large, huge, giant (width, depth, heads, mlp ratio).
inline ViTConfig vit_config(const std::string& name, int64_t image_size, int64_t patch_size, int64_t channels = 3) {
  ViTConfig c;
  c.image_size = image_size;
  c.patch_size = patch_size;
  c.channels = channels;
  if (name == "vit_tiny") { c.dim = 192; c.depth = 12; c.heads = 3; }
  else if (name == "vit_small") { c.dim = 384; c.depth = 12; c.heads = 6; }
  else if (name == "vit_base") { c.dim = 768; c.depth = 12; c.heads = 12; }
  else if (name == "vit_large") { c.dim = 1024; c.depth = 24; c.heads = 16; }
  else if (name == "vit_huge") { c.dim = 1280; c.depth = 32; c.heads = 16; }
  else if (name == "vit_giant") { c.dim = 1408; c.depth = 40; c.heads = 16; c.mlp_ratio = 48.0 / 11.0; }
  else fail("vit_config", "unknown model '", name, "' (expected vit_tiny, vit_small, vit_base, vit_large, vit_huge or vit_giant)");
  return c;
}

inline void check_vit_config(const ViTConfig& c) {
  JEPA_CHECK(c.patch_size > 0 && c.image_size % c.patch_size == 0, "ViT", "image size ", c.image_size,
             " is not a multiple of patch size ", c.patch_size);
  JEPA_CHECK(!c.video() || c.frames % c.tubelet == 0, "ViT", "frames ", c.frames, " is not a multiple of tubelet ",
             c.tubelet);
  JEPA_CHECK(c.dim % c.heads == 0, "ViT", "dim ", c.dim, " is not divisible by ", c.heads, " heads");
}

// Divides each block's residual-branch output weights by sqrt(2 * (layer index, 1-based)).
template <class BlockList>
void rescale_residual_weights(const BlockList& blocks) {
  NoGrad no_grad;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const double s = 1.0 / std::sqrt(2.0 * static_cast<double>(i + 1));
    blocks[i]->attn->proj->weight.mul_(s);
    blocks[i]->mlp->fc2->weight.mul_(s);
  }
}

class VisionTransformer : public nn::Module {
 public:
  VisionTransformer(const ViTConfig& config, Generator& gen) : config_(config) {
    check_vit_config(config);
    const int64_t g = config.grid();
    Tensor table = config.video() ? nn::sincos_3d_vjepa(config.dim, config.frames / config.tubelet, g, g)
                                  : nn::sincos_2d_ijepa(config.dim, g, g);
    pos_embed = register_buffer("pos_embed", table.unsqueeze(0));  // (1, N, D)
    patch_embed = register_module("patch_embed", std::make_shared<nn::PatchEmbed>(
                                                     config.channels, config.dim, config.patch_size, gen,
                                                     config.video() ? config.tubelet : 1));
    for (int64_t i = 0; i < config.depth; ++i)
      blocks.push_back(register_module("blocks." + std::to_string(i),
                                       std::make_shared<nn::Block>(config.dim, config.heads, config.mlp_ratio,
                                                                   config.qkv_bias, config.eps, gen)));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(config.dim, config.eps));
    if (config.rescale_residual_init) rescale_residual_weights(blocks);
  }

  // x (B, C, H, W) or (B, C, T, H, W) -> (B, N, D); with masks (each (B, K) token indices) only
  // those tokens go through the blocks, and the result is (len(masks) * B, K, D).
  Tensor forward(const Tensor& x, const std::vector<Tensor>& masks = {}) const {
    Tensor tokens = patch_embed->forward(x) + pos_embed;  // (B, N, D)
    if (!masks.empty()) tokens = apply_masks(tokens, masks);
    for (const auto& block : blocks) tokens = block->forward(tokens);
    return norm->forward(tokens);
  }

  // The final norm applied to the outputs of the last `count` blocks (0: all), in block order, each
  // (B, N, D); the last one is forward(x). Linear probes concatenate them, as DINO's evaluation does
  // and as users of the official I-JEPA checkpoints found best (ijepa#47: 77% last, 80.8% last 4).
  std::vector<Tensor> forward_last_blocks(const Tensor& x, int64_t count) const {
    const auto depth = static_cast<int64_t>(blocks.size());
    JEPA_CHECK(count >= 0 && count <= depth, "VisionTransformer::forward_last_blocks",
               "count must be between 0 (all) and the depth ", depth, ", got ", count);
    const int64_t first_kept = count == 0 ? 0 : depth - count;
    Tensor tokens = patch_embed->forward(x) + pos_embed;
    std::vector<Tensor> outputs;
    for (int64_t i = 0; i < depth; ++i) {
      tokens = blocks[static_cast<size_t>(i)]->forward(tokens);
      if (i >= first_kept) outputs.push_back(norm->forward(tokens));
    }
    return outputs;
  }

  const ViTConfig& config() const { return config_; }

  Tensor pos_embed;  // (1, N, D), fixed
  std::shared_ptr<nn::PatchEmbed> patch_embed;
  std::vector<std::shared_ptr<nn::Block>> blocks;
  std::shared_ptr<nn::LayerNorm> norm;

 private:
  ViTConfig config_;
};

}  // namespace jepa::models
