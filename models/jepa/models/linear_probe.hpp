// Linear probing of frozen features: multinomial logistic regression trained with this library's
// autodiff and AdamW on standardized features, then accuracy on held-out data. Used to score
// I-JEPA encoders (average-pooled tokens) against a random-init encoder and raw pixels.
#pragma once
#include <functional>
#include <memory>

#include <jepa/models/vit.hpp>
#include <jepa/optim/adamw.hpp>

namespace jepa::models {

struct ProbeOptions {
  int64_t epochs = 30, batch_size = 256;
  double lr = 1e-2, weight_decay = 1e-4;
  uint64_t seed = 0;
};

struct ProbeResult {
  double train_accuracy = 0, test_accuracy = 0;
};

// Mean over tokens of the encoder's output: (N, C, H, W) images -> (N, D), in batches, no graph.
inline Tensor pooled_features(const VisionTransformer& encoder, const Tensor& images, int64_t batch_size = 256,
                              const std::function<void(int64_t, int64_t)>& progress = nullptr) {
  NoGrad no_grad;
  const int64_t n = images.size(0);
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < n; i += batch_size) {
    const int64_t b = std::min(batch_size, n - i);
    parts.push_back(mean(encoder.forward(images.narrow(0, i, b)), {1}));
    if (progress) progress(i + b, n);
  }
  return cat(parts, 0);
}

inline double accuracy(const Tensor& logits, const Tensor& labels) {
  const auto predicted = argmax(logits, 1).to_vector<int64_t>();
  const auto truth = labels.to_vector<int64_t>();
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
}

// Trains on (train_x (N, D), train_y (N) i64) and reports accuracy on both sets.
inline ProbeResult linear_probe(const Tensor& train_x, const Tensor& train_y, const Tensor& test_x,
                                const Tensor& test_y, const ProbeOptions& options = {}) {
  JEPA_CHECK(train_x.dim() == 2 && test_x.dim() == 2 && train_x.size(1) == test_x.size(1), "linear_probe",
             "features must be (N, D) with the same D, got ", train_x.shape(), " and ", test_x.shape());
  const int64_t n = train_x.size(0), classes = static_cast<int64_t>(max(train_y.to(DType::f64)).item()) + 1;
  Tensor mu, sigma, x_train, x_test;
  {
    NoGrad no_grad;
    mu = mean(train_x, {0}, true);
    sigma = add(sqrt(mean(pow(train_x - mu, 2.0), {0}, true)), 1e-6);
    x_train = (train_x - mu) / sigma;
    x_test = (test_x - mu) / sigma;
  }
  Generator gen(options.seed);
  auto head = std::make_shared<nn::Linear>(train_x.size(1), classes, true, gen, 0.01);
  optim::AdamW opt({std::make_shared<optim::FlatParameters>(head->named_parameters())});
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<int64_t> order = randperm(n, gen);
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t b = std::min(options.batch_size, n - s * options.batch_size);
      const Tensor idx = from_vector(std::vector<int64_t>(order.begin() + s * options.batch_size,
                                                          order.begin() + s * options.batch_size + b), {b});
      opt.zero_grad();
      cross_entropy(head->forward(index_select(x_train, 0, idx)), index_select(train_y, 0, idx)).backward();
      const double progress = static_cast<double>(epoch * steps_per_epoch + s) / static_cast<double>(options.epochs * steps_per_epoch);
      opt.step(options.lr * 0.5 * (1.0 + std::cos(M_PI * progress)), options.weight_decay);
    }
  }
  NoGrad no_grad;
  return {accuracy(head->forward(x_train), train_y), accuracy(head->forward(x_test), test_y)};
}

}  // namespace jepa::models
