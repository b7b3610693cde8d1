// `jepa train-ijepa`: pretrains I-JEPA, by default on Fashion-MNIST on the CPU.
// Writes to --out: checkpoint.safetensors (every module, optimizer state and the run's settings,
// written atomically), metrics.jsonl (one line per step), loss.png, and prints where they are.
// `--resume DIR` continues a run from its checkpoint with the checkpoint's settings; data order,
// crops and masks are functions of (seed, step), so the result equals an uninterrupted run with
// the same thread count.
#include <chrono>
#include <filesystem>
#include <iostream>

#include <jepa/data/loader.hpp>
#include <jepa/data/transforms.hpp>
#include <jepa/io/safetensors.hpp>

#include "commands.hpp"
#include "ijepa_options.hpp"
#include "metrics.hpp"
#include "plot.hpp"
#include "progress.hpp"

namespace jepa::tool {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCheckpointFormat = "jepa-cpp/ijepa-train/1";

struct Batch {
  Tensor images;  // (B, C, img, img), normalized
  models::MaskBatch masks;
};

struct TrainFlags {
  IJEPARunOptions run;
  std::string out, resume;
  int64_t max_steps = 0, checkpoint_every = 0, threads = 0;
};

void write_loss_plot(const fs::path& dir) {
  Series loss{"loss", {}, {}};
  for (const json::Value& record : read_metrics(dir / "metrics.jsonl")) {
    loss.x.push_back(record.at("step").as_number());
    loss.y.push_back(record.at("loss").is_null() ? NAN : record.at("loss").as_number());
  }
  PlotOptions options;
  options.title = "I-JEPA training loss (smooth L1)";
  options.y_label = "loss";
  options.log_y = true;
  write_line_plot(dir / "loss.png", {loss}, options);
}

// Keeps the metrics lines up to `step` (a resumed run rewrites what came after its checkpoint).
void truncate_metrics(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::string kept;
  for (const json::Value& record : read_metrics(path))
    if (record.at("step").as_number() <= static_cast<double>(step)) kept += json::serialize(record) + "\n";
  write_file_atomically(path, kept);
}

void train(TrainFlags flags) {
  if (!flags.resume.empty()) {
    const fs::path checkpoint = fs::path(flags.resume) / "checkpoint.safetensors";
    const SafeTensors saved = load_safetensors(checkpoint);
    JEPA_CHECK(saved.metadata.count("format") && saved.metadata.at("format") == kCheckpointFormat, "train-ijepa",
               checkpoint.string(), " is not an I-JEPA training checkpoint of this tool");
    flags.run = IJEPARunOptions::from_metadata(saved.metadata, checkpoint.string());
    if (flags.out.empty()) flags.out = flags.resume;
  }
  JEPA_CHECK(!flags.out.empty(), "train-ijepa", "--out DIR is required (or --resume DIR)");
  if (flags.threads > 0) omp_set_num_threads(static_cast<int>(flags.threads));
  const fs::path out = flags.out;
  fs::create_directories(out);
  IJEPARunOptions& run = flags.run;

  FashionMnist data = load_fashion_mnist(run.data, "train");
  const int64_t n = run.limit > 0 ? std::min<int64_t>(run.limit, data.images.size(0)) : data.images.size(0);
  const Tensor images = data.images.narrow(0, 0, n);
  JEPA_CHECK(images.size(1) == run.channels, "train-ijepa", "the data has ", images.size(1),
             " channels but --channels is ", run.channels);

  Generator init(run.seed);
  models::IJEPA model(run.model_config(), init);
  const int64_t steps_per_epoch = n / run.batch;
  JEPA_CHECK(steps_per_epoch > 0, "train-ijepa", n, " images give no full batch of ", run.batch);
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, run.recipe(steps_per_epoch));
  const fs::path checkpoint = out / "checkpoint.safetensors";
  if (!flags.resume.empty()) trainer.load_state_dict(load_safetensors(fs::path(flags.resume) / "checkpoint.safetensors").tensors);
  const int64_t first = trainer.steps_taken();
  const int64_t total = run.epochs * steps_per_epoch;
  const int64_t last = flags.max_steps > 0 ? std::min(total, first + flags.max_steps) : total;
  const int64_t every = flags.checkpoint_every > 0 ? flags.checkpoint_every : steps_per_epoch;

  std::cout << "I-JEPA: " << run.model << " depth " << model.config().encoder.depth << ", "
            << model.encoder->num_parameters() / 1e6 << "M encoder + " << model.predictor->num_parameters() / 1e6
            << "M predictor parameters; " << n << " images, batch " << run.batch << ", " << run.epochs
            << " epochs (" << total << " steps), " << cpu::max_threads() << " threads"
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
    std::vector<Tensor> crops;
    crops.reserve(plan.indices.size());
    for (int64_t index : plan.indices) {
      Generator g = sample_generator(run.seed, plan.epoch, index);
      crops.push_back(crop(images.select(0, index), g));
    }
    const int64_t global_step = plan.epoch * steps_per_epoch + plan.step;
    return Batch{normalize(stack(crops)), masker.sample(run.batch, global_step)};
  });

  truncate_metrics(out / "metrics.jsonl", first);
  MetricsLog metrics(out / "metrics.jsonl");
  auto meta = run.to_metadata();
  meta["format"] = kCheckpointFormat;
  auto save = [&](int64_t step) {
    meta["step"] = std::to_string(step);
    save_safetensors(checkpoint, trainer.state_dict(), meta);
    write_loss_plot(out);
  };

  ProgressBar progress(total);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = first + 1; s <= last; ++s) {
    auto item = loader.next();
    models::StepStats stats;
    try {
      stats = trainer.step([&] { return model.loss(item.batch.images, item.batch.masks.context, item.batch.masks.targets); });
    } catch (const Error&) {
      progress.message("stopped: the last good checkpoint is " + checkpoint.string());
      throw;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double images_per_s = static_cast<double>((s - first) * run.batch) / seconds;
    metrics.write(MetricsRecord()
                      .add("step", s)
                      .add("epoch", item.epoch)
                      .add("loss", stats.loss)
                      .add("lr", stats.lr)
                      .add("wd", stats.weight_decay)
                      .add("momentum", stats.momentum)
                      .add("images_per_s", images_per_s));
    progress.update(s, item.epoch, {{"loss", stats.loss}, {"lr", stats.lr}}, s * run.batch);
    if (s % every == 0 || s == last) save(s);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "checkpoint: " << fs::absolute(checkpoint).string() << "\n"
            << "metrics:    " << fs::absolute(out / "metrics.jsonl").string() << "\n"
            << "loss plot:  " << fs::absolute(out / "loss.png").string() << "\n";
  std::cout << "{\"command\":\"train-ijepa\",\"steps\":" << last << ",\"seconds\":" << seconds
            << ",\"images_per_s\":" << static_cast<double>((last - first) * run.batch) / std::max(seconds, 1e-9) << "}"
            << std::endl;
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
