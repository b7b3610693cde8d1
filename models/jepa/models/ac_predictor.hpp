// The V-JEPA 2-AC predictor (VisionTransformerPredictorAC of the official src/models/ac_predictor.py,
// with ACBlock and ACRoPEAttention of src/models/utils/modules.py) and its two training losses.
//   per frame t the tokens [action_encoder(a_t), state_encoder(s_t), predictor_embed(z_t) x H*W]
//   pre-norm blocks: RoPE self-attention under the block-causal mask (frame t sees frames <= t),
//   then a 4x exact-GELU MLP; drop the action and state tokens, predictor_norm, predictor_proj.
// The output at frame t predicts the encoder's features of frame t + 1.
// RoPE turns queries and keys only: patch tokens by (t, row * gh / gh, col * gh / gw) over three
// sections of rope_axis_dims(dh) head dims, the action and state tokens by t over the first section
// (rope.hpp's (t, 0, 0) form), the dims past 3 sections unrotated, frequencies in the official
// tiled layout. The mask goes to the fused attention as a block size: no N x N matrix exists.
// Parameter names are the official state dict's: predictor_embed, action_encoder, state_encoder,
// predictor_blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, predictor_norm,
// predictor_proj. The official model also builds an extrinsics_encoder that its forward never uses
// (use_extrinsics=False in every released config); it is left out here, and
// tools/convert_vjepa2_ac_checkpoint.py drops it.
// Init as the official: trunc-normal(0.02) Linear weights, zero biases, LayerNorms (1, 0), then
// attn.proj and mlp.fc2 weights of block l (1-based) divided by sqrt(2 l).
// CPU only for now: rope and the masked attention have no GPU kernels yet, and say so.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <jepa/models/vit.hpp>

namespace jepa::models {

struct ACPredictorConfig {
  int64_t embed_dim = 1408;                   // encoder width: tokens in and predictions out
  int64_t action_dim = 7, state_dim = 7;      // the official model has both 7 (DROID end-effector)
  int64_t grid_height = 16, grid_width = 16;  // patch tokens per frame: grid_height * grid_width
  int64_t dim = 1024, depth = 24, heads = 16;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double eps = 1e-6;

  int64_t patches() const { return grid_height * grid_width; }
};

// The action and state tokens that open every frame's block of tokens.
inline constexpr int64_t kACCondTokens = 2;

// (T * (2 + gh * gw), 3) f64 RoPE coordinates of the interleaved sequence: per frame t, (t, 0, 0)
// for its action and state tokens, then (t, row, col * gh / gw) for its patches in row-major order
// (ACRoPEAttention snaps rows and columns to grid_size = gh: h * gh / H and w * gh / W).
inline Tensor ac_token_positions(int64_t frames, int64_t grid_height, int64_t grid_width) {
  const double column_scale = static_cast<double>(grid_height) / static_cast<double>(grid_width);
  std::vector<double> pos;
  pos.reserve(static_cast<size_t>(frames * (kACCondTokens + grid_height * grid_width) * 3));
  for (int64_t t = 0; t < frames; ++t) {
    for (int64_t c = 0; c < kACCondTokens; ++c) pos.insert(pos.end(), {double(t), 0.0, 0.0});
    for (int64_t row = 0; row < grid_height; ++row)
      for (int64_t col = 0; col < grid_width; ++col) pos.insert(pos.end(), {double(t), double(row), col * column_scale});
  }
  return from_vector(pos, {frames * (kACCondTokens + grid_height * grid_width), 3}, DType::f64);
}

// ACRoPEAttention: one qkv projection for every token, RoPE on queries and keys, block-causal
// fused attention with scale dh^-0.5, proj.
class ACRoPEAttention : public nn::Module {
 public:
  ACRoPEAttention(int64_t dim, int64_t heads, bool qkv_bias, Generator& gen)
      : heads_(heads),
        qkv(register_module("qkv", std::make_shared<nn::Linear>(dim, 3 * dim, qkv_bias, gen))),
        proj(register_module("proj", std::make_shared<nn::Linear>(dim, dim, true, gen))) {
    JEPA_CHECK(heads > 0 && dim % heads == 0, "ACRoPEAttention", "dim ", dim, " is not divisible by ", heads, " heads");
  }

  // x (B, N, D), positions (N, 3) from ac_token_positions, block_size tokens per frame -> (B, N, D)
  Tensor forward(const Tensor& x, const Tensor& positions, int64_t block_size) const {
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2), dh = D / heads_;
    const Tensor packed = qkv->forward(x).reshape({B, N, 3, heads_, dh}).permute({2, 0, 3, 1, 4});  // (3, B, H, N, dh)
    const int64_t section = rope_axis_dims(dh);
    // dh < 6 leaves nothing to rotate, as in the official code (empty sections)
    const auto turned = [&](int64_t which) {
      return section > 0 ? rope(packed.select(0, which), positions, section) : packed.select(0, which);
    };
    const Tensor heads = scaled_dot_product_attention(turned(0), turned(1), packed.select(0, 2), std::nullopt,
                                                      BlockCausalMask{block_size});  // (B, H, N, dh)
    return proj->forward(heads.transpose(1, 2).reshape({B, N, D}));
  }

 private:
  int64_t heads_;

 public:
  std::shared_ptr<nn::Linear> qkv, proj;
};

// ACBlock: x = x + attn(norm1(x), ...); x = x + mlp(norm2(x)).
class ACBlock : public nn::Module {
 public:
  ACBlock(int64_t dim, int64_t heads, double mlp_ratio, bool qkv_bias, double eps, Generator& gen)
      : norm1(register_module("norm1", std::make_shared<nn::LayerNorm>(dim, eps))),
        attn(register_module("attn", std::make_shared<ACRoPEAttention>(dim, heads, qkv_bias, gen))),
        norm2(register_module("norm2", std::make_shared<nn::LayerNorm>(dim, eps))),
        mlp(register_module("mlp", std::make_shared<nn::MLP>(dim, static_cast<int64_t>(dim * mlp_ratio), gen))) {}

  // x (B, N, D) -> (B, N, D)
  Tensor forward(const Tensor& x, const Tensor& positions, int64_t block_size) const {
    const Tensor h = x + attn->forward(norm1->forward(x), positions, block_size);
    return h + mlp->forward(norm2->forward(h));
  }

  std::shared_ptr<nn::LayerNorm> norm1;
  std::shared_ptr<ACRoPEAttention> attn;
  std::shared_ptr<nn::LayerNorm> norm2;
  std::shared_ptr<nn::MLP> mlp;
};

class ACPredictor : public nn::Module {
 public:
  ACPredictor(const ACPredictorConfig& config, Generator& gen) : config_(config) {
    JEPA_CHECK(config.embed_dim > 0 && config.action_dim > 0 && config.state_dim > 0 && config.grid_height > 0 &&
                   config.grid_width > 0 && config.depth >= 0,
               "ACPredictor", "needs positive widths and grid and depth >= 0, got embed_dim ", config.embed_dim,
               ", action_dim ", config.action_dim, ", state_dim ", config.state_dim, ", grid ", config.grid_height,
               " x ", config.grid_width, ", depth ", config.depth);
    predictor_embed = register_module("predictor_embed", std::make_shared<nn::Linear>(config.embed_dim, config.dim, true, gen));
    action_encoder = register_module("action_encoder", std::make_shared<nn::Linear>(config.action_dim, config.dim, true, gen));
    state_encoder = register_module("state_encoder", std::make_shared<nn::Linear>(config.state_dim, config.dim, true, gen));
    for (int64_t i = 0; i < config.depth; ++i)
      predictor_blocks.push_back(register_module(
          "predictor_blocks." + std::to_string(i),
          std::make_shared<ACBlock>(config.dim, config.heads, config.mlp_ratio, config.qkv_bias, config.eps, gen)));
    predictor_norm = register_module("predictor_norm", std::make_shared<nn::LayerNorm>(config.dim, config.eps));
    predictor_proj = register_module("predictor_proj", std::make_shared<nn::Linear>(config.dim, config.embed_dim, true, gen));
    rescale_residual_weights(predictor_blocks);
  }

  // tokens (B, T, gh * gw, embed_dim), actions (B, T, action_dim), states (B, T, state_dim)
  //   -> (B, T, gh * gw, embed_dim): frame t's prediction of frame t + 1's features.
  Tensor forward(const Tensor& tokens, const Tensor& actions, const Tensor& states) const {
    const ACPredictorConfig& c = config_;
    JEPA_CHECK(tokens.dim() == 4 && tokens.size(2) == c.patches() && tokens.size(3) == c.embed_dim, "ACPredictor",
               "expected tokens (B, T, ", c.patches(), ", ", c.embed_dim, ") for a ", c.grid_height, " x ",
               c.grid_width, " grid of width ", c.embed_dim, ", got shape ", tokens.shape());
    const int64_t B = tokens.size(0), T = tokens.size(1), HW = c.patches(), per_frame = kACCondTokens + HW;
    JEPA_CHECK(actions.dim() == 3 && actions.size(0) == B && actions.size(1) == T && actions.size(2) == c.action_dim &&
                   states.dim() == 3 && states.size(0) == B && states.size(1) == T && states.size(2) == c.state_dim,
               "ACPredictor", "tokens of shape ", tokens.shape(), " need actions (", B, ", ", T, ", ", c.action_dim,
               ") and states (", B, ", ", T, ", ", c.state_dim, "), got ", actions.shape(), " and ", states.shape());
    const Tensor a = action_encoder->forward(actions).unsqueeze(2);  // (B, T, 1, Dp)
    const Tensor s = state_encoder->forward(states).unsqueeze(2);    // (B, T, 1, Dp)
    Tensor x = cat({a, s, predictor_embed->forward(tokens)}, 2).reshape({B, T * per_frame, c.dim});  // (B, N, Dp)
    const Tensor positions = ac_token_positions(T, c.grid_height, c.grid_width);                    // (N, 3)
    for (const auto& block : predictor_blocks) x = block->forward(x, positions, per_frame);
    const Tensor patches = x.reshape({B, T, per_frame, c.dim}).narrow(2, kACCondTokens, HW);  // (B, T, HW, Dp)
    return predictor_proj->forward(predictor_norm->forward(patches));
  }

  const ACPredictorConfig& config() const { return config_; }

  std::shared_ptr<nn::Linear> predictor_embed, action_encoder, state_encoder;
  std::vector<std::shared_ptr<ACBlock>> predictor_blocks;
  std::shared_ptr<nn::LayerNorm> predictor_norm;
  std::shared_ptr<nn::Linear> predictor_proj;

 private:
  ACPredictorConfig config_;
};

// The config of the predictor whose state dict (official names) `state` holds: the widths from
// predictor_embed, action_encoder, state_encoder and predictor_blocks.0.mlp.fc1, the depth from the
// predictor_blocks.i present, qkv_bias from predictor_blocks.0.attn.qkv.bias. The head count and
// the grid are not in the shapes. Errors name `source` (a file), the key and the shapes.
inline ACPredictorConfig ac_predictor_config_from(const nn::NamedTensors& state, int64_t heads, int64_t grid_height,
                                                  int64_t grid_width, const std::string& source) {
  constexpr const char* op = "ac_predictor_config_from";
  const auto find = [&](const std::string& name) -> const Tensor* {
    for (const auto& [key, t] : state)
      if (key == name) return &t;
    return nullptr;
  };
  const auto matrix = [&](const std::string& name) -> const Tensor& {
    const Tensor* t = find(name);
    JEPA_CHECK(t != nullptr, op, source, " has no '", name, "': not a V-JEPA 2-AC predictor under the official names");
    JEPA_CHECK(t->dim() == 2, op, source, " has '", name, "' of shape ", t->shape(), ", expected a (out, in) matrix");
    return *t;
  };
  ACPredictorConfig c;
  const Tensor& embed = matrix("predictor_embed.weight");  // (dim, embed_dim)
  c.dim = embed.size(0);
  c.embed_dim = embed.size(1);
  for (const auto& [name, width] : {std::pair<std::string, int64_t*>{"action_encoder.weight", &c.action_dim},
                                    std::pair<std::string, int64_t*>{"state_encoder.weight", &c.state_dim}}) {
    const Tensor& w = matrix(name);
    JEPA_CHECK(w.size(0) == c.dim, op, source, " has '", name, "' of shape ", w.shape(), ", but predictor_embed.weight ",
               embed.shape(), " makes the predictor ", c.dim, " wide");
    *width = w.size(1);
  }
  c.depth = 0;
  while (find("predictor_blocks." + std::to_string(c.depth) + ".norm1.weight")) ++c.depth;
  if (c.depth > 0) {
    const int64_t hidden = matrix("predictor_blocks.0.mlp.fc1.weight").size(0);
    c.mlp_ratio = static_cast<double>(hidden) / static_cast<double>(c.dim);
    // the block truncates dim * mlp_ratio as the official int(); step over a quotient rounded down
    if (static_cast<int64_t>(static_cast<double>(c.dim) * c.mlp_ratio) != hidden)
      c.mlp_ratio = std::nextafter(c.mlp_ratio, 2 * c.mlp_ratio);
    c.qkv_bias = find("predictor_blocks.0.attn.qkv.bias") != nullptr;
  }
  c.heads = heads;
  c.grid_height = grid_height;
  c.grid_width = grid_width;
  JEPA_CHECK(heads > 0 && c.dim % heads == 0, op, source, " holds a predictor ", c.dim, " wide, which ", heads,
             " heads do not divide");
  return c;
}

// The predictor's output layer-normed without affine (F.layer_norm, eps 1e-5), as training and
// planning compare it with the layer-normed target features (app/vjepa_droid/train.py:419-423,
// notebooks/utils/world_model_wrapper.py:59-61). Shapes as ACPredictor::forward.
inline Tensor predict_normalized(const ACPredictor& predictor, const Tensor& tokens, const Tensor& actions,
                                 const Tensor& states) {
  const Tensor z = predictor.forward(tokens, actions, states);  // (B, T, HW, D)
  return layer_norm(z, {z.size(-1)});
}

struct ACLoss {
  Tensor teacher_forcing;  // () mean |P(h_0..T-2) - h_1..T-1|
  Tensor rollout;          // () mean |[z_1 .. z_k] - h_1..k|, z_n predicted from [h_0, z_1 .. z_n-1]
  Tensor total() const { return teacher_forcing + rollout; }
};

// The V-JEPA 2-AC losses (app/vjepa_droid/train.py:417-449, loss_exp 1, auto_steps = rollout_steps)
// in the fixed form: the rollout's first prediction z_1 is the teacher-forced output at frame 0,
// and each later z_n comes from the context [h_0, z_1 .. z_n-1] with the true actions and states.
// Gradients flow through z_1 into both terms. features (B, T, HW, D) are the target encoder's
// layer-normed features of T >= rollout_steps + 1 frames, actions (B, T - 1, A) (action t takes
// frame t to t + 1), states (B, T, S).
inline ACLoss ac_loss(const ACPredictor& predictor, const Tensor& features, const Tensor& actions,
                      const Tensor& states, int64_t rollout_steps = 2) {
  constexpr const char* op = "ac_loss";
  JEPA_CHECK(rollout_steps >= 1, op, "rollout_steps must be >= 1, got ", rollout_steps);
  JEPA_CHECK(features.dim() == 4 && features.size(1) >= rollout_steps + 1, op, "expected features (B, T, HW, D) of T >= ",
             rollout_steps + 1, " frames for ", rollout_steps, " rollout steps, got shape ", features.shape());
  const int64_t T = features.size(1);
  JEPA_CHECK(actions.dim() == 3 && actions.size(1) == T - 1 && states.dim() == 3 && states.size(1) == T, op,
             "features of ", T, " frames need actions (B, ", T - 1, ", A) and states (B, ", T, ", S), got ",
             actions.shape(), " and ", states.shape());
  const Tensor z_tf = predict_normalized(predictor, features.narrow(1, 0, T - 1), actions,
                                         states.narrow(1, 0, T - 1));  // (B, T-1, HW, D)
  ACLoss loss;
  loss.teacher_forcing = l1_loss(z_tf, features.narrow(1, 1, T - 1));
  std::vector<Tensor> rolled{features.narrow(1, 0, 1), z_tf.narrow(1, 0, 1)};  // [h_0, z_1], each (B, 1, HW, D)
  for (int64_t n = 1; n < rollout_steps; ++n) {
    const Tensor next = predict_normalized(predictor, cat(rolled, 1), actions.narrow(1, 0, n + 1),
                                           states.narrow(1, 0, n + 1));  // (B, n+1, HW, D)
    rolled.push_back(next.narrow(1, n, 1));
  }
  const Tensor predicted = cat(std::vector<Tensor>(rolled.begin() + 1, rolled.end()), 1);  // (B, k, HW, D)
  loss.rollout = l1_loss(predicted, features.narrow(1, 1, rollout_steps));
  return loss;
}

}  // namespace jepa::models
