// One I-JEPA training step (forward, backward, AdamW, EMA) of the Fashion-MNIST quick-start
// model, timed over several steps; prints the median as one JSON line. With --dump FILE it also
// writes the images, masks and settings it used, so bench/ref/train_step.py can time PyTorch on
// exactly the same work (bench/run_train_step.sh runs both side by side).
//   bench_train_step [--steps N] [--threads T] [--dump FILE]
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
  std::string dump;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dump")) dump = argv[i + 1];
  }
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  const tool::IJEPARunOptions run;  // the quick-start settings
  Generator gen(run.seed);
  models::IJEPA model(run.model_config(), gen);
  const int64_t warmup = 2, total = warmup + steps;
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, run.optim.recipe(total));
  const models::MultiBlockMask masker(run.mask_config());
  const Tensor images = normal({run.optim.batch, run.channels, run.img, run.img}, 0.0, 1.0, gen);

  std::vector<std::pair<std::string, Tensor>> work{{"images", images}};
  std::vector<double> ms;
  for (int64_t s = 0; s < total; ++s) {
    const models::MaskBatch masks = masker.sample(run.optim.batch, s);
    for (size_t i = 0; i < masks.context.size(); ++i)
      work.emplace_back("step" + std::to_string(s) + ".context" + std::to_string(i), masks.context[i]);
    for (size_t i = 0; i < masks.targets.size(); ++i)
      work.emplace_back("step" + std::to_string(s) + ".target" + std::to_string(i), masks.targets[i]);
    const auto t0 = std::chrono::steady_clock::now();
    trainer.step([&] { return model.loss(images, masks.context, masks.targets); });
    const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  if (!dump.empty()) {
    auto meta = tool::to_settings(run);
    meta["steps"] = std::to_string(total);
    meta["warmup"] = std::to_string(warmup);
    save_safetensors(dump, work, meta);
  }
  std::printf("%s\n", json::ObjectWriter()
                          .add("bench", "train_step")
                          .add("impl", "jepa-cpp")
                          .add("model", run.model)
                          .add("depth", run.depth)
                          .add("batch", run.optim.batch)
                          .add("threads", cpu::max_threads())
                          .add("step_ms", median)
                          .add("images_per_s", 1000.0 * static_cast<double>(run.optim.batch) / median)
                          .str()
                          .c_str());
  return 0;
}
