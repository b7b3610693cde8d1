// The training loop every `jepa train-*` command shares: steps a JepaTrainer on batches from a
// BatchLoader, logs each step to metrics.jsonl, shows progress, and saves the run's checkpoint
// (models/checkpoint.hpp) every `checkpoint_every` steps and at the end, with a loss plot; a run whose data fails (no batch can
// be made) is saved at its last step before it stops. A run resumed from its checkpoint rewrites
// the metrics after the checkpoint's step, so the log matches an uninterrupted run.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include <jepa/data/loader.hpp>
#include <jepa/models/checkpoint.hpp>

#include "metrics.hpp"
#include "plot.hpp"
#include "progress.hpp"

namespace jepa::tool {

namespace fs = std::filesystem;

struct TrainingRun {
  fs::path out;                      // where the checkpoint, metrics and plot go
  models::CheckpointInfo checkpoint;  // format tag and the run's settings
  std::string title;                  // for the loss plot
  std::string unit = "img";           // what a sample is, for the progress rate
  int64_t batch_size = 1, steps_per_epoch = 1, total_steps = 1;
  int64_t max_steps = 0;         // steps this invocation may run (0: to the end)
  int64_t checkpoint_every = 0;  // 0: once per epoch
};

inline void write_loss_plot(const fs::path& dir, const std::string& title) {
  Series loss{"loss", {}, {}};
  for (const json::Value& record : read_metrics(dir / "metrics.jsonl")) {
    const json::Value* value = record.find("loss");
    loss.x.push_back(record.find("step")->as_double());
    loss.y.push_back(value && value->kind == json::Value::Kind::number ? value->as_double() : NAN);
  }
  PlotOptions options;
  options.title = title;
  options.y_label = "loss";
  options.log_y = true;
  write_line_plot(dir / "loss.png", {loss}, options);
}

// Keeps the complete metrics lines up to `step`: a resumed run rewrites what came after its
// checkpoint, and a line cut short by a crash is dropped.
inline void truncate_metrics(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  const std::vector<uint8_t> bytes = read_file(path, "metrics");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::string kept;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string_view::npos; start = end + 1) {
    const std::string_view line = text.substr(start, end - start);
    const json::Value record = json::parse(line, "metrics", path.string());  // find() points into it
    const json::Value* s = record.find("step");
    if (s && s->as_double() <= static_cast<double>(step)) (kept += line) += '\n';
  }
  write_file_atomically(path, kept, "metrics");
}

template <class Batch>
void run_training(models::JepaTrainer& trainer, BatchLoader<Batch>& loader,
                  const std::function<Tensor(const Batch&)>& loss_of, TrainingRun run) {
  fs::create_directories(run.out);
  const fs::path checkpoint = models::checkpoint_in(run.out);
  const int64_t first = trainer.steps_taken();
  const int64_t last = run.max_steps > 0 ? std::min(run.total_steps, first + run.max_steps) : run.total_steps;
  const int64_t every = run.checkpoint_every > 0 ? run.checkpoint_every : run.steps_per_epoch;
  int64_t saved = first;
  auto save = [&] {
    models::save_checkpoint(checkpoint, trainer, run.checkpoint);
    write_loss_plot(run.out, run.title);
    saved = trainer.steps_taken();
  };

  truncate_metrics(run.out / "metrics.jsonl", first);
  MetricsLog metrics(run.out / "metrics.jsonl");
  ProgressBar progress(run.total_steps, ProgressOptions{run.unit});
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (int64_t s = first + 1; s <= last; ++s) {
    std::optional<typename BatchLoader<Batch>::Item> next;
    try {
      next = loader.next();
    } catch (const std::exception&) {
      // The model is intact at step s - 1: keep it, since the data's failure is no fault of the run.
      if (s - 1 > saved) save();
      progress.message("stopped: no batch for step " + std::to_string(s) +
                       (saved > 0 ? "; the run up to step " + std::to_string(saved) + " is in " + checkpoint.string()
                                  : std::string()));
      throw;
    }
    auto& item = *next;
    models::StepStats stats;
    try {
      stats = trainer.step([&] { return loss_of(item.batch); });
    } catch (const Error&) {
      progress.message("stopped: the last good checkpoint is " + checkpoint.string());
      throw;
    }
    const double items_per_s = static_cast<double>((s - first) * run.batch_size) / elapsed();
    metrics.write(json::ObjectWriter()
                      .add("step", s)
                      .add("epoch", item.epoch)
                      .add("loss", stats.loss)
                      .add("lr", stats.lr)
                      .add("wd", stats.weight_decay)
                      .add("momentum", stats.momentum)
                      .add("items_per_s", items_per_s));
    progress.update(s, item.epoch, {{"loss", stats.loss}, {"lr", stats.lr}}, s * run.batch_size);
    if (s % every == 0 || s == last) save();
  }
  const double seconds = elapsed();
  std::cout << "checkpoint: " << fs::absolute(checkpoint).string() << "\n"
            << "metrics:    " << fs::absolute(run.out / "metrics.jsonl").string() << "\n"
            << "loss plot:  " << fs::absolute(run.out / "loss.png").string() << "\n";
  std::cout << json::ObjectWriter()
                   .add("command", "train")
                   .add("format", run.checkpoint.format)
                   .add("steps", last)
                   .add("seconds", seconds)
                   .add("items_per_s", static_cast<double>((last - first) * run.batch_size) / std::max(seconds, 1e-9))
                   .str()
            << std::endl;
}

}  // namespace jepa::tool
