// One I-JEPA training step (forward, backward, AdamW, EMA), timed over several steps; prints the
// median (and on a GPU the peak memory of the step) as one JSON line. The model, images and masks
// are the Fashion-MNIST quick-start's unless the run flags of `jepa train-ijepa` say otherwise
// (e.g. --model vit_small --depth 0 --img 224 --patch 16 --channels 3). With --dump FILE it also
// writes the images, masks and settings it used, so bench/ref/train_step.py can time PyTorch on
// exactly the same work (bench/run_train_step.sh and scripts/gpu-check.sh run both side by side).
//   bench_train_step [--steps N] [--threads T] [--device D] [--dump FILE] [run flags]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <jepa/io/json.hpp>
#include <jepa/io/safetensors.hpp>

#include "ijepa_options.hpp"

using namespace jepa;

int main(int argc, char** argv) {
  int64_t steps = 10, threads = 0;
  std::string dump, device_name = "cpu";
  tool::IJEPARunOptions run;  // the quick-start settings unless flags change them
  CLI::App app{"bench_train_step: the I-JEPA training step, timed"};
  app.add_option("--steps", steps, "timed steps (after 2 warm-up steps)")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)");
  app.add_option("--dump", dump, "write the images, masks and settings to this safetensors file");
  tool::add_device_flag(&app, device_name);
  tool::add_flags(run, &app);
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  const Device device = tool::use_device(device_name, "bench_train_step");
  Generator gen(run.seed);
  models::IJEPA model(run.model_config(), gen);
  model.to(device);
  const int64_t warmup = 2, total = warmup + steps;
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, run.optim.recipe(total));
  const models::MultiBlockMask masker(run.mask_config());
  const Tensor images = normal({run.optim.batch, run.channels, run.img, run.img}, 0.0, 1.0, gen);
  const Tensor on_device = images.to(device);

  std::vector<std::pair<std::string, Tensor>> work{{"images", images}};
  std::vector<double> ms;
  for (int64_t s = 0; s < total; ++s) {
    const models::MaskBatch masks = masker.sample(run.optim.batch, s);
    for (size_t i = 0; i < masks.context.size(); ++i)
      work.emplace_back("step" + std::to_string(s) + ".context" + std::to_string(i), masks.context[i]);
    for (size_t i = 0; i < masks.targets.size(); ++i)
      work.emplace_back("step" + std::to_string(s) + ".target" + std::to_string(i), masks.targets[i]);
    const std::vector<Tensor> context = tool::to_device(masks.context, device),
                              targets = tool::to_device(masks.targets, device);
    if (s == warmup && device.is_gpu()) gpu::reset_peak_memory(device.index);
    const auto t0 = std::chrono::steady_clock::now();
    trainer.step([&] { return model.loss(on_device, context, targets); });
    if (device.is_gpu()) gpu::synchronize(device.index);
    const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  // Tensors live between the steps' peaks too (weights, optimizer state): the peak of in-use bytes.
  const double peak_mib = device.is_gpu() ? gpu::memory_stats(device.index).peak_in_use_bytes / 1048576.0 : 0.0;
  if (!dump.empty()) {
    auto meta = tool::to_settings(run);
    meta["steps"] = std::to_string(total);
    meta["warmup"] = std::to_string(warmup);
    save_safetensors(dump, work, meta);
  }
  std::printf("%s\n", json::ObjectWriter()
                          .add("bench", "train_step")
                          .add("impl", "jepa-cpp")
                          .add("device", device_name)
                          .add("model", run.model)
                          .add("depth", run.depth)
                          .add("img", run.img)
                          .add("patch", run.patch)
                          .add("batch", run.optim.batch)
                          .add("threads", cpu::max_threads())
                          .add("step_ms", median)
                          .add("images_per_s", 1000.0 * static_cast<double>(run.optim.batch) / median)
                          .add("peak_memory_mib", peak_mib)
                          .str()
                          .c_str());
  return 0;
}
