// `jepa probe-video --checkpoint DIR`: attentive probes (V-JEPA's evaluation head: a learned
// query cross-attends to the frozen tokens, then a linear layer) on the target encoder of a
// train-vjepa run, trained on clips of the physics world and scored on clips of other seeds:
//  - position and velocity of the largest ball at the last frame (regression on standardized
//    targets, scored by R^2 = 1 - MSE / MSE of predicting the training mean);
//  - the number of balls (classification accuracy; the majority class is the baseline).
// The largest ball makes the regression targets well defined: ball slots are in no visible order.
// In the same run, the same probes on a randomly initialised encoder of the same shape.
// Ends with {"position_r2":..,"velocity_r2":..,"count_acc":..,"random_init_position_r2":..,...}.
#include <jepa/models/attentive_probe.hpp>
#include <jepa/models/probe_training.hpp>

#include "commands.hpp"
#include "metrics.hpp"
#include "physics_data.hpp"
#include "vjepa_options.hpp"

namespace jepa::tool {
namespace {

struct ProbeVideoFlags {
  std::string checkpoint;
  int64_t train_clips = 2048, test_clips = 512, threads = 0;
  std::string device = "cpu";
  // 40 epochs: at 20 the count probe was under-trained on both encoders of the quick-start (0.785
  // each); at 40 it reads 0.814 from V-JEPA features and 0.787 from random-init ones.
  models::ProbeOptions probe{40, 64, 1e-3, 0.01, 0};
};

// What the probes read and predict, for a set of clips.
struct ProbeSet {
  Tensor features, random_features;  // (N, tokens, D) of the trained and the random-init encoder
  Tensor position, velocity;         // (N, 2): the largest ball at the last frame
  Tensor count;                      // (N) i64: number of balls - min_balls
};

ProbeSet probe_set(const TrainedVJEPA& trained, ClipStream stream, int64_t n) {
  constexpr int64_t kChunk = 64;
  const PhysicsConfig world = trained.run.physics_config();
  const PixelStats stats = pixel_stats(world, trained.run.seed);
  std::vector<Tensor> features, random_features, position, velocity, count;
  NoGrad no_grad;
  for (int64_t first = 0; first < n; first += kChunk) {
    const ClipBatch clips = generate_batch(world, clip_seeds(trained.run.seed, stream, first, std::min(kChunk, n - first)));
    const Tensor x = normalize(clips.frames, stats).to(trained.device);
    features.push_back(trained.model->target_encoder->forward(x));
    random_features.push_back(trained.random_init->target_encoder->forward(x));
    const int64_t B = x.size(0), last = world.frames - 1;
    const Tensor largest = argmax(clips.radii, 1).reshape({B, 1, 1, 1}).expand({B, 1, 1, 2});  // (B, 1, 1, 2)
    position.push_back(gather(clips.positions.select(1, last).unsqueeze(1), 2, largest).reshape({B, 2}));
    velocity.push_back(gather(clips.velocities.select(1, last).unsqueeze(1), 2, largest).reshape({B, 2}));
    std::vector<int64_t> label = clips.num_balls.to_vector<int64_t>();
    for (int64_t& y : label) y -= world.min_balls;
    count.push_back(from_vector(label, {B}));
  }
  const Device d = trained.device;
  return {cat(features), cat(random_features), cat(position).to(d), cat(velocity).to(d), cat(count).to(d)};
}

// Probe outputs for all rows of `features`, in batches, without a graph.
Tensor predict(const models::AttentiveProbe& probe, const Tensor& features) {
  constexpr int64_t kBatch = 256;
  NoGrad no_grad;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < features.size(0); i += kBatch)
    parts.push_back(probe.forward(features.narrow(0, i, std::min(kBatch, features.size(0) - i))));
  return cat(parts);
}

std::shared_ptr<models::AttentiveProbe> make_probe(const TrainedVJEPA& trained, int64_t outputs, Generator& gen) {
  const models::ViTConfig& encoder = trained.model->config().encoder;
  auto probe = std::make_shared<models::AttentiveProbe>(encoder.dim, encoder.heads, outputs, gen);
  probe->to(trained.device);
  return probe;
}

// R^2 on the test set of a probe trained to regress standardized `train_y` (N, k).
double regression_r2(const TrainedVJEPA& trained, const Tensor& train_x, const Tensor& train_y, const Tensor& test_x,
                     const Tensor& test_y, const models::ProbeOptions& options) {
  const models::Standardized y = models::standardize(train_y, test_y);  // no binding: clang 15 captures none
  const Tensor &y_train = y.train, &y_test = y.test;
  Generator gen(options.seed);
  const auto probe = make_probe(trained, train_y.size(1), gen);
  models::fit_probe(*probe, train_x.size(0), options, gen, [&](const Tensor& idx) {
    return mse_loss(probe->forward(index_select(train_x, 0, idx)), index_select(y_train, 0, idx));
  });
  NoGrad no_grad;
  const double error = mean(pow(predict(*probe, test_x) - y_test, 2.0)).item();
  return 1.0 - error / mean(pow(y_test, 2.0)).item();  // the training mean is 0 after standardizing
}

double classification_accuracy(const TrainedVJEPA& trained, const Tensor& train_x, const Tensor& train_y,
                               const Tensor& test_x, const Tensor& test_y, int64_t classes,
                               const models::ProbeOptions& options) {
  Generator gen(options.seed);
  const auto probe = make_probe(trained, classes, gen);
  models::fit_probe(*probe, train_x.size(0), options, gen, [&](const Tensor& idx) {
    return cross_entropy(probe->forward(index_select(train_x, 0, idx)), index_select(train_y, 0, idx));
  });
  return models::accuracy(predict(*probe, test_x), test_y);
}

// Test accuracy of always answering the most frequent training class.
double majority_accuracy(const Tensor& train_y, const Tensor& test_y, int64_t classes) {
  std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
  for (const int64_t y : train_y.to_vector<int64_t>()) ++counts[static_cast<size_t>(y)];
  const auto majority = static_cast<int64_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const std::vector<int64_t> test = test_y.to_vector<int64_t>();
  return static_cast<double>(std::count(test.begin(), test.end(), majority)) / static_cast<double>(test.size());
}

void probe_video(const ProbeVideoFlags& flags) {
  const Device device = use_device(flags.device, "probe-video");
  use_threads(flags.threads);
  JEPA_CHECK(flags.train_clips > 0 && flags.test_clips > 0, "probe-video", "needs train and test clips, got ",
             flags.train_clips, " and ", flags.test_clips);
  const TrainedVJEPA trained = load_vjepa_run(flags.checkpoint, device);
  const int64_t classes = trained.run.max_balls - trained.run.min_balls + 1;
  std::cout << "probing " << trained.path << " (step " << trained.step << ") on " << flags.train_clips << " train / "
            << flags.test_clips << " test clips\n";
  const ProbeSet train = probe_set(trained, ClipStream::probe_train, flags.train_clips);
  const ProbeSet test = probe_set(trained, ClipStream::probe_test, flags.test_clips);

  std::map<std::string, double> figures;
  for (const bool random : {false, true}) {
    const Tensor& x_train = random ? train.random_features : train.features;
    const Tensor& x_test = random ? test.random_features : test.features;
    const std::string prefix = random ? "random_init_" : "";
    const std::string what = random ? "random-init encoder" : "V-JEPA target encoder";
    figures[prefix + "position_r2"] = regression_r2(trained, x_train, train.position, x_test, test.position, flags.probe);
    std::cout << what << ": position R^2 " << figures[prefix + "position_r2"] << std::endl;
    figures[prefix + "velocity_r2"] = regression_r2(trained, x_train, train.velocity, x_test, test.velocity, flags.probe);
    std::cout << what << ": velocity R^2 " << figures[prefix + "velocity_r2"] << std::endl;
    figures[prefix + "count_acc"] =
        classification_accuracy(trained, x_train, train.count, x_test, test.count, classes, flags.probe);
    std::cout << what << ": count accuracy " << figures[prefix + "count_acc"] << std::endl;
  }
  figures["count_majority_acc"] = majority_accuracy(train.count, test.count, classes);

  json::ObjectWriter result;
  for (const char* key : {"position_r2", "velocity_r2", "count_acc", "random_init_position_r2",
                          "random_init_velocity_r2", "random_init_count_acc", "count_majority_acc"})
    result.add(key, figures.at(key));
  write_result(fs::path(flags.checkpoint) / "probe_video.json", result.add("step", trained.step), "probe-video");
}

}  // namespace

void register_probe_video(CLI::App& app) {
  auto flags = std::make_shared<ProbeVideoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "probe-video", "attentive probes of ball position, velocity and count vs a random-init encoder");
  cmd->add_option("--checkpoint", flags->checkpoint, "directory written by train-vjepa")->required();
  cmd->add_option("--train-clips", flags->train_clips, "clips to train each probe on")->capture_default_str();
  cmd->add_option("--test-clips", flags->test_clips, "clips (other seeds) to score on")->capture_default_str();
  cmd->add_option("--epochs", flags->probe.epochs, "probe training epochs")->capture_default_str();
  cmd->add_option("--batch", flags->probe.batch_size, "probe batch size")->capture_default_str();
  cmd->add_option("--lr", flags->probe.lr, "probe peak learning rate (cosine to 0)")->capture_default_str();
  cmd->add_option("--wd", flags->probe.weight_decay, "probe weight decay")->capture_default_str();
  cmd->add_option("--threads", flags->threads, "CPU threads (0: OpenMP's default)");
  add_device_flag(cmd, flags->device);
  cmd->callback([flags] { probe_video(*flags); });
}

}  // namespace jepa::tool
