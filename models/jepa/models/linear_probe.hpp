// Linear probing of frozen features: multinomial logistic regression trained with this library's
// autodiff and AdamW on standardized features, then accuracy on held-out data. The I-JEPA
// evaluation (evaluate_linear_probe) probes an encoder's average-pooled tokens; the same probe on
// raw pixels or a random-init encoder gives its baselines.
#pragma once
#include <functional>
#include <memory>

#include <jepa/models/probe_training.hpp>
#include <jepa/models/vit.hpp>

namespace jepa::models {

struct ProbeResult {
  double train_accuracy = 0, test_accuracy = 0;
};

// Mean over tokens of the encoder's output, concatenated over its last `last_blocks` blocks (0: all;
// each through the final norm): (N, C, H, W) images -> (N, blocks * D), in batches, no graph.
inline Tensor pooled_features(const VisionTransformer& encoder, const Tensor& images, int64_t last_blocks = 0,
                              int64_t batch_size = 256,
                              const std::function<void(int64_t, int64_t)>& progress = nullptr) {
  NoGrad no_grad;
  const int64_t n = images.size(0);
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < n; i += batch_size) {
    const int64_t b = std::min(batch_size, n - i);
    std::vector<Tensor> pooled;
    for (const Tensor& tokens : encoder.forward_last_blocks(images.narrow(0, i, b), last_blocks))
      pooled.push_back(mean(tokens, {1}));
    parts.push_back(cat(pooled, 1));
    if (progress) progress(i + b, n);
  }
  return cat(parts, 0);
}

// Trains on (train_x (N, D), train_y (N) i64) and reports accuracy on both sets; the head lives on
// the features' device.
inline ProbeResult linear_probe(const Tensor& train_x, const Tensor& train_y, const Tensor& test_x,
                                const Tensor& test_y, const ProbeOptions& options = {}) {
  JEPA_CHECK(train_x.dim() == 2 && test_x.dim() == 2 && train_x.size(1) == test_x.size(1), "linear_probe",
             "features must be (N, D) with the same D, got ", train_x.shape(), " and ", test_x.shape());
  const int64_t n = train_x.size(0), classes = static_cast<int64_t>(max(train_y.to(DType::f64)).item()) + 1;
  // Named tensors, not a structured binding: clang 15 (hipcc) cannot capture bindings in lambdas.
  const Standardized x = standardize(train_x, test_x);
  const Tensor &x_train = x.train, &x_test = x.test;
  Generator gen(options.seed);
  auto head = std::make_shared<nn::Linear>(train_x.size(1), classes, true, gen, 0.01);
  head->to(train_x.device());
  fit_probe(*head, n, options, gen, [&](const Tensor& idx) {
    return cross_entropy(head->forward(index_select(x_train, 0, idx)), index_select(train_y, 0, idx));
  });
  NoGrad no_grad;
  return {accuracy(head->forward(x_train), train_y), accuracy(head->forward(x_test), test_y)};
}

// Images (N, C, H, W), normalized as the encoder was trained on, with their labels (N) i64.
struct LabelledImages {
  Tensor images, labels;
};

// Reports feature extraction: split ("train" or "test"), images done and in all; called with 0
// done before each split starts.
using FeatureProgress = std::function<void(const char* split, int64_t done, int64_t total)>;

// The linear probe of `encoder` (on any device; the data goes there): trained on the pooled
// features (pooled_features, `last_blocks`) of `train`, scored on those of `test`.
inline ProbeResult evaluate_linear_probe(const VisionTransformer& encoder, const LabelledImages& train,
                                         const LabelledImages& test, int64_t last_blocks = 0,
                                         const ProbeOptions& options = {}, const FeatureProgress& progress = nullptr) {
  constexpr int64_t kBatch = 256;
  const Device device = encoder.parameters().at(0).device();
  const auto features = [&](const LabelledImages& data, const char* split) {
    if (progress) progress(split, 0, data.images.size(0));
    return pooled_features(encoder, data.images.to(device), last_blocks, kBatch, [&](int64_t done, int64_t total) {
      if (progress) progress(split, done, total);
    });
  };
  const Tensor train_x = features(train, "train"), test_x = features(test, "test");
  return linear_probe(train_x, train.labels.to(device), test_x, test.labels.to(device), options);
}

}  // namespace jepa::models
