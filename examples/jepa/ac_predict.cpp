// `jepa ac-predict`: runs a V-JEPA 2-AC predictor on frame tokens, actions and states.
//   jepa ac-predict --weights W.safetensors --heads H --tokens Z.npy --actions A.npy --states S.npy
//                   --out Y.npy [--device D]
// W holds the predictor under the official names (tools/convert_vjepa2_ac_checkpoint.py writes it
// from an official checkpoint); its widths and depth come from the tensors' shapes, the head count
// from --heads (the shapes do not fix it; the official model has 16). Z (B, T, N, D) are the
// encoder's tokens of T frames on a square grid of N patches, A (B, T, a) and S (B, T, s) the
// action and state of each frame. Y (B, T, N, D) float32 is the official forward's output: frame
// t's prediction of frame t + 1's tokens, before the layer norm that training and planning apply.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include <jepa/io/npy.hpp>
#include <jepa/io/safetensors.hpp>
#include <jepa/models/ac_predictor.hpp>

#include "commands.hpp"
#include "device_flag.hpp"
#include "weights_file.hpp"

namespace jepa::tool {
namespace {

struct ACPredictOptions {
  std::string weights, tokens, actions, states, out, device = "cpu";
  int64_t heads = 0;
};

// The side of the square grid of `patches` tokens, or 0.
int64_t square_side(int64_t patches) {
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(patches))));
  return side * side == patches ? side : 0;
}

void run_ac_predict(const ACPredictOptions& o) {
  constexpr const char* command = "ac-predict";
  const Device device = use_device(o.device, command);
  const Tensor tokens = load_npy(o.tokens, DType::f32);  // (B, T, N, D)
  JEPA_CHECK(tokens.dim() == 4 && square_side(tokens.size(2)) > 0, command, "tokens ", o.tokens, " have shape ",
             tokens.shape(), "; expected (B, T, N, D) with N the patches of a square grid");
  const int64_t B = tokens.size(0), T = tokens.size(1), grid = square_side(tokens.size(2));
  const SafeTensors file = load_safetensors(o.weights);
  models::ACPredictorConfig config;
  try {
    config = models::ac_predictor_config_from(file.tensors, o.heads, grid, grid, o.weights);
  } catch (const Error& e) {
    fail(command, "--weights: ", e.what());
  }
  JEPA_CHECK(tokens.size(3) == config.embed_dim, command, "tokens ", o.tokens, " have shape ", tokens.shape(),
             ", but the predictor in ", o.weights, " takes tokens ", config.embed_dim,
             " wide (predictor_embed.weight ", file.at("predictor_embed.weight").shape(), ")");
  const auto load_per_frame = [&](const std::string& path, int64_t width, const char* what, const char* key) {
    const Tensor t = load_npy(path, DType::f32);  // (B, T, width)
    JEPA_CHECK(t.dim() == 3 && t.size(0) == B && t.size(1) == T && t.size(2) == width, command, what, " ", path,
               " have shape ", t.shape(), "; tokens of shape ", tokens.shape(), " and the predictor in ", o.weights,
               " (", key, " ", file.at(key).shape(), ") need (", B, ", ", T, ", ", width, ")");
    return t;
  };
  const Tensor actions = load_per_frame(o.actions, config.action_dim, "actions", "action_encoder.weight");
  const Tensor states = load_per_frame(o.states, config.state_dim, "states", "state_encoder.weight");

  Generator overwritten_init(0);
  models::ACPredictor predictor(config, overwritten_init);
  load_weights(predictor, file,
               {command, o.weights, "", jepa::detail::concat("V-JEPA 2-AC predictor (width ", config.dim, ", depth ",
                                                             config.depth, ")"), ""});
  predictor.to(device);
  NoGrad no_grad;
  const Tensor predicted = predictor.forward(tokens.to(device), actions.to(device), states.to(device));
  save_npy(o.out, predicted.to(Device::cpu()));
  std::cout << "predicted " << predicted.shape() << " from " << T << " frames of " << grid << " x " << grid
            << " tokens with a predictor of width " << config.dim << ", depth " << config.depth << ", "
            << predictor.num_parameters() << " parameters: " << o.out << "\n";
}

}  // namespace

void register_ac_predict(CLI::App& app) {
  auto o = std::make_shared<ACPredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "ac-predict", "run a V-JEPA 2-AC predictor on (B, T, N, D) tokens, actions and states; write its output");
  cmd->add_option("--weights", o->weights, "predictor weights (.safetensors, official names)")->required();
  cmd->add_option("--heads", o->heads, "attention heads (the official predictor has 16)")->required();
  cmd->add_option("--tokens", o->tokens, "encoder tokens, (B, T, N, D) .npy on a square grid of N patches")->required();
  cmd->add_option("--actions", o->actions, "one action per frame, (B, T, a) .npy")->required();
  cmd->add_option("--states", o->states, "one state per frame, (B, T, s) .npy")->required();
  cmd->add_option("--out", o->out, "output .npy, (B, T, N, D) float32: frame t's prediction of frame t + 1")->required();
  add_device_flag(cmd, o->device);
  cmd->callback([o] { run_ac_predict(*o); });
}

}  // namespace jepa::tool
