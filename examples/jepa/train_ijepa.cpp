// `jepa train-ijepa`: pretrains I-JEPA, by default on Fashion-MNIST on the CPU.
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

struct TrainFlags {
  IJEPARunOptions run;
  std::string out, resume;
  int64_t max_steps = 0, checkpoint_every = 0, threads = 0;
};

void train(TrainFlags flags) {
  SafeTensors resumed;
  if (!flags.resume.empty()) {
    resumed = load_run_checkpoint(flags.resume, kIJEPATrainFormat);
    flags.run = IJEPARunOptions::from_metadata(resumed.metadata, flags.resume);
    if (flags.out.empty()) flags.out = flags.resume;
  }
  JEPA_CHECK(!flags.out.empty(), "train-ijepa", "--out DIR is required (or --resume DIR)");
#ifdef _OPENMP  // not defined in a HIP build's device passes, which parse this host code too
  if (flags.threads > 0) omp_set_num_threads(static_cast<int>(flags.threads));
#endif
  const IJEPARunOptions& run = flags.run;

  const FashionMnist data = load_fashion_mnist(run.data, "train");
  const int64_t n = run.limit > 0 ? std::min<int64_t>(run.limit, data.images.size(0)) : data.images.size(0);
  const Tensor images = data.images.narrow(0, 0, n);
  JEPA_CHECK(images.size(1) == run.channels, "train-ijepa", "the data has ", images.size(1),
             " channels but --channels is ", run.channels);
  const int64_t steps_per_epoch = n / run.batch;
  JEPA_CHECK(steps_per_epoch > 0, "train-ijepa", n, " images give no full batch of ", run.batch);

  Generator init(run.seed);
  models::IJEPA model(run.model_config(), init);
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, run.recipe(steps_per_epoch));
  if (!flags.resume.empty()) trainer.load_state_dict(resumed.tensors);
  const int64_t first = trainer.steps_taken();
  std::cout << "I-JEPA: " << run.model << " depth " << model.config().encoder.depth << ", "
            << model.encoder->num_parameters() / 1e6 << "M encoder + " << model.predictor->num_parameters() / 1e6
            << "M predictor parameters; " << n << " images, batch " << run.batch << ", " << run.epochs << " epochs ("
            << run.epochs * steps_per_epoch << " steps), " << cpu::max_threads() << " threads"
            << (first > 0 ? ", resuming at step " + std::to_string(first) : std::string()) << "\n";

  const RandomResizedCrop crop(run.img, {run.crop_scale_min, run.crop_scale_max});
  const Normalize normalize({kFashionMnistMean}, {kFashionMnistStd});
  const models::MultiBlockMask masker(run.mask_config());
  LoaderOptions loader_options;
  loader_options.dataset_size = n;
  loader_options.batch_size = run.batch;
  loader_options.seed = run.seed;
  loader_options.start_epoch = first / steps_per_epoch;
  loader_options.start_step = first % steps_per_epoch;
  BatchLoader<Batch> loader(loader_options, [&](const BatchPlan& plan) {
    Tensor crops = crop.crop_samples(images, plan.indices,
                                     [&](int64_t i) { return sample_generator(run.seed, plan.epoch, i); });
    return Batch{normalize(crops), masker.sample(run.batch, plan.epoch * steps_per_epoch + plan.step)};
  });

  TrainingRun training;
  training.out = flags.out;
  training.format = kIJEPATrainFormat;
  training.metadata = flags.run.to_metadata();
  training.title = "I-JEPA training loss (smooth L1)";
  training.batch_size = run.batch;
  training.steps_per_epoch = steps_per_epoch;
  training.total_steps = run.epochs * steps_per_epoch;
  training.max_steps = flags.max_steps;
  training.checkpoint_every = flags.checkpoint_every;
  run_training<Batch>(trainer, loader,
                      [&](const Batch& b) { return model.loss(b.images, b.masks.context, b.masks.targets); }, training);
}

}  // namespace

void register_train_ijepa(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand("train-ijepa", "pretrain I-JEPA (Fashion-MNIST quick-start by default)");
  cmd->set_config("--config", "", "read flags from a TOML/INI file");
  cmd->add_option("--out", flags->out, "output directory (checkpoint, metrics.jsonl, loss.png)");
  cmd->add_option("--resume", flags->resume, "continue the run saved in this directory, with its settings");
  cmd->add_option("--max-steps", flags->max_steps, "stop after this many steps of this invocation (0: run to the end)");
  cmd->add_option("--checkpoint-every", flags->checkpoint_every, "steps between checkpoints (0: every epoch)");
  cmd->add_option("--threads", flags->threads, "CPU threads (0: OpenMP's default)");
  flags->run.add_flags(cmd);
  cmd->callback([flags] { train(*flags); });
}

}  // namespace jepa::tool
