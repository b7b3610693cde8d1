// Every setting of an I-JEPA run, defined once: the same field list makes the command-line flags,
// the checkpoint metadata (so `probe` and `--resume` rebuild the exact run) and the model config.
// Defaults are the Fashion-MNIST quick-start: a 6-block ViT-Tiny on 7 x 7 patches of 4 x 4 pixels.
#pragma once
#include <map>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <jepa/data/idx.hpp>
#include <jepa/models/ijepa.hpp>
#include <jepa/models/multiblock_mask.hpp>
#include <jepa/models/trainer.hpp>

namespace jepa::tool {

struct IJEPARunOptions {
  // model
  std::string model = "vit_tiny";
  int64_t depth = 6, patch = 4, img = 28, channels = 1;
  int64_t pred_dim = 96, pred_depth = 3;
  // data
  std::string data = kFashionMnistDir;
  int64_t limit = 0;  // use only the first `limit` training images (0: all)
  double crop_scale_min = 0.3, crop_scale_max = 1.0;
  // optimisation
  int64_t epochs = 3, batch = 64;
  double warmup = 0.5, start_lr = 2e-4, lr = 1e-3, final_lr = 1e-6;
  double wd = 0.04, final_wd = 0.4, ema_start = 0.996, ema_end = 1.0, clip = 0.0;
  // masks (scales are fractions of the patch grid)
  double enc_scale_min = 0.85, enc_scale_max = 1.0, pred_scale_min = 0.15, pred_scale_max = 0.2;
  double aspect_min = 0.75, aspect_max = 1.5;
  int64_t nenc = 1, npred = 4, min_keep = 4;
  uint64_t seed = 0;

  // Calls f(name, field, help) for every setting, in a fixed order.
  template <class F>
  void visit(F&& f) {
    f("model", model, "ViT size: vit_tiny, vit_small, vit_base, vit_large, vit_huge, vit_giant");
    f("depth", depth, "number of encoder blocks (overrides the size's depth; 0 keeps it)");
    f("patch", patch, "patch size in pixels");
    f("img", img, "image size after cropping");
    f("channels", channels, "image channels");
    f("pred-dim", pred_dim, "predictor width");
    f("pred-depth", pred_depth, "predictor blocks");
    f("data", data, "directory with the Fashion-MNIST IDX files");
    f("limit", limit, "train on the first N images only (0: all)");
    f("crop-scale-min", crop_scale_min, "RandomResizedCrop smallest area fraction");
    f("crop-scale-max", crop_scale_max, "RandomResizedCrop largest area fraction");
    f("epochs", epochs, "epochs of the schedule");
    f("batch", batch, "images per step");
    f("warmup", warmup, "warm-up length in epochs");
    f("start-lr", start_lr, "learning rate at the start of warm-up");
    f("lr", lr, "peak learning rate");
    f("final-lr", final_lr, "learning rate at the end of the cosine");
    f("wd", wd, "weight decay at the start");
    f("final-wd", final_wd, "weight decay at the end (cosine)");
    f("ema-start", ema_start, "target-encoder EMA momentum at the start");
    f("ema-end", ema_end, "EMA momentum at the end");
    f("clip", clip, "gradient-norm clipping threshold (0: off, as I-JEPA)");
    f("enc-scale-min", enc_scale_min, "context block scale, low");
    f("enc-scale-max", enc_scale_max, "context block scale, high");
    f("pred-scale-min", pred_scale_min, "target block scale, low");
    f("pred-scale-max", pred_scale_max, "target block scale, high");
    f("aspect-min", aspect_min, "target block aspect ratio, low");
    f("aspect-max", aspect_max, "target block aspect ratio, high");
    f("nenc", nenc, "context blocks per image");
    f("npred", npred, "target blocks per image");
    f("min-keep", min_keep, "fewest tokens a mask may keep");
    f("seed", seed, "random seed (weights, data order, crops, masks)");
  }

  void add_flags(CLI::App* cmd) {
    visit([&](const std::string& name, auto& field, const std::string& help) {
      cmd->add_option("--" + name, field, help)->capture_default_str();
    });
  }

  std::map<std::string, std::string> to_metadata() {
    std::map<std::string, std::string> meta;
    visit([&](const std::string& name, auto& field, const std::string&) {
      std::ostringstream os;
      os.precision(17);
      os << field;
      meta[name] = os.str();
    });
    return meta;
  }

  static IJEPARunOptions from_metadata(const std::map<std::string, std::string>& meta, const std::string& source) {
    IJEPARunOptions o;
    o.visit([&](const std::string& name, auto& field, const std::string&) {
      auto it = meta.find(name);
      JEPA_CHECK(it != meta.end(), "checkpoint", source, " has no setting '", name, "' in its metadata");
      std::istringstream is(it->second);
      is >> field;
      JEPA_CHECK(!is.fail(), "checkpoint", source, ": cannot read setting '", name, "' from '", it->second, "'");
    });
    return o;
  }

  models::IJEPAConfig model_config() const {
    models::IJEPAConfig c;
    c.encoder = models::vit_config(model, img, patch, channels);
    if (depth > 0) c.encoder.depth = depth;
    // The official training script re-draws every Linear after the model's sqrt(2 l) rescale
    // (ijepa src/helper.py init_model), so training starts without it; `jepa init` does the same.
    c.encoder.rescale_residual_init = false;
    c.predictor = models::predictor_for(c.encoder, pred_dim, pred_depth);
    return c;
  }

  models::MultiBlockMaskConfig mask_config() const {
    models::MultiBlockMaskConfig m;
    m.height = m.width = img / patch;
    m.enc_mask_scale = {enc_scale_min, enc_scale_max};
    m.pred_mask_scale = {pred_scale_min, pred_scale_max};
    m.aspect_ratio = {aspect_min, aspect_max};
    m.nenc = nenc;
    m.npred = npred;
    m.min_keep = min_keep;
    m.seed = seed;
    return m;
  }

  models::TrainRecipe recipe(int64_t iterations_per_epoch) const {
    models::TrainRecipe r;
    r.epochs = epochs;
    r.iterations_per_epoch = iterations_per_epoch;
    r.warmup_epochs = warmup;
    r.start_lr = start_lr;
    r.lr = lr;
    r.final_lr = final_lr;
    r.weight_decay = wd;
    r.final_weight_decay = final_wd;
    r.ema_start = ema_start;
    r.ema_end = ema_end;
    r.clip_grad = clip;
    return r;
  }
};

// The tag in the metadata of train-ijepa checkpoints.
inline constexpr const char* kIJEPATrainFormat = "jepa-cpp/ijepa-train/1";

// Fashion-MNIST pixel statistics (train set), used to normalize inputs for training and probing.
inline constexpr double kFashionMnistMean = 0.2860, kFashionMnistStd = 0.3530;

}  // namespace jepa::tool
