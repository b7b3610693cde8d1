// `jepa train-vjepa`: pretrains V-JEPA on clips of the synthetic physics world, on the CPU by
// default. Writes to --out: checkpoint.safetensors, metrics.jsonl and loss.png (training_run.hpp).
// The loader thread generates each batch's clips (data/physics_clips.hpp) and samples its 3-D masks from
// the global step, so `--resume DIR` reproduces an uninterrupted run with the same thread count.
// `--init-from DIR` starts a new run from another one's model: a curriculum, e.g. the balls on a
// world without the occluder first (docs/experiments/vjepa-surprise-curriculum.md).
#include <jepa/data/physics_clips.hpp>

#include "commands.hpp"
#include "vjepa_options.hpp"

namespace jepa::tool {
namespace {

struct VideoBatch {
  Tensor clips;  // (B, 1, T, H, W), normalized
  std::vector<models::MaskPair> masks;  // one per mask configuration
};

void train_vjepa(TrainFlags<VJEPARunOptions> flags) {
  const Device device = use_device(flags.device, "train-vjepa");
  const std::optional<models::Checkpoint> resumed = start_training(flags, models::kVJEPACheckpointFormat, "train-vjepa");
  const VJEPARunOptions& run = flags.run;
  const OptimizationOptions& optim = run.optim;
  const PhysicsConfig world = run.physics_config();
  world.validate();
  const models::MultiBlockMask3D masker(run.mask_config());
  const int64_t steps_per_epoch = run.clips / optim.batch;
  JEPA_CHECK(steps_per_epoch > 0, "train-vjepa", run.clips, " clips give no full batch of ", optim.batch);

  Generator init(run.seed);
  models::VJEPA model(run.model_config(), init);
  model.to(device);
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder,
                              optim.recipe(steps_per_epoch, run.ipe_scale));
  load_start(trainer, flags, resumed, models::kVJEPACheckpointFormat);
  const int64_t first = trainer.steps_taken();
  const models::ViTConfig& encoder = model.config().encoder;
  std::cout << "V-JEPA: width " << encoder.dim << ", depth " << encoder.depth << ", " << encoder.heads << " heads, "
            << encoder.num_patches() << " tubelets of " << encoder.tubelet << "x" << encoder.patch_size << "x"
            << encoder.patch_size << "; " << model.encoder->num_parameters() / 1e6 << "M encoder + "
            << model.predictor->num_parameters() / 1e6 << "M predictor parameters; " << run.clips << " clips of "
            << run.frames << "x" << run.img << "x" << run.img << ", batch " << optim.batch << ", " << optim.epochs
            << " epochs (" << optim.epochs * steps_per_epoch << " steps), " << cpu::max_threads() << " threads, on " << device
            << start_note(flags, first) << "\n";

  const PixelStats stats = pixel_stats(world, run.seed);
  BatchLoader<VideoBatch> loader(loader_options(run.clips, optim.batch, run.seed, first), [&](const BatchPlan& plan) {
    const ClipBatch clips = generate_batch(world, clip_seeds(run.seed, ClipStream::train, plan.indices));
    const models::MaskBatch masks = masker.sample(optim.batch, plan.epoch * steps_per_epoch + plan.step);
    VideoBatch batch{normalize_clips(clips.frames, stats), {}};
    for (size_t i = 0; i < masks.context.size(); ++i) batch.masks.push_back({masks.context[i], masks.targets[i]});
    return batch;
  });

  std::ostringstream loss_name;
  if (run.loss_exp == 1) loss_name << "L1";
  else loss_name << "|error|^" << run.loss_exp << " / " << run.loss_exp;
  TrainingRun training =
      training_run(flags, models::kVJEPACheckpointFormat, "V-JEPA training loss (" + loss_name.str() + ")", steps_per_epoch);
  training.unit = "clip";
  run_training<VideoBatch>(trainer, loader, [&](const VideoBatch& b) {
    std::vector<models::MaskPair> masks;
    for (const models::MaskPair& m : b.masks) masks.push_back({m.context.to(device), m.target.to(device)});
    return model.loss(b.clips.to(device), masks);
  }, training);
}

}  // namespace

void register_train_vjepa(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags<VJEPARunOptions>>();
  CLI::App* cmd = app.add_subcommand("train-vjepa", "pretrain V-JEPA on synthetic physics clips (CPU quick-start by default)");
  add_train_flags(cmd, *flags);
  cmd->callback([flags] { train_vjepa(*flags); });
}

}  // namespace jepa::tool
