// The JEPA optimisation step shared by I-JEPA and V-JEPA:
//   s = s + 1; lr = lr_schedule(s); wd = wd_schedule(s)       (stepped before the forward)
//   loss = compute_loss(); loss.backward()                     (stops here if loss is not finite)
//   gradient clipping (V-JEPA): the encoder's and the predictor's gradients each to clip_grad,
//   separately, in epochs after the warm-up only; AdamW(lr, wd) on encoder + predictor
//   target = m(s) * target + (1 - m(s)) * encoder               (EMA, m from ema_start to ema_end)
// Parameters live in flat buffers (one for each module), so the optimizer, clipping and EMA are
// single passes. Every schedule is a function of the step, so the state to resume from is the
// modules, the AdamW moments and the step count (checkpoint.hpp names and saves them).
#pragma once
#include <cmath>
#include <functional>
#include <memory>

#include <jepa/optim/adamw.hpp>
#include <jepa/optim/clip.hpp>
#include <jepa/optim/ema.hpp>
#include <jepa/optim/schedules.hpp>

namespace jepa::models {

// The recipe in the official configs' terms (epochs, iterations per epoch, ipe_scale).
struct TrainRecipe {
  int64_t epochs = 1, iterations_per_epoch = 1;
  double warmup_epochs = 0, ipe_scale = 1.0;
  double start_lr = 2e-4, lr = 1e-3, final_lr = 1e-6;
  double weight_decay = 0.04, final_weight_decay = 0.4;
  double ema_start = 0.996, ema_end = 1.0;
  double clip_grad = 0;  // max gradient norm of each module; 0 disables clipping (I-JEPA has none)
};

struct StepStats {
  int64_t step;
  double loss, lr, weight_decay, momentum;
  double encoder_grad_norm, predictor_grad_norm;  // before clipping; 0 on steps that do not clip
};

class JepaTrainer {
 public:
  JepaTrainer(std::shared_ptr<nn::Module> encoder, std::shared_ptr<nn::Module> predictor,
              std::shared_ptr<nn::Module> target_encoder, const TrainRecipe& recipe, optim::AdamWOptions adamw = {})
      : encoder_(std::move(encoder)), predictor_(std::move(predictor)), target_(std::move(target_encoder)),
        recipe_(recipe),
        encoder_flat_(std::make_shared<optim::FlatParameters>(encoder_->named_parameters())),
        predictor_flat_(std::make_shared<optim::FlatParameters>(predictor_->named_parameters())),
        target_flat_(std::make_shared<optim::FlatParameters>(target_->named_parameters(), false)),
        optimizer_({encoder_flat_, predictor_flat_}, adamw) {
    const int64_t ipe = recipe.iterations_per_epoch;
    const int64_t total = optim::schedule_steps(static_cast<double>(recipe.epochs), ipe, recipe.ipe_scale);
    lr_ = {optim::schedule_steps(recipe.warmup_epochs, ipe), total, recipe.start_lr, recipe.lr, recipe.final_lr};
    wd_ = {recipe.weight_decay, recipe.final_weight_decay, total};
    momentum_ = {recipe.ema_start, recipe.ema_end,
                 recipe.ipe_scale * static_cast<double>(recipe.epochs) * static_cast<double>(ipe)};
  }

  StepStats step(const std::function<Tensor()>& compute_loss) {
    const int64_t s = optimizer_.steps_taken() + 1;
    StepStats stats{s, 0, lr_(s), wd_(s), momentum_(s), 0, 0};
    optimizer_.zero_grad();
    Tensor loss = compute_loss();
    stats.loss = loss.item();
    JEPA_CHECK(std::isfinite(stats.loss), "train", "loss is ", stats.loss, " at step ", s,
               "; stopping before the update (the last checkpoint is intact)");
    loss.backward();
    loss = Tensor();  // frees the graph's last references before the update
    if (clips_at(s)) {
      stats.encoder_grad_norm = optim::clip_grad_norm({encoder_flat_}, recipe_.clip_grad);
      stats.predictor_grad_norm = optim::clip_grad_norm({predictor_flat_}, recipe_.clip_grad);
    }
    optimizer_.step(stats.lr, stats.weight_decay);
    optim::ema_update(*target_flat_, *encoder_flat_, stats.momentum);
    return stats;
  }

  int64_t steps_taken() const { return optimizer_.steps_taken(); }
  const TrainRecipe& recipe() const { return recipe_; }

  // What a checkpoint saves and restores (checkpoint.hpp).
  const nn::Module& encoder() const { return *encoder_; }
  nn::Module& encoder() { return *encoder_; }
  const nn::Module& predictor() const { return *predictor_; }
  nn::Module& predictor() { return *predictor_; }
  const nn::Module& target_encoder() const { return *target_; }
  nn::Module& target_encoder() { return *target_; }
  const optim::AdamW& optimizer() const { return optimizer_; }
  optim::AdamW& optimizer() { return optimizer_; }

 private:
  // The official condition `epoch > warmup` with the 0-based epoch of step s.
  bool clips_at(int64_t s) const {
    const int64_t epoch = (s - 1) / recipe_.iterations_per_epoch;
    return recipe_.clip_grad > 0 && static_cast<double>(epoch) > recipe_.warmup_epochs;
  }

  std::shared_ptr<nn::Module> encoder_, predictor_, target_;
  TrainRecipe recipe_;
  std::shared_ptr<optim::FlatParameters> encoder_flat_, predictor_flat_, target_flat_;
  optim::AdamW optimizer_;
  optim::WarmupCosineSchedule lr_;
  optim::CosineWDSchedule wd_;
  optim::LinearMomentumSchedule momentum_;
};

}  // namespace jepa::models
