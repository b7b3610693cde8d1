// The video probes of a V-JEPA encoder on the physics world (data/physics_clips.hpp): attentive
// probes (attentive_probe.hpp, V-JEPA's evaluation head) on the frozen encoder's tokens, trained on
// the probe_train clips of a run and scored on its probe_test clips (other seeds):
//  - position and velocity of the largest ball at the last frame: regression on targets
//    standardized with the training set's statistics, scored by R^2 = 1 - MSE / MSE of predicting
//    the training mean;
//  - the number of balls: classification accuracy, against always answering the most frequent
//    training count.
// The largest ball makes the regression targets well defined: ball slots are in no visible order.
// The clips are made once (video_probe_clips, on the host) and can score any number of encoders.
#pragma once
#include <algorithm>
#include <memory>
#include <vector>

#include <jepa/data/physics_clips.hpp>
#include <jepa/models/attentive_probe.hpp>
#include <jepa/models/probe_training.hpp>
#include <jepa/models/vit.hpp>

namespace jepa::models {

// Clips of one stream with what the probes predict.
struct VideoProbeClips {
  Tensor frames;              // (N, 1, T, H, W), normalized
  Tensor position, velocity;  // (N, 2): the largest ball at the last frame
  Tensor count;               // (N) i64: number of balls - min_balls
  int64_t count_classes = 0;  // max_balls - min_balls + 1
};

// Clips 0..n-1 of `stream` (ClipStream::probe_train or probe_test) of the run seeded `run_seed`.
inline VideoProbeClips video_probe_clips(const PhysicsConfig& world, uint64_t run_seed, ClipStream stream, int64_t n) {
  constexpr int64_t kChunk = 64;  // clips generated at a time
  JEPA_CHECK(n > 0, "video_probe_clips", "needs clips, got ", n);
  const PixelStats stats = pixel_stats(world, run_seed);
  std::vector<Tensor> frames, position, velocity, count;
  NoGrad no_grad;
  for (int64_t first = 0; first < n; first += kChunk) {
    const ClipBatch clips = generate_batch(world, clip_seeds(run_seed, stream, first, std::min(kChunk, n - first)));
    const int64_t B = clips.frames.size(0), last = world.frames - 1;
    frames.push_back(normalize_clips(clips.frames, stats));
    const Tensor largest = argmax(clips.radii, 1).reshape({B, 1, 1, 1}).expand({B, 1, 1, 2});  // (B, 1, 1, 2)
    position.push_back(gather(clips.positions.select(1, last).unsqueeze(1), 2, largest).reshape({B, 2}));
    velocity.push_back(gather(clips.velocities.select(1, last).unsqueeze(1), 2, largest).reshape({B, 2}));
    std::vector<int64_t> label = clips.num_balls.to_vector<int64_t>();
    for (int64_t& y : label) y -= world.min_balls;
    count.push_back(from_vector(label, {B}));
  }
  return {cat(frames), cat(position), cat(velocity), cat(count), world.max_balls - world.min_balls + 1};
}

struct VideoProbeScores {
  double position_r2 = 0, velocity_r2 = 0, count_accuracy = 0;
  double count_majority_accuracy = 0;  // the baseline: the most frequent training count, on the test clips
};

namespace detail {

// The encoder's tokens of every clip, (N, tokens, D) on the encoder's device, without a graph.
inline Tensor video_features(const VisionTransformer& encoder, const Tensor& frames) {
  constexpr int64_t kChunk = 64;
  const Device device = encoder.parameters().at(0).device();
  NoGrad no_grad;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < frames.size(0); i += kChunk)
    parts.push_back(encoder.forward(frames.narrow(0, i, std::min(kChunk, frames.size(0) - i)).to(device)));
  return cat(parts);
}

// Probe outputs for all rows of `features`, in batches, without a graph.
inline Tensor predict(const AttentiveProbe& probe, const Tensor& features) {
  constexpr int64_t kBatch = 256;
  NoGrad no_grad;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < features.size(0); i += kBatch)
    parts.push_back(probe.forward(features.narrow(0, i, std::min(kBatch, features.size(0) - i))));
  return cat(parts);
}

inline std::shared_ptr<AttentiveProbe> make_probe(const VisionTransformer& encoder, int64_t outputs, Generator& gen) {
  auto probe = std::make_shared<AttentiveProbe>(encoder.config().dim, encoder.config().heads, outputs, gen);
  probe->to(encoder.parameters().at(0).device());
  return probe;
}

// R^2 on the test set of a probe trained to regress standardized `train_y` (N, k).
inline double regression_r2(const VisionTransformer& encoder, const Tensor& train_x, const Tensor& train_y,
                            const Tensor& test_x, const Tensor& test_y, const ProbeOptions& options) {
  const Standardized y = standardize(train_y, test_y);  // no binding: clang 15 captures none
  const Tensor &y_train = y.train, &y_test = y.test;
  Generator gen(options.seed);
  const auto probe = make_probe(encoder, train_y.size(1), gen);
  fit_probe(*probe, train_x.size(0), options, gen, [&](const Tensor& idx) {
    return mse_loss(probe->forward(index_select(train_x, 0, idx)), index_select(y_train, 0, idx));
  });
  NoGrad no_grad;
  const double error = mean(pow(predict(*probe, test_x) - y_test, 2.0)).item();
  return 1.0 - error / mean(pow(y_test, 2.0)).item();  // the training mean is 0 after standardizing
}

inline double classification_accuracy(const VisionTransformer& encoder, const Tensor& train_x, const Tensor& train_y,
                                      const Tensor& test_x, const Tensor& test_y, int64_t classes,
                                      const ProbeOptions& options) {
  Generator gen(options.seed);
  const auto probe = make_probe(encoder, classes, gen);
  fit_probe(*probe, train_x.size(0), options, gen, [&](const Tensor& idx) {
    return cross_entropy(probe->forward(index_select(train_x, 0, idx)), index_select(train_y, 0, idx));
  });
  return accuracy(predict(*probe, test_x), test_y);
}

// Test accuracy of always answering the most frequent training class.
inline double majority_accuracy(const Tensor& train_y, const Tensor& test_y, int64_t classes) {
  std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
  for (const int64_t y : train_y.to_vector<int64_t>()) ++counts[static_cast<size_t>(y)];
  const auto majority = static_cast<int64_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const std::vector<int64_t> test = test_y.to_vector<int64_t>();
  return static_cast<double>(std::count(test.begin(), test.end(), majority)) / static_cast<double>(test.size());
}

}  // namespace detail

// The three probes on `encoder`'s tokens (it may be on any device; the probes train beside it).
// Each probe starts from the seed options.seed.
inline VideoProbeScores evaluate_video_probes(const VisionTransformer& encoder, const VideoProbeClips& train,
                                              const VideoProbeClips& test, const ProbeOptions& options) {
  JEPA_CHECK(train.count_classes == test.count_classes && train.count_classes > 0, "evaluate_video_probes",
             "train and test clips must come from one world, got ", train.count_classes, " and ", test.count_classes,
             " ball counts");
  const Device device = encoder.parameters().at(0).device();
  const Tensor train_x = detail::video_features(encoder, train.frames);  // (N, tokens, D)
  const Tensor test_x = detail::video_features(encoder, test.frames);
  VideoProbeScores out;
  out.position_r2 =
      detail::regression_r2(encoder, train_x, train.position.to(device), test_x, test.position.to(device), options);
  out.velocity_r2 =
      detail::regression_r2(encoder, train_x, train.velocity.to(device), test_x, test.velocity.to(device), options);
  out.count_accuracy = detail::classification_accuracy(encoder, train_x, train.count.to(device), test_x,
                                                       test.count.to(device), train.count_classes, options);
  out.count_majority_accuracy = detail::majority_accuracy(train.count, test.count, train.count_classes);
  return out;
}

}  // namespace jepa::models
