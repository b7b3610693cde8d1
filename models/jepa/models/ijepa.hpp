// I-JEPA (Assran et al., 2023): a context encoder sees the visible blocks of an image, an EMA
// copy of it (the target encoder) embeds the whole image, and a predictor predicts the target
// encoder's features of the masked target blocks from the context.
//   h = layer_norm(target_encoder(images))      no affine, eps 1e-5, no gradient
//   h = h at the target indices, repeated once per context mask
//   z = predictor(encoder(images, context masks), context masks, target masks)
//   loss = smooth_l1(z, h), beta 1, mean over all elements
// The optimizer step and the EMA update live in the trainer (jepa_trainer.hpp).
#pragma once
#include <jepa/models/predictor.hpp>

namespace jepa::models {

struct IJEPAConfig {
  ViTConfig encoder;
  PredictorConfig predictor;
};

class IJEPA {
 public:
  IJEPA(const IJEPAConfig& config, Generator& gen)
      : config_(config),
        encoder(std::make_shared<VisionTransformer>(config.encoder, gen)),
        predictor(std::make_shared<Predictor>(config.predictor, gen)),
        target_encoder(std::make_shared<VisionTransformer>(config.encoder, gen)) {
    JEPA_CHECK(config.predictor.embed_dim == config.encoder.dim && config.predictor.grid == config.encoder.grid(),
               "IJEPA", "predictor (embed_dim ", config.predictor.embed_dim, ", grid ", config.predictor.grid,
               ") does not match encoder (dim ", config.encoder.dim, ", grid ", config.encoder.grid(), ")");
    target_encoder->load_state_dict(encoder->state_dict());
    for (Tensor& p : target_encoder->parameters()) p.requires_grad_(false);
  }

  // images (B, C, H, W); masks_context list(nenc) of (B, Kc); masks_target list(npred) of (B, Kp).
  Tensor loss(const Tensor& images, const std::vector<Tensor>& masks_context,
              const std::vector<Tensor>& masks_target) const {
    const int64_t B = images.size(0), nenc = static_cast<int64_t>(masks_context.size());
    Tensor targets;
    {
      NoGrad no_grad;
      Tensor h = target_encoder->forward(images);                                          // (B, N, D)
      h = layer_norm(h, {h.size(-1)});                                                     // no affine, eps 1e-5
      targets = repeat_interleave_batch(apply_masks(h, masks_target), B, nenc);            // (npred*nenc*B, Kp, D)
    }
    Tensor z = predictor->forward(encoder->forward(images, masks_context), masks_context, masks_target);
    return smooth_l1_loss(z, targets, 1.0);
  }

  const IJEPAConfig& config() const { return config_; }

  // Moves the three modules; before a trainer is built on their parameters.
  void to(Device device) {
    encoder->to(device);
    predictor->to(device);
    target_encoder->to(device);
  }

 private:
  IJEPAConfig config_;

 public:
  std::shared_ptr<VisionTransformer> encoder;
  std::shared_ptr<Predictor> predictor;
  std::shared_ptr<VisionTransformer> target_encoder;
};

}  // namespace jepa::models
