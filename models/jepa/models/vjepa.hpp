// V-JEPA (Bardes et al., 2024): I-JEPA on video. Clips are cut into 2 x p x p tubelets with 3-D
// sin-cos positions; each batch carries several mask configurations (short-range: many small
// blocks, long-range: a few large ones, all spanning the whole clip in time). For each config i:
//   z_i = predictor(encoder(clips, context_i), context_i, target_i, mask token i)
//   loss_i = mean |z_i - layer_norm(target_encoder(clips)) at target_i|        (L1)
// and the loss is the mean over configs. Optimizer, schedules and EMA are the shared trainer's.
// The official training script re-initialises every Linear after construction, which undoes the
// 1/sqrt(2 l) residual rescale: V-JEPA configs set rescale_residual_init = false to match.
#pragma once
#include <jepa/models/predictor.hpp>

namespace jepa::models {

struct VJEPAConfig {
  ViTConfig encoder;  // frames > 1
  PredictorConfig predictor;
};

// The context and target token indices of one mask configuration, each (B, K).
struct MaskPair {
  Tensor context, target;
};

class VJEPA {
 public:
  VJEPA(const VJEPAConfig& config, Generator& gen)
      : config_(config),
        encoder(std::make_shared<VisionTransformer>(config.encoder, gen)),
        predictor(std::make_shared<Predictor>(config.predictor, gen)),
        target_encoder(std::make_shared<VisionTransformer>(config.encoder, gen)) {
    JEPA_CHECK(config.encoder.video() && config.predictor.frames == config.encoder.frames, "VJEPA",
               "needs a video encoder (frames > 1) and a predictor over the same frames, got ", config.encoder.frames,
               " and ", config.predictor.frames);
    target_encoder->load_state_dict(encoder->state_dict());
    for (Tensor& p : target_encoder->parameters()) p.requires_grad_(false);
  }

  // layer_norm(target_encoder(clips)) without affine: (B, N, D), no gradient.
  Tensor target_features(const Tensor& clips) const {
    NoGrad no_grad;
    Tensor h = target_encoder->forward(clips);
    return layer_norm(h, {h.size(-1)});
  }

  // The predictor's output at masks.target from the context encoder's tokens at masks.context,
  // with mask token `mask_index`: (B, Kp, D).
  Tensor predict(const Tensor& clips, const MaskPair& masks, int64_t mask_index) const {
    return predictor->forward(encoder->forward(clips, {masks.context}), {masks.context}, {masks.target}, mask_index);
  }

  // clips (B, C, T, H, W); one MaskPair per mask configuration, mask configuration i using mask
  // token i.
  Tensor loss(const Tensor& clips, const std::vector<MaskPair>& masks) const {
    JEPA_CHECK(!masks.empty(), "VJEPA", "needs at least one mask configuration");
    const Tensor features = target_features(clips);
    Tensor total;
    for (size_t i = 0; i < masks.size(); ++i) {
      Tensor targets;
      {
        NoGrad no_grad;
        targets = apply_masks(features, {masks[i].target});
      }
      Tensor li = l1_loss(predict(clips, masks[i], static_cast<int64_t>(i)), targets);
      total = total.defined() ? total + li : li;
    }
    return total / static_cast<double>(masks.size());
  }

  // The loss's L1 term per clip, without a graph: mean |prediction - target features| over the
  // target tokens and features of each clip, (B). The surprise of an intuitive-physics test.
  Tensor prediction_error(const Tensor& clips, const MaskPair& masks, int64_t mask_index) const {
    NoGrad no_grad;
    return prediction_error(clips, masks, mask_index, apply_masks(target_features(clips), {masks.target}));
  }

  // The same against targets the caller already has: target_features at masks.target, (B, Kp, D).
  Tensor prediction_error(const Tensor& clips, const MaskPair& masks, int64_t mask_index, const Tensor& targets) const {
    NoGrad no_grad;
    return mean(abs(predict(clips, masks, mask_index) - targets), {1, 2});
  }

  const VJEPAConfig& config() const { return config_; }

 private:
  VJEPAConfig config_;

 public:
  std::shared_ptr<VisionTransformer> encoder;
  std::shared_ptr<Predictor> predictor;
  std::shared_ptr<VisionTransformer> target_encoder;
};

}  // namespace jepa::models
