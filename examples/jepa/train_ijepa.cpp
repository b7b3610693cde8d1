// `jepa train-ijepa`: pretrains I-JEPA, by default on Fashion-MNIST on the CPU (--device: on a GPU).
// Writes to --out: checkpoint.safetensors, metrics.jsonl and loss.png (training_run.hpp).
// `--resume DIR` continues a run from its checkpoint with the checkpoint's settings; data order,
// crops and masks are functions of (seed, step), so the result equals an uninterrupted run with
// the same thread count.
#include <jepa/data/transforms.hpp>

#include "commands.hpp"
#include "ijepa_options.hpp"
#include "training_run.hpp"

namespace jepa::tool {
namespace {

struct Batch {
  Tensor images;  // (B, C, img, img), normalized
  models::MaskBatch masks;
};

void train(TrainFlags<IJEPARunOptions> flags) {
  const Device device = use_device(flags.device, "train-ijepa");
  const std::optional<models::Checkpoint> resumed = start_training(flags, models::kIJEPACheckpointFormat, "train-ijepa");
  const IJEPARunOptions& run = flags.run;
  const OptimizationOptions& optim = run.optim;

  const FashionMnist data = load_fashion_mnist(run.data, "train");
  const int64_t n = run.limit > 0 ? std::min<int64_t>(run.limit, data.images.size(0)) : data.images.size(0);
  const Tensor images = data.images.narrow(0, 0, n);
  JEPA_CHECK(images.size(1) == run.channels, "train-ijepa", "the data has ", images.size(1),
             " channels but --channels is ", run.channels);
  const int64_t steps_per_epoch = n / optim.batch;
  JEPA_CHECK(steps_per_epoch > 0, "train-ijepa", n, " images give no full batch of ", optim.batch);

  Generator init(run.seed);
  models::IJEPA model(run.model_config(), init);
  model.to(device);
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, optim.recipe(steps_per_epoch));
  load_start(trainer, flags, resumed, models::kIJEPACheckpointFormat);
  const int64_t first = trainer.steps_taken();
  std::cout << "I-JEPA: " << run.model << " depth " << model.config().encoder.depth << ", "
            << model.encoder->num_parameters() / 1e6 << "M encoder + " << model.predictor->num_parameters() / 1e6
            << "M predictor parameters; " << n << " images, batch " << optim.batch << ", " << optim.epochs << " epochs ("
            << optim.epochs * steps_per_epoch << " steps), " << cpu::max_threads() << " threads, on " << device
            << start_note(flags, first) << "\n";

  const RandomResizedCrop crop(run.img, {run.crop_scale_min, run.crop_scale_max});
  const Normalize normalize({kFashionMnistMean}, {kFashionMnistStd});
  const models::MultiBlockMask masker(run.mask_config());
  BatchLoader<Batch> loader(loader_options(n, optim.batch, run.seed, first), [&](const BatchPlan& plan) {
    Tensor crops = crop.crop_samples(images, plan.indices,
                                     [&](int64_t i) { return sample_generator(run.seed, plan.epoch, i); });
    return Batch{normalize(crops), masker.sample(optim.batch, plan.epoch * steps_per_epoch + plan.step)};
  });

  const TrainingRun training = training_run(flags, models::kIJEPACheckpointFormat, "I-JEPA training loss (smooth L1)", steps_per_epoch);
  run_training<Batch>(trainer, loader,
                      [&](const Batch& b) {
                        return model.loss(b.images.to(device), to_device(b.masks.context, device),
                                          to_device(b.masks.targets, device));
                      }, training);
}

}  // namespace

void register_train_ijepa(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags<IJEPARunOptions>>();
  CLI::App* cmd = app.add_subcommand("train-ijepa", "pretrain I-JEPA (Fashion-MNIST quick-start by default)");
  add_train_flags(cmd, *flags);
  cmd->callback([flags] { train(*flags); });
}

}  // namespace jepa::tool
