// What the frozen-feature probes share: minibatch training with AdamW and a cosine learning rate,
// and classification accuracy. The probe's module holds the only trainable parameters; the
// features are computed once, outside, without a graph.
#pragma once
#include <cmath>
#include <functional>
#include <memory>
#include <numbers>

#include <jepa/nn.hpp>
#include <jepa/optim/adamw.hpp>

namespace jepa::models {

struct ProbeOptions {
  int64_t epochs = 30, batch_size = 256;
  double lr = 1e-2, weight_decay = 1e-4;
  uint64_t seed = 0;
};

// Trains `probe` on n samples: each epoch visits them in an order drawn from `gen`, in batches of
// options.batch_size (the last one may be smaller); loss_of(indices (b) i64, on the probe's
// device) returns the batch's loss. AdamW with the JEPA decay rule; lr follows a cosine from
// options.lr to 0 over all steps.
inline void fit_probe(nn::Module& probe, int64_t n, const ProbeOptions& options, Generator& gen,
                      const std::function<Tensor(const Tensor&)>& loss_of) {
  JEPA_CHECK(n > 0 && options.batch_size > 0 && options.epochs >= 0, "fit_probe",
             "needs samples and a positive batch size, got ", n, " samples and batch ", options.batch_size);
  optim::AdamW opt({std::make_shared<optim::FlatParameters>(probe.named_parameters())});
  const Device device = probe.parameters().at(0).device();  // where the batch indices must be
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  const auto total = static_cast<double>(options.epochs * steps_per_epoch);
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<int64_t> order = randperm(n, gen);
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t begin = s * options.batch_size, b = std::min(options.batch_size, n - begin);
      const Tensor idx =
          from_vector(std::vector<int64_t>(order.begin() + begin, order.begin() + begin + b), {b}).to(device);
      opt.zero_grad();
      loss_of(idx).backward();
      const double progress = static_cast<double>(epoch * steps_per_epoch + s) / total;
      opt.step(options.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)), options.weight_decay);
    }
  }
}

// Columns of train (N, k) and test (M, k) shifted and scaled by train's mean and standard deviation
// (plus 1e-6), without a graph.
struct Standardized {
  Tensor train, test;
};
inline Standardized standardize(const Tensor& train, const Tensor& test) {
  NoGrad no_grad;
  const Tensor mu = mean(train, {0}, true);
  const Tensor sigma = add(sqrt(mean(pow(train - mu, 2.0), {0}, true)), 1e-6);
  return {(train - mu) / sigma, (test - mu) / sigma};
}

// Fraction of rows whose largest logit is at the label: logits (N, classes), labels (N) i64.
inline double accuracy(const Tensor& logits, const Tensor& labels) {
  const auto predicted = argmax(logits, 1).to_vector<int64_t>();
  const auto truth = labels.to_vector<int64_t>();
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
}

}  // namespace jepa::models
