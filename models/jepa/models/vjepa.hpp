// V-JEPA (Bardes et al., 2024): I-JEPA on video. Clips are cut into 2 x p x p tubelets with 3-D
// sin-cos positions; each batch carries several mask configurations (short-range: many small
// blocks, long-range: a few large ones, all spanning the whole clip in time). For each config i:
//   z_i = predictor(encoder(clips, context_i), context_i, target_i, mask token i)
//   loss_i = mean |z_i - layer_norm(target_encoder(clips)) at target_i|^p / p
// (p = loss_exp, the official config's: 1, an L1 loss) and the loss is the mean over configs.
// Optimizer, schedules and EMA are the shared trainer's.
// The official training script re-initialises every Linear after construction, which undoes the
// 1/sqrt(2 l) residual rescale: V-JEPA configs set rescale_residual_init = false to match.
#pragma once
#include <jepa/models/predictor.hpp>

namespace jepa::models {

struct VJEPAConfig {
  ViTConfig encoder;  // frames > 1
  PredictorConfig predictor;
  // p >= 1. At p = 1 every target feature's gradient has the same size whatever its error, so on
  // clips that are mostly static background the few moving-ball features barely steer the
  // predictor; p = 2 weighs them by their error (see the train-vjepa options).
  double loss_exp = 1.0;
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
    JEPA_CHECK(config.loss_exp >= 1, "VJEPA", "loss_exp must be >= 1, got ", config.loss_exp);
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
      const Tensor z = predict(clips, masks[i], static_cast<int64_t>(i));
      const double p = config_.loss_exp;
      Tensor li = p == 1.0 ? l1_loss(z, targets) : mean(pow(abs(z - targets), p)) / p;
      total = total.defined() ? total + li : li;
    }
    return total / static_cast<double>(masks.size());
  }

  // The L1 error per clip, without a graph: mean |prediction - target features| over the target
  // tokens and features of each clip, (B) (the loss's term at loss_exp 1). The surprise of an
  // intuitive-physics test.
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

  // Moves the three modules; before a trainer is built on their parameters.
  void to(Device device) {
    encoder->to(device);
    predictor->to(device);
    target_encoder->to(device);
  }

 private:
  VJEPAConfig config_;

 public:
  std::shared_ptr<VisionTransformer> encoder;
  std::shared_ptr<Predictor> predictor;
  std::shared_ptr<VisionTransformer> target_encoder;
};

}  // namespace jepa::models
