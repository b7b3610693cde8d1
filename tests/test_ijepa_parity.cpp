// I-JEPA parity with the official model. tests/ref/make_ijepa_reference.py runs a plain-PyTorch
// restatement of facebookresearch/ijepa (tests/ref/ijepa_reference.py) in float64 on float32
// weights and images; here jepa-cpp runs the same small model (encoder 32 wide, 2 blocks, 4 heads,
// patch 4 on 20x20 single-channel images; predictor 16 wide, 2 blocks; 3 images, 2 context and 3
// target masks) in float32 and must agree, tensor by tensor, in normwise relative error
// ||ours - reference|| / ||reference||:
//  - encoder outputs, predictions, loss and the gradient of every parameter: at most 1e-5;
//  - every parameter after one JepaTrainer step (AdamW with the official groups and schedules,
//    then the EMA of the target encoder): at most 1e-5;
//  - the change of every parameter in that step: at most 5e-5. That change is small next to the
//    parameter (float32 rounding of a LayerNorm weight near 1 alone costs up to 1e-5 of it), and
//    AdamW divides each gradient by its magnitude plus eps, which turns the float32 error of the
//    smallest gradients into update error. The official model run in float32 reaches 8.5e-6.
// The worst error of each group is printed. The 2-D sin-cos tables must equal the official numpy
// tables (float64, then rounded to float32) to the last bit.
// The last case runs the `jepa` tool (init, embed, its error messages) against the outputs of
// tests/ref/check_embed.py; it needs the tool's path in JEPA_TOOL, so plain runs of the test
// binary skip it and CTest runs it as jepa_tool_init_embed.
#include <doctest/doctest.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include <jepa/io/npy.hpp>
#include <jepa/io/safetensors.hpp>
#include <jepa/models/ijepa.hpp>
#include <jepa/models/trainer.hpp>

#include "run_tool.hpp"
#include "test_files.hpp"

using namespace jepa;
using namespace jepa::models;

namespace {

const SafeTensors& step_data() {
  static const SafeTensors data = load_safetensors(test::data_path("ijepa/step.safetensors"));
  return data;
}

double meta(const std::string& key) { return std::stod(step_data().metadata.at(key)); }
int64_t meta_int(const std::string& key) { return std::stoll(step_data().metadata.at(key)); }

// The tensors whose names start with `prefix`, with the prefix removed.
nn::NamedTensors with_prefix(const std::string& prefix) { return nn::with_prefix(step_data().tensors, prefix); }

std::vector<Tensor> masks(const std::string& prefix) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : with_prefix(prefix)) out.push_back(t);
  return out;
}

double normwise_error(const Tensor& ours, const Tensor& reference) {
  REQUIRE(ours.shape() == reference.shape());
  const std::vector<double> a = ours.to_vector<double>(), b = reference.to_vector<double>();
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff) / std::sqrt(norm);
}

// The worst normwise error over a group of tensors, each checked against the tolerance.
class ErrorGroup {
 public:
  ErrorGroup(std::string group, double tolerance) : group_(std::move(group)), tolerance_(tolerance) {}
  void check(const std::string& name, const Tensor& ours, const Tensor& reference) {
    const double e = normwise_error(ours, reference);
    CHECK_MESSAGE(e <= tolerance_, group_, " ", name, ": normwise relative error ", e);
    if (e >= worst_) {
      worst_ = e;
      worst_name_ = name;
    }
    ++count_;
  }
  ~ErrorGroup() { MESSAGE(group_, ": ", count_, " tensors, max normwise relative error ", worst_, " (", worst_name_, ")"); }

 private:
  std::string group_, worst_name_;
  double tolerance_, worst_ = 0;
  int count_ = 0;
};

// The reference model with the file's weights: encoder.*, predictor.*, target_encoder.*.
IJEPA reference_model() {
  IJEPAConfig config;
  config.encoder.image_size = meta_int("img");
  config.encoder.patch_size = meta_int("patch");
  config.encoder.channels = meta_int("channels");
  config.encoder.dim = meta_int("dim");
  config.encoder.depth = meta_int("depth");
  config.encoder.heads = meta_int("heads");
  config.predictor = predictor_for(config.encoder, meta_int("pred_dim"), meta_int("pred_depth"));
  Generator gen(0);
  IJEPA model(config, gen);
  model.encoder->load_state_dict(with_prefix("encoder."));
  model.predictor->load_state_dict(with_prefix("predictor."));
  model.target_encoder->load_state_dict(with_prefix("target_encoder."));
  return model;
}

struct Batch {
  Tensor images = step_data().at("images");
  std::vector<Tensor> context = masks("masks_enc."), targets = masks("masks_pred.");
};

}  // namespace

TEST_CASE("I-JEPA 2-D sin-cos tables equal the official numpy tables bit for bit") {
  const SafeTensors tables = load_safetensors(test::data_path("ijepa/sincos.safetensors"));
  REQUIRE(tables.tensors.size() == 4);
  for (const auto& [name, expected] : tables.tensors) {
    int64_t dim = 0, grid = 0;
    REQUIRE(std::sscanf(name.c_str(), "dim_%" SCNd64 "_grid_%" SCNd64, &dim, &grid) == 2);
    const Tensor ours = nn::sincos_2d_ijepa(dim, grid, grid);
    REQUIRE(ours.shape() == expected.shape());
    const std::vector<float> a = ours.to_vector<float>(), b = expected.to_vector<float>();
    int64_t differing = 0;
    for (size_t i = 0; i < a.size(); ++i) differing += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    CHECK_MESSAGE(differing == 0, name, ": ", differing, " of ", a.size(), " entries differ");
  }
}

TEST_CASE("I-JEPA forward matches the official model: encoders, predictor, loss") {
  const IJEPA model = reference_model();
  const Batch batch;
  ErrorGroup errors("forward", 1e-5);
  NoGrad no_grad;
  errors.check("context encoder", model.encoder->forward(batch.images, batch.context), step_data().at("out.context"));
  const Tensor full = model.target_encoder->forward(batch.images);
  errors.check("target encoder", full, step_data().at("out.target_encoder"));
  const Tensor context = model.encoder->forward(batch.images, batch.context);
  errors.check("predictor", model.predictor->forward(context, batch.context, batch.targets),
               step_data().at("out.prediction"));
  errors.check("loss", model.loss(batch.images, batch.context, batch.targets).reshape({1}), step_data().at("out.loss"));
}

TEST_CASE("I-JEPA gradients of every encoder and predictor parameter match the official model") {
  const IJEPA model = reference_model();
  const Batch batch;
  model.loss(batch.images, batch.context, batch.targets).backward();
  ErrorGroup errors("gradients", 1e-5);
  size_t compared = 0;
  for (const auto& [prefix, module] : {std::pair<std::string, nn::Module*>{"encoder.", model.encoder.get()},
                                       std::pair<std::string, nn::Module*>{"predictor.", model.predictor.get()}}) {
    for (const auto& [name, p] : module->named_parameters()) {
      REQUIRE_MESSAGE(p.grad().defined(), prefix, name, " has no gradient");
      errors.check(prefix + name, p.grad(), step_data().at("grad." + prefix + name));
      ++compared;
    }
  }
  CHECK(compared == with_prefix("grad.").size());  // every reference gradient has a parameter
}

TEST_CASE("One JepaTrainer step (AdamW with the official groups, then EMA) matches the official step") {
  const IJEPA model = reference_model();
  const Batch batch;
  TrainRecipe recipe;
  recipe.epochs = meta_int("recipe.epochs");
  recipe.iterations_per_epoch = meta_int("recipe.iterations_per_epoch");
  recipe.warmup_epochs = meta("recipe.warmup_epochs");
  recipe.ipe_scale = meta("recipe.ipe_scale");
  recipe.start_lr = meta("recipe.start_lr");
  recipe.lr = meta("recipe.lr");
  recipe.final_lr = meta("recipe.final_lr");
  recipe.weight_decay = meta("recipe.weight_decay");
  recipe.final_weight_decay = meta("recipe.final_weight_decay");
  recipe.ema_start = meta("recipe.ema_start");
  recipe.ema_end = meta("recipe.ema_end");
  optim::AdamWOptions adamw;
  adamw.eps = meta("adamw.eps");
  JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, recipe, adamw);

  const StepStats stats = trainer.step([&] { return model.loss(batch.images, batch.context, batch.targets); });
  CHECK(stats.lr == doctest::Approx(meta("step.lr")).epsilon(1e-15));
  CHECK(stats.weight_decay == doctest::Approx(meta("step.weight_decay")).epsilon(1e-15));
  CHECK(stats.momentum == doctest::Approx(meta("step.momentum")).epsilon(1e-15));
  CHECK(stats.loss == doctest::Approx(step_data().at("out.loss").item()).epsilon(1e-5));

  // The change of each parameter is taken in float64 from the float32 values before and after.
  ErrorGroup after_step("parameters after the step", 1e-5), update("update", 5e-5);
  for (const auto& [prefix, module] : {std::pair<std::string, nn::Module*>{"encoder.", model.encoder.get()},
                                       std::pair<std::string, nn::Module*>{"predictor.", model.predictor.get()},
                                       std::pair<std::string, nn::Module*>{"target_encoder.", model.target_encoder.get()}}) {
    for (const auto& [name, p] : module->named_parameters()) {
      const Tensor before = step_data().at(prefix + name).to(DType::f64);
      const Tensor expected_update = step_data().at("update." + prefix + name).to(DType::f64);
      after_step.check(prefix + name, p, before + expected_update);
      update.check(prefix + name, p.to(DType::f64) - before, expected_update);
    }
  }
}

namespace {

double max_abs_difference(const Tensor& ours, const Tensor& reference) {
  REQUIRE(ours.shape() == reference.shape());
  const std::vector<double> a = ours.to_vector<double>(), b = reference.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace

TEST_CASE("jepa init and embed match the PyTorch reference; embed names what is wrong" * doctest::skip()) {
  const SafeTensors expected = load_safetensors(test::data_path("jepa_tool/expected.safetensors"));
  const auto& meta = expected.metadata;
  const std::string spec = "--model " + meta.at("model") + " --patch " + meta.at("patch") + " --img " + meta.at("img") +
                           " --channels " + meta.at("channels");
  const std::string images = test::data_path("jepa_tool/images.npy");
  const std::string weights = test::temp_path("init.safetensors"), out = test::temp_path("out.npy");
  auto embed = [&](const std::string& weights_file, const std::string& flags) {
    return test::run_tool("embed --weights '" + weights_file + "' --input '" + images + "' --out '" + out +
                    "' --batch-size 2 " + flags);
  };

  REQUIRE(test::run_tool("init " + spec + " --seed " + meta.at("seed") + " --out '" + weights + "'").status == 0);
  const SafeTensors init = load_safetensors(weights);
  {  // the weights check_embed.py computed the expected output from
    const std::vector<double> fingerprint = expected.at("init_fingerprint").to_vector<double>();
    REQUIRE(fingerprint.size() == 2 * init.tensors.size());
    for (size_t i = 0; i < init.tensors.size(); ++i) {
      const std::vector<double> v = init.tensors[i].second.to_vector<double>();
      double sum = 0, squares = 0;
      for (double x : v) {
        sum += x;
        squares += x * x;
      }
      const bool same = std::abs(sum - fingerprint[2 * i]) <= 1e-9 * (std::abs(fingerprint[2 * i]) + 1) &&
                        std::abs(squares - fingerprint[2 * i + 1]) <= 1e-9 * fingerprint[2 * i + 1];
      CHECK_MESSAGE(same, "jepa init wrote different '", init.tensors[i].first,
                    "' than tests/ref/check_embed.py saw; if the initialisation changed on purpose, rerun it");
    }
  }

  REQUIRE(embed(weights, "").status == 0);
  const double difference = max_abs_difference(load_npy(out), expected.at("embeddings"));
  MESSAGE("jepa embed vs PyTorch: max abs difference ", difference);
  CHECK(difference <= 1e-4);

  // A file with several modules and no metadata: --prefix picks one, the flags give the sizes.
  nn::NamedTensors modules;
  for (const std::string prefix : {"encoder.", "target_encoder."})
    for (const auto& [name, t] : init.tensors) modules.emplace_back(prefix + name, prefix == "encoder." ? t * 2.0 : t);
  const std::string combined = test::temp_path("combined.safetensors");
  save_safetensors(combined, modules);
  REQUIRE(embed(combined, "--prefix target_encoder " + spec).status == 0);
  CHECK(max_abs_difference(load_npy(out), expected.at("embeddings")) <= 1e-4);

  // A shallower encoder, as train-ijepa's --depth makes, in a checkpoint-like file whose metadata
  // gives every size: embed needs only the prefix.
  const std::string shallow = test::temp_path("shallow.safetensors");
  REQUIRE(test::run_tool("init " + spec + " --depth 2 --seed 1 --out '" + shallow + "'").status == 0);
  const SafeTensors shallow_init = load_safetensors(shallow);
  nn::NamedTensors shallow_modules;
  for (const auto& [name, t] : shallow_init.tensors) shallow_modules.emplace_back("target_encoder." + name, t);
  const std::string checkpoint = test::temp_path("checkpoint.safetensors");
  save_safetensors(checkpoint, shallow_modules, shallow_init.metadata);
  REQUIRE(embed(checkpoint, "--prefix target_encoder.").status == 0);
  CHECK(load_npy(out).shape() == expected.at("embeddings").shape());

  auto check_fails = [&](const std::string& weights_file, const std::string& flags, const std::string& message) {
    const test::ToolResult result = embed(weights_file, flags);
    CHECK_MESSAGE(result.status != 0, "embed ", flags, " succeeded");
    CHECK_MESSAGE(result.errors.find(message) != std::string::npos, "expected '", message, "' in: ", result.errors);
  };
  check_fails(weights, "--model vit_small", "was written for --model vit_tiny, got --model vit_small");
  check_fails(checkpoint, "--prefix target_encoder. --depth 3", "was written for --depth 2, got --depth 3");
  check_fails(combined, "", "does not record 'model' in its metadata: pass --model");
  check_fails(combined, spec, "lacks 149 of the 149 tensors of the vit_tiny encoder: 'pos_embed', "
                              "'patch_embed.proj.weight', 'patch_embed.proj.bias', 'blocks.0.norm1.weight' and 145 more;"
                              " it has encoders under --prefix 'encoder.', 'target_encoder.'");
  check_fails(combined, "--prefix target_encoder. --model vit_small --patch 4 --img 28 --channels 1",
              "has 'target_encoder.pos_embed' of shape [1, 49, 192], the vit_small encoder expects [1, 49, 384]");

  nn::NamedTensors without_norm(init.tensors.begin(), init.tensors.end() - 2);
  const std::string incomplete = test::temp_path("incomplete.safetensors");
  save_safetensors(incomplete, without_norm, init.metadata);
  check_fails(incomplete, "", "lacks 2 of the 149 tensors of the vit_tiny encoder: 'norm.weight', 'norm.bias'");

  nn::NamedTensors with_extra = init.tensors;
  with_extra.emplace_back("blocks.12.norm1.weight", init.tensors.back().second);
  const std::string deeper = test::temp_path("deeper.safetensors");
  save_safetensors(deeper, with_extra, init.metadata);
  check_fails(deeper, "", "has 1 tensors the vit_tiny encoder does not have: 'blocks.12.norm1.weight'");

  const test::Bytes bytes = test::read_bytes(weights);
  const std::string truncated = test::temp_path("truncated.safetensors");
  test::write_bytes(truncated, test::slice(bytes, 0, bytes.size() / 2));
  check_fails(truncated, "", truncated);

  const std::string small_images = test::temp_path("small.npy");
  save_npy(small_images, zeros({2, 1, 20, 20}));
  const test::ToolResult wrong_input = test::run_tool("embed --weights '" + weights + "' --input '" + small_images + "' --out '" + out + "'");
  CHECK(wrong_input.status != 0);
  CHECK_MESSAGE(wrong_input.errors.find("has shape [2, 1, 20, 20]; the encoder expects (N, 1, 28, 28)") != std::string::npos,
                wrong_input.errors);
}
