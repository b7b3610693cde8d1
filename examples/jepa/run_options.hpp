// What every `jepa train-*` command shares about its settings.
// A run's options struct defines each setting once, in visit(f), which calls f(name, field, help)
// for every field in a fixed order. From that one list come the command-line flags (add_flags),
// the settings a checkpoint records (to_settings) and the way back (from_settings), so `--resume`
// and the evaluation commands rebuild exactly the run that wrote a checkpoint.
#pragma once
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <jepa/models/trainer.hpp>

#include "device_flag.hpp"
#include "training_run.hpp"

namespace jepa::tool {

template <class Options>
void add_flags(Options& options, CLI::App* cmd) {
  options.visit([&](const std::string& name, auto& field, const std::string& help) {
    cmd->add_option("--" + name, field, help)->capture_default_str();
  });
}

template <class Options>
std::map<std::string, std::string> to_settings(Options options) {
  std::map<std::string, std::string> meta;
  options.visit([&](const std::string& name, auto& field, const std::string&) {
    std::ostringstream os;
    os.precision(17);
    os << field;
    meta[name] = os.str();
  });
  return meta;
}

template <class Options>
Options from_settings(const std::map<std::string, std::string>& meta, const std::string& source) {
  Options options;
  options.visit([&](const std::string& name, auto& field, const std::string&) {
    auto it = meta.find(name);
    JEPA_CHECK(it != meta.end(), "checkpoint", source, " has no setting '", name, "' in its metadata");
    std::istringstream is(it->second);
    is >> field;
    JEPA_CHECK(!is.fail(), "checkpoint", source, ": cannot read setting '", name, "' from '", it->second, "'");
  });
  return options;
}

// The optimisation settings of the JEPA recipe (models::TrainRecipe in the official configs'
// terms); each model's options give their own defaults.
struct OptimizationOptions {
  int64_t epochs = 1, batch = 1;
  double warmup = 0, start_lr = 2e-4, lr = 1e-3, final_lr = 1e-6;
  double wd = 0.04, final_wd = 0.4, ema_start = 0.996, ema_end = 1.0, clip = 0.0;

  template <class F>
  void visit(F&& f) {
    f("epochs", epochs, "epochs of the schedule");
    f("batch", batch, "samples per step");
    f("warmup", warmup, "warm-up length in epochs");
    f("start-lr", start_lr, "learning rate at the start of warm-up");
    f("lr", lr, "peak learning rate");
    f("final-lr", final_lr, "learning rate at the end of the cosine");
    f("wd", wd, "weight decay at the start");
    f("final-wd", final_wd, "weight decay at the end (cosine)");
    f("ema-start", ema_start, "target-encoder EMA momentum at the start");
    f("ema-end", ema_end, "EMA momentum at the end");
    f("clip", clip, "max gradient norm of the encoder and of the predictor, each, after warm-up (0: off)");
  }

  models::TrainRecipe recipe(int64_t iterations_per_epoch, double ipe_scale = 1.0) const {
    models::TrainRecipe r;
    r.epochs = epochs;
    r.iterations_per_epoch = iterations_per_epoch;
    r.warmup_epochs = warmup;
    r.ipe_scale = ipe_scale;
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

// Applies a command's --threads flag (0: OpenMP's default).
inline void use_threads(int64_t threads) {
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

// The flags of a training command besides the run's settings.
template <class RunOptions>
struct TrainFlags {
  RunOptions run;
  std::string out, resume, init_from;
  std::string device = "cpu";  // not a setting of the run: a resumed run uses the one given now
  int64_t max_steps = 0, checkpoint_every = 0, threads = 0;
};

template <class RunOptions>
void add_train_flags(CLI::App* cmd, TrainFlags<RunOptions>& flags) {
  cmd->set_config("--config", "", "read flags from a TOML/INI file");
  cmd->add_option("--out", flags.out, "output directory (checkpoint, metrics.jsonl, loss.png)");
  cmd->add_option("--resume", flags.resume, "continue the run saved in this directory, with its settings");
  cmd->add_option("--init-from", flags.init_from,
                  "start from the model of the run saved in this directory (same model shape; optimizer and "
                  "schedules start afresh), e.g. one trained on an easier world");
  cmd->add_option("--max-steps", flags.max_steps, "stop after this many steps of this invocation (0: run to the end)");
  cmd->add_option("--checkpoint-every", flags.checkpoint_every, "steps between checkpoints (0: every epoch)");
  cmd->add_option("--threads", flags.threads, "CPU threads (0: OpenMP's default)");
  add_device_flag(cmd, flags.device);
  add_flags(flags.run, cmd);
}

// With --resume: the checkpoint to continue from, whose settings replace the flags' (and whose
// directory is the default output). Also applies --threads.
template <class RunOptions>
std::optional<models::Checkpoint> start_training(TrainFlags<RunOptions>& flags, const std::string& format,
                                                 const char* command) {
  JEPA_CHECK(flags.resume.empty() || flags.init_from.empty(), command,
             "--resume continues a run and --init-from starts a new one: give one of them");
  std::optional<models::Checkpoint> resumed;
  if (!flags.resume.empty()) {
    resumed = models::load_checkpoint(models::checkpoint_in(flags.resume), format);
    flags.run = from_settings<RunOptions>(resumed->info.settings, flags.resume);
    if (flags.out.empty()) flags.out = flags.resume;
    flags.init_from = resumed->info.init_from;
  }
  JEPA_CHECK(!flags.out.empty(), command, "--out DIR is required (or --resume DIR)");
  use_threads(flags.threads);
  return resumed;
}

// The trainer's starting point: the resumed run's state (model, optimizer and step), or with
// --init-from another run's model only, or the fresh initialisation.
template <class RunOptions>
void load_start(models::JepaTrainer& trainer, const TrainFlags<RunOptions>& flags,
                const std::optional<models::Checkpoint>& resumed, const std::string& format) {
  if (resumed) {
    models::resume(trainer, *resumed);
  } else if (!flags.init_from.empty()) {
    try {
      models::warm_start(trainer, models::load_checkpoint(models::checkpoint_in(flags.init_from), format));
    } catch (const Error& e) {
      fail("train", "--init-from ", flags.init_from, ": ", e.what());
    }
  }
}

// A shuffling loader over `dataset_size` samples that starts at the batch of step `steps_taken` + 1.
inline LoaderOptions loader_options(int64_t dataset_size, int64_t batch, uint64_t seed, int64_t steps_taken) {
  LoaderOptions o;
  o.dataset_size = dataset_size;
  o.batch_size = batch;
  o.seed = seed;
  JEPA_CHECK(o.steps_per_epoch() > 0, "train", dataset_size, " samples give no full batch of ", batch);
  o.start_epoch = steps_taken / o.steps_per_epoch();
  o.start_step = steps_taken % o.steps_per_epoch();
  return o;
}

// How the run starts, for the banner: ", resuming at step N", ", starting from the model of DIR" or "".
template <class RunOptions>
std::string start_note(const TrainFlags<RunOptions>& flags, int64_t steps_taken) {
  if (steps_taken > 0) return ", resuming at step " + std::to_string(steps_taken);
  return flags.init_from.empty() ? std::string() : ", starting from the model of " + flags.init_from;
}

// The training-loop settings common to every run.
template <class RunOptions>
TrainingRun training_run(TrainFlags<RunOptions>& flags, const std::string& format, const std::string& title,
                         int64_t steps_per_epoch) {
  TrainingRun training;
  training.out = flags.out;
  training.checkpoint.format = format;
  training.checkpoint.settings = to_settings(flags.run);
  if (!flags.init_from.empty()) training.checkpoint.init_from = fs::absolute(flags.init_from).string();
  training.title = title;
  training.batch_size = flags.run.optim.batch;
  training.steps_per_epoch = steps_per_epoch;
  training.total_steps = flags.run.optim.epochs * steps_per_epoch;
  training.max_steps = flags.max_steps;
  training.checkpoint_every = flags.checkpoint_every;
  return training;
}

}  // namespace jepa::tool
