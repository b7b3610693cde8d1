// The V-JEPA 2-AC predictor against PyTorch (tests/ref/make_ac_reference.py, data in tests/data/ac/;
// the reference itself agrees with the official modules to 3e-8, check_ac_reference_against_official.py):
// forward, the gradient of every parameter and input, a 2 x 3 grid, both loss terms and their input
// gradients, in f32 and f64. Then a finite-difference gradcheck of the whole predictor in f64, the
// block-causality of its output, the official initialisation, the config read from a state dict and
// the errors for inputs that do not fit. ACWorldModel's batched rollout against the predictor called
// step by step, its dead reckoning, and a plan() through it. The last case runs `jepa ac-predict` on the reference
// (the tool's path in JEPA_TOOL: plain runs of the test binary skip it, CTest runs it as
// jepa_tool_ac_predict).
#include <doctest/doctest.h>

#include <cmath>
#include <jepa/io/npy.hpp>
#include <jepa/io/safetensors.hpp>
#include <jepa/models/ac_predictor.hpp>
#include <jepa/models/ac_world_model.hpp>

#include "kernel_checks.hpp"
#include "run_tool.hpp"
#include "test_files.hpp"

using namespace jepa;
using namespace jepa::models;
using namespace jepa::test;

namespace {

const std::string kWeightsFile = "ac/predictor_weights.safetensors";

const SafeTensors& reference() {
  static const SafeTensors data = load_safetensors(data_path("ac/predictor.safetensors"));
  return data;
}
const SafeTensors& reference_weights() {
  static const SafeTensors data = load_safetensors(data_path(kWeightsFile));
  return data;
}
int64_t meta(const std::string& key) { return std::stoll(reference().metadata.at(key)); }

std::shared_ptr<ACPredictor> reference_model(DType dtype, int64_t grid_width = meta("grid_width")) {
  const ACPredictorConfig config = ac_predictor_config_from(reference_weights().tensors, meta("heads"),
                                                            meta("grid_height"), grid_width, kWeightsFile);
  Generator overwritten(0);
  auto model = std::make_shared<ACPredictor>(config, overwritten);
  model->load_state_dict(reference_weights().tensors);
  model->to(dtype);
  return model;
}

Tensor leaf(const std::string& name, DType dtype) { return reference().at(name).to(dtype).detach().clone().requires_grad_(); }

// f32 runs in f32 throughout; f64 runs on the same float32-valued weights and inputs as PyTorch's
// float64 reference, so it meets the reference down to the float32 rounding of the stored values.
double tolerance_for(DType dtype) { return dtype == DType::f32 ? 2e-6 : 1e-7; }

// A tiny predictor in f64 with every parameter moved off its init (biases and LayerNorms not 0 and
// 1), so no term of the gradient vanishes: embed 4, width 16, 2 heads (dh 8: RoPE sections of 2,
// 2 dims unrotated), depth 2, grid 2 x 2, action 2, state 3.
std::shared_ptr<ACPredictor> tiny_model(uint64_t seed) {
  ACPredictorConfig c;
  c.embed_dim = 4;
  c.action_dim = 2;
  c.state_dim = 3;
  c.grid_height = c.grid_width = 2;
  c.dim = 16;
  c.depth = 2;
  c.heads = 2;
  Generator gen(seed);
  auto model = std::make_shared<ACPredictor>(c, gen);
  model->to(DType::f64);
  NoGrad no_grad;
  for (Tensor& p : model->parameters()) p.add_(normal(p.shape(), 0.0, 0.3, gen, DType::f64));
  return model;
}

}  // namespace

TEST_CASE("ACPredictor parity: forward and every gradient equal PyTorch's, in f32 and f64") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const auto model = reference_model(dtype);
    Tensor tokens = leaf("forward.tokens", dtype), actions = leaf("forward.actions", dtype);
    Tensor states = leaf("forward.states", dtype);
    const Tensor out = model->forward(tokens, actions, states);  // (B, T, HW, E)
    CHECK(difference(out, reference().at("forward.out")) <= tolerance_for(dtype));
    sum(out * reference().at("forward.weight").to(dtype)).backward();
    const nn::NamedTensors params = model->named_parameters();
    REQUIRE(params.size() == reference_weights().tensors.size());
    for (const auto& [name, p] : params) {
      CAPTURE(name);
      CHECK(difference(p.grad(), reference().at("grad." + name)) <= tolerance_for(dtype));
    }
    CHECK(difference(tokens.grad(), reference().at("grad.tokens")) <= tolerance_for(dtype));
    CHECK(difference(actions.grad(), reference().at("grad.actions")) <= tolerance_for(dtype));
    CHECK(difference(states.grad(), reference().at("grad.states")) <= tolerance_for(dtype));
  }
}

TEST_CASE("ACPredictor parity: a 2 x 3 grid, whose columns RoPE places 2/3 apart") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const auto model = reference_model(dtype, meta("wide_grid_width"));
    NoGrad no_grad;
    const Tensor out = model->forward(leaf("wide.tokens", dtype), leaf("forward.actions", dtype),
                                      leaf("forward.states", dtype));
    CHECK(difference(out, reference().at("wide.out")) <= tolerance_for(dtype));
  }
}

TEST_CASE("ac_loss parity: teacher forcing and the fixed 2-step rollout, values and input gradients") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const auto model = reference_model(dtype);
    for (const std::string term : {"teacher_forcing", "rollout"}) {
      CAPTURE(term);
      Tensor features = leaf("loss.features", dtype), actions = leaf("loss.actions", dtype);
      Tensor states = leaf("loss.states", dtype);
      const ACLoss loss = ac_loss(*model, features, actions, states, meta("rollout_steps"));
      const Tensor& value = term == "teacher_forcing" ? loss.teacher_forcing : loss.rollout;
      const double expected = reference().at("loss." + term).item();
      CHECK(value.item() == doctest::Approx(expected).epsilon(dtype == DType::f32 ? 1e-6 : 1e-12));
      value.backward();
      CHECK(difference(features.grad(), reference().at("loss." + term + ".grad.features")) <= tolerance_for(dtype));
      CHECK(difference(actions.grad(), reference().at("loss." + term + ".grad.actions")) <= tolerance_for(dtype));
      CHECK(difference(states.grad(), reference().at("loss." + term + ".grad.states")) <= tolerance_for(dtype));
    }
  }
}

TEST_CASE("ac_loss: the rollout's first prediction is the teacher-forced one, the second comes from [h_0, z_1]") {
  const auto model = tiny_model(3);
  NoGrad no_grad;
  const Tensor h = layer_norm(random({2, 4, 4, 4}, 30, DType::f64), {4});  // (B, T, HW, E)
  const Tensor a = random({2, 3, 2}, 31, DType::f64), s = random({2, 4, 3}, 32, DType::f64);
  const Tensor z1 = predict_normalized(*model, h.narrow(1, 0, 1), a.narrow(1, 0, 1), s.narrow(1, 0, 1));
  const Tensor z2 = predict_normalized(*model, cat({h.narrow(1, 0, 1), z1}, 1), a.narrow(1, 0, 2), s.narrow(1, 0, 2))
                        .narrow(1, 1, 1);
  const Tensor z3 = predict_normalized(*model, cat({h.narrow(1, 0, 1), z1, z2}, 1), a, s.narrow(1, 0, 3))
                        .narrow(1, 2, 1);
  const double two_steps = mean(abs(cat({z1, z2}, 1) - h.narrow(1, 1, 2))).item();
  CHECK(ac_loss(*model, h, a, s).rollout.item() == doctest::Approx(two_steps).epsilon(1e-13));
  const double three_steps = mean(abs(cat({z1, z2, z3}, 1) - h.narrow(1, 1, 3))).item();
  CHECK(ac_loss(*model, h, a, s, 3).rollout.item() == doctest::Approx(three_steps).epsilon(1e-13));
  // teacher forcing predicts all frames from the true context in one pass
  const Tensor tf = predict_normalized(*model, h.narrow(1, 0, 3), a, s.narrow(1, 0, 3));
  CHECK(ac_loss(*model, h, a, s).teacher_forcing.item() ==
        doctest::Approx(mean(abs(tf - h.narrow(1, 1, 3))).item()).epsilon(1e-13));
  CHECK(difference(tf.narrow(1, 0, 1), z1) <= 1e-14);
}

TEST_CASE("gradcheck: the whole ACPredictor in f64, every parameter and input") {
  const auto model = tiny_model(5);
  Generator gen(6);
  std::vector<Tensor> inputs{normal({2, 2, 4, 4}, 0.0, 1.0, gen, DType::f64).requires_grad_(),
                             normal({2, 2, 2}, 0.0, 1.0, gen, DType::f64).requires_grad_(),
                             normal({2, 2, 3}, 0.0, 1.0, gen, DType::f64).requires_grad_()};
  const std::vector<Tensor> params = model->parameters();
  inputs.insert(inputs.end(), params.begin(), params.end());
  const auto f = [&](const std::vector<Tensor>& t) { return model->forward(t[0], t[1], t[2]); };
  const GradcheckResult result = gradcheck(f, inputs);
  CHECK_MESSAGE(result, result);
}

TEST_CASE("ACPredictor is block-causal: frame t's output does not depend on later frames") {
  const auto model = tiny_model(7);
  const int64_t T = 3;
  Tensor tokens = random({2, T, 4, 4}, 40, DType::f64).requires_grad_();
  Tensor actions = random({2, T, 2}, 41, DType::f64).requires_grad_();
  Tensor states = random({2, T, 3}, 42, DType::f64).requires_grad_();
  for (int64_t t = 0; t < T; ++t) {
    CAPTURE(t);
    // the gradient of frame t's output reaches the inputs of frames <= t only
    for (Tensor* x : {&tokens, &actions, &states}) x->impl().grad = nullptr;
    sum(model->forward(tokens, actions, states).narrow(1, t, 1)).backward();
    for (Tensor* x : {&tokens, &actions, &states}) {
      const Tensor g = x->grad();
      CHECK(max(abs(g.narrow(1, 0, t + 1))).item() > 1e-6);
      if (t + 1 < T) CHECK(max(abs(g.narrow(1, t + 1, T - t - 1))).item() == 0);
    }
  }
  // and as values: other later frames leave the earlier outputs bit for bit as they were
  NoGrad no_grad;
  const Tensor out = model->forward(tokens, actions, states);  // (B, T, HW, E)
  const Tensor later_tokens = cat({tokens.narrow(1, 0, 1), random({2, T - 1, 4, 4}, 43, DType::f64)}, 1);
  const Tensor later_actions = cat({actions.narrow(1, 0, 1), random({2, T - 1, 2}, 44, DType::f64)}, 1);
  const Tensor changed = model->forward(later_tokens, later_actions, states);
  CHECK(difference(changed.narrow(1, 0, 1), out.narrow(1, 0, 1)) == 0);
  CHECK(difference(changed.narrow(1, 1, T - 1), out.narrow(1, 1, T - 1)) > 1e-3);
  // a prefix of the frames gives the same outputs as the whole sequence
  const Tensor prefix = model->forward(tokens.narrow(1, 0, 2), actions.narrow(1, 0, 2), states.narrow(1, 0, 2));
  CHECK(difference(prefix, out.narrow(1, 0, 2)) <= 1e-14);
}

TEST_CASE("ACPredictor init is the official one: trunc-normal 0.02, zero biases, unit LayerNorms, proj and fc2 / sqrt(2 l)") {
  ACPredictorConfig c;
  c.embed_dim = 96;
  c.dim = 128;
  c.depth = 3;
  c.heads = 4;
  Generator gen(11);
  const ACPredictor model(c, gen);
  const auto stddev = [](const Tensor& t) {
    const Tensor centred = t - mean(t);
    return std::sqrt(mean(centred * centred).item());
  };
  // trunc_normal(0.02) cut at +-2 absolute, i.e. at 100 sigma: the plain normal's std
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    const bool norm = name.find("norm") != std::string::npos;
    const bool bias = name.size() > 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (bias) CHECK(max(abs(p)).item() == 0);
    else if (norm) CHECK(difference(p, ones_like(p)) == 0);
    else if (name.find("attn.proj.weight") != std::string::npos || name.find("mlp.fc2.weight") != std::string::npos) {
      const int64_t layer = std::stoll(name.substr(std::string("predictor_blocks.").size())) + 1;
      CHECK(stddev(p) == doctest::Approx(0.02 / std::sqrt(2.0 * layer)).epsilon(0.05));
    } else CHECK(stddev(p) == doctest::Approx(0.02).epsilon(0.05));
  }
}

TEST_CASE("ac_predictor_config_from reads the widths and depth from the official names") {
  const ACPredictorConfig c = ac_predictor_config_from(reference_weights().tensors, 2, 3, 3, kWeightsFile);
  CHECK(c.embed_dim == 16);
  CHECK(c.dim == 28);
  CHECK(c.depth == 2);
  CHECK(c.action_dim == 2);
  CHECK(c.state_dim == 2);
  CHECK(static_cast<int64_t>(c.dim * c.mlp_ratio) == 112);
  CHECK(c.qkv_bias);
  CHECK(c.grid_height * c.grid_width == 9);
  // an MLP width that dim * (hidden / dim) in doubles rounds below: 49 / 7 * 7 = 48.99...
  nn::NamedTensors odd{{"predictor_embed.weight", zeros({7, 3})}, {"action_encoder.weight", zeros({7, 2})},
                       {"state_encoder.weight", zeros({7, 2})}, {"predictor_blocks.0.norm1.weight", zeros({7})},
                       {"predictor_blocks.0.mlp.fc1.weight", zeros({49, 7})}};
  const ACPredictorConfig oc = ac_predictor_config_from(odd, 7, 1, 1, "odd");
  CHECK(static_cast<int64_t>(oc.dim * oc.mlp_ratio) == 49);
  CHECK_FALSE(oc.qkv_bias);

  CHECK(error_of([&] { ac_predictor_config_from(reference_weights().tensors, 3, 2, 2, kWeightsFile); }) ==
        "[ac_predictor_config_from] " + kWeightsFile + " holds a predictor 28 wide, which 3 heads do not divide");
  CHECK(error_of([&] { ac_predictor_config_from({}, 2, 2, 2, "empty.safetensors"); }) ==
        "[ac_predictor_config_from] empty.safetensors has no 'predictor_embed.weight': not a V-JEPA 2-AC predictor "
        "under the official names");
  nn::NamedTensors narrow_state = odd;
  narrow_state[2].second = zeros({5, 2});
  CHECK(error_of([&] { ac_predictor_config_from(narrow_state, 7, 1, 1, "w.safetensors"); }) ==
        "[ac_predictor_config_from] w.safetensors has 'state_encoder.weight' of shape [5, 2], but "
        "predictor_embed.weight [7, 3] makes the predictor 7 wide");
}

TEST_CASE("ACPredictor and ac_loss refuse inputs that do not fit, naming the shapes") {
  const auto model = tiny_model(9);
  const Tensor z = zeros({1, 2, 4, 4}, DType::f64), a = zeros({1, 2, 2}, DType::f64), s = zeros({1, 2, 3}, DType::f64);
  CHECK(error_of([&] { model->forward(zeros({1, 2, 9, 4}, DType::f64), a, s); }) ==
        "[ACPredictor] expected tokens (B, T, 4, 4) for a 2 x 2 grid of width 4, got shape [1, 2, 9, 4]");
  CHECK(error_of([&] { model->forward(z, zeros({1, 3, 2}, DType::f64), s); }) ==
        "[ACPredictor] tokens of shape [1, 2, 4, 4] need actions (1, 2, 2) and states (1, 2, 3), got [1, 3, 2] and "
        "[1, 2, 3]");
  CHECK(error_of([&] { ac_loss(*model, z, zeros({1, 1, 2}, DType::f64), s); }) ==
        "[ac_loss] expected features (B, T, HW, D) of T >= 3 frames for 2 rollout steps, got shape [1, 2, 4, 4]");
  CHECK(error_of([&] { ac_loss(*model, zeros({1, 3, 4, 4}, DType::f64), a, s); }) ==
        "[ac_loss] features of 3 frames need actions (B, 2, A) and states (B, 3, S), got [1, 2, 2] and [1, 2, 3]");
}

TEST_CASE("ACWorldModel rolls all candidates as one batch, as the predictor called step by step does") {
  const auto predictor = tiny_model(13);  // state dim 3: a dead reckoning of its own
  const DeadReckoning drift = [](const Tensor& state, const Tensor& action) {
    return state + cat({action, action.narrow(1, 0, 1)}, 1) * 0.5;
  };
  ACWorldModel world(predictor, drift);
  const Tensor context = layer_norm(random({4, 4}, 50, DType::f64), {4});  // (HW, E)
  const Tensor state = random({3}, 51, DType::f64);
  const Tensor actions = random({5, 3, 2}, 52, DType::f64, -1, 1);        // (N, H, A)
  NoGrad no_grad;
  world.prepare(context, state);
  const Tensor rolled = world.rollout(actions);  // (N, H, HW, E)
  REQUIRE(rolled.shape() == Shape{5, 3, 4, 4});
  for (int64_t n = 0; n < 5; ++n) {
    CAPTURE(n);
    Tensor frames = context.reshape({1, 1, 4, 4}), states = state.reshape({1, 1, 3});
    for (int64_t h = 0; h < 3; ++h) {
      const Tensor a = actions.narrow(0, n, 1).narrow(1, 0, h + 1);  // (1, h+1, A)
      const Tensor z = predictor->forward(frames, a, states).narrow(1, h, 1);
      const Tensor next = layer_norm(z, {4});
      CHECK(difference(rolled.narrow(0, n, 1).narrow(1, h, 1), next) <= 1e-13);
      frames = cat({frames, next}, 1);
      const std::vector<double> s = states.narrow(1, h, 1).to_vector<double>(),
                                u = actions.narrow(0, n, 1).narrow(1, h, 1).to_vector<double>();
      const std::vector<double> moved{s[0] + 0.5 * u[0], s[1] + 0.5 * u[1], s[2] + 0.5 * u[0]};
      states = cat({states, from_vector(moved, {1, 1, 3}, DType::f64)}, 1);
    }
  }
  // the same context and actions again give the same features: prepare() holds the only state
  world.prepare(context.unsqueeze(0), state);
  CHECK(difference(world.rollout(actions), rolled) == 0);
  CHECK(error_of([&] { world.prepare(zeros({2, 4, 4}, DType::f64), state); }) ==
        "[ACWorldModel] expected the features of one frame, (4, 4) or (1, 4, 4), got shape [2, 4, 4]");
  CHECK(error_of([&] { world.prepare(context, zeros({4}, DType::f64)); }) ==
        "[ACWorldModel] expected a state of shape (3), got [4]");
  CHECK(error_of([&] { world.rollout(zeros({5, 3, 3}, DType::f64)); }) ==
        "[ACWorldModel] expected actions (N, H, 2) with H >= 1, got shape [5, 3, 3]");
}

TEST_CASE("agent_dead_reckoning moves the agent by max_speed * action, which becomes its velocity") {
  const Tensor state = from_vector(std::vector<double>{10, 20, 0.3, -0.2, 5, 6, 0, 0}, {2, 4});
  const Tensor action = from_vector(std::vector<double>{1, -0.5, 0, 0.25}, {2, 2});
  const std::vector<double> next = agent_dead_reckoning(1.5)(state, action).to_vector<double>();
  CHECK(next == std::vector<double>{11.5, 19.25, 1.5, -0.75, 5, 6.375, 0, 0.375});
}

TEST_CASE("plan() with ACWorldModel: the best energy is that of the best actions rolled out again") {
  ACPredictorConfig c;
  c.embed_dim = 8;
  c.action_dim = 2;
  c.state_dim = 4;
  c.grid_height = c.grid_width = 2;
  c.dim = 16;
  c.depth = 1;
  c.heads = 2;
  Generator gen(17);
  auto predictor = std::make_shared<ACPredictor>(c, gen);
  ACWorldModel world(predictor, agent_dead_reckoning(1.5));
  const Tensor context = layer_norm(random({4, 8}, 60, DType::f32), {8}), goal = layer_norm(random({4, 8}, 61, DType::f32), {8});
  const Tensor state = from_vector(std::vector<float>{16, 16, 0, 0}, {4});
  PlanOptions options;
  options.horizon = 3;
  options.iterations = 3;
  options.samples = 32;
  options.elites = 4;
  options.action_low = {-1, -1};
  options.action_high = {1, 1};
  options.init_std = {1, 1};
  Generator noise(18);
  const PlanResult result = plan(world, context, state, goal, options, noise);
  REQUIRE(result.actions.shape() == Shape{3, 2});
  NoGrad no_grad;
  world.prepare(context, state);
  const Tensor again = world.rollout(result.best_actions.unsqueeze(0));  // (1, H, HW, E)
  CHECK(energy(again, goal).item() == doctest::Approx(result.best_energy).epsilon(1e-5));
  CHECK(max(abs(result.actions)).item() <= 1);
}

TEST_CASE("jepa ac-predict matches the PyTorch reference; it names what does not fit" * doctest::skip()) {
  const std::string weights = data_path(kWeightsFile), out = temp_path("ac_predicted.npy");
  const std::string tokens = data_path("ac/tokens.npy"), actions = data_path("ac/actions.npy");
  const std::string states = data_path("ac/states.npy");
  const auto predict = [&](const std::string& weights_file, const std::string& heads, const std::string& z,
                           const std::string& a, const std::string& s) {
    return run_tool("ac-predict --weights '" + weights_file + "' --heads " + heads + " --tokens '" + z +
                    "' --actions '" + a + "' --states '" + s + "' --out '" + out + "'");
  };
  REQUIRE(predict(weights, "2", tokens, actions, states).status == 0);
  const Tensor predicted = load_npy(out);
  CHECK(predicted.dtype() == DType::f32);
  const Tensor& expected = reference().at("forward.out");
  REQUIRE(predicted.shape() == expected.shape());
  const double worst = max(abs(predicted.to(DType::f64) - expected.to(DType::f64))).item();
  MESSAGE("jepa ac-predict vs PyTorch: max abs difference ", worst);
  CHECK(worst <= 1e-5);

  const auto check_fails = [&](const ToolResult& result, const std::string& message) {
    CHECK_MESSAGE(result.status != 0, "ac-predict succeeded where it should have said: ", message);
    CHECK_MESSAGE(result.errors.find(message) != std::string::npos, "expected '", message, "' in: ", result.errors);
  };
  check_fails(predict(weights, "3", tokens, actions, states),
              "jepa: [ac-predict] --weights: [ac_predictor_config_from] " + weights +
                  " holds a predictor 28 wide, which 3 heads do not divide");
  const auto npy = [](const std::string& name, const Tensor& t) {
    const std::string path = temp_path(name);
    save_npy(path, t);
    return path;
  };
  const std::string not_square = npy("not_square.npy", zeros({2, 3, 3, 16}));
  check_fails(predict(weights, "2", not_square, actions, states),
              "[ac-predict] tokens " + not_square +
                  " have shape [2, 3, 3, 16]; expected (B, T, N, D) with N the patches of a square grid");
  const std::string narrow = npy("narrow.npy", zeros({2, 3, 4, 8}));
  check_fails(predict(weights, "2", narrow, actions, states),
              "[ac-predict] tokens " + narrow + " have shape [2, 3, 4, 8], but the predictor in " + weights +
                  " takes tokens 16 wide (predictor_embed.weight [28, 16])");
  const std::string two_actions = npy("two_actions.npy", zeros({2, 2, 2}));
  check_fails(predict(weights, "2", tokens, two_actions, states),
              "[ac-predict] actions " + two_actions + " have shape [2, 2, 2]; tokens of shape [2, 3, 4, 16] and the "
                  "predictor in " + weights + " (action_encoder.weight [28, 2]) need (2, 3, 2)");
  const std::string wide_states = npy("wide_states.npy", zeros({2, 3, 4}));
  check_fails(predict(weights, "2", tokens, actions, wide_states),
              "[ac-predict] states " + wide_states + " have shape [2, 3, 4]; tokens of shape [2, 3, 4, 16] and the "
                  "predictor in " + weights + " (state_encoder.weight [28, 2]) need (2, 3, 2)");

  const nn::NamedTensors& stored = reference_weights().tensors;
  const auto weights_file = [](const std::string& name, const nn::NamedTensors& tensors) {
    const std::string path = temp_path(name);
    save_safetensors(path, tensors);
    return path;
  };
  nn::NamedTensors without_norm_bias;
  for (const auto& [name, t] : stored)
    if (name != "predictor_norm.bias") without_norm_bias.emplace_back(name, t);
  const std::string incomplete = weights_file("incomplete.safetensors", without_norm_bias);
  check_fails(predict(incomplete, "2", tokens, actions, states),
              "[ac-predict] weights file " + incomplete + " lacks 1 of the 34 tensors of the V-JEPA 2-AC predictor "
                  "(width 28, depth 2): 'predictor_norm.bias'");
  nn::NamedTensors with_extrinsics = stored;
  with_extrinsics.emplace_back("extrinsics_encoder.weight", zeros({28, 1}));
  const std::string extra = weights_file("extra.safetensors", with_extrinsics);
  check_fails(predict(extra, "2", tokens, actions, states),
              "[ac-predict] weights file " + extra + " has 1 tensors the V-JEPA 2-AC predictor (width 28, depth 2) "
                  "does not have: 'extrinsics_encoder.weight'");
  nn::NamedTensors narrow_mlp = stored;
  for (auto& [name, t] : narrow_mlp)
    if (name == "predictor_blocks.1.mlp.fc1.weight") t = zeros({100, 28});
  const std::string odd = weights_file("odd.safetensors", narrow_mlp);
  check_fails(predict(odd, "2", tokens, actions, states),
              "[ac-predict] weights file " + odd + " has 'predictor_blocks.1.mlp.fc1.weight' of shape [100, 28], the "
                  "V-JEPA 2-AC predictor (width 28, depth 2) expects [112, 28]");
}
