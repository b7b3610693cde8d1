// The V-JEPA 2-AC predictor as the planner's world model (planner.hpp), rolled out as the official
// CEM does (notebooks/utils/mpc_utils.py:86-118 with world_model_wrapper.py:56-64): from the
// observed frame's features and state, each step runs the predictor on every frame so far with
// the actions so far, keeps its layer-normed prediction of the last frame as the next frame, and
// dead-reckons the next state from the last state and action (states are imagined, not predicted).
// All N candidates go through the predictor as one batch; nothing is cached between steps, as in
// the official rollout.
#pragma once
#include <functional>
#include <memory>
#include <utility>

#include <jepa/models/ac_predictor.hpp>
#include <jepa/models/planner.hpp>

namespace jepa::models {

// state (N, S), action (N, A) -> (N, S): the state the action leads to, as the planner imagines it.
using DeadReckoning = std::function<Tensor(const Tensor& state, const Tensor& action)>;

// The agent world's state (x, y, vx, vy), in pixels (agent_world.hpp): an action moves the agent by
// max_speed * action without inertia, which is then also its velocity. Walls and the box, which
// stop the real agent, are unknown here, as the official compute_new_pose knows no obstacles.
inline DeadReckoning agent_dead_reckoning(double max_speed) {
  return [max_speed](const Tensor& state, const Tensor& action) {
    const Tensor step = action * max_speed;                 // (N, 2)
    return cat({state.narrow(1, 0, 2) + step, step}, 1);  // (N, 4)
  };
}

class ACWorldModel : public WorldModel {
 public:
  ACWorldModel(std::shared_ptr<const ACPredictor> predictor, DeadReckoning next_state)
      : predictor_(std::move(predictor)), next_state_(std::move(next_state)) {}

  // context (HW, D) or (1, HW, D): the observed frame's layer-normed features; state (S,).
  void prepare(const Tensor& context, const Tensor& state) override {
    const ACPredictorConfig& c = predictor_->config();
    const bool frame = (context.dim() == 2 || (context.dim() == 3 && context.size(0) == 1)) &&
                       context.size(-2) == c.patches() && context.size(-1) == c.embed_dim;
    JEPA_CHECK(frame, "ACWorldModel", "expected the features of one frame, (", c.patches(), ", ", c.embed_dim,
               ") or (1, ", c.patches(), ", ", c.embed_dim, "), got shape ", context.shape());
    JEPA_CHECK(state.defined(), "ACWorldModel", "needs the observed state, of shape (", c.state_dim, ")");
    JEPA_CHECK(state.dim() == 1 && state.size(0) == c.state_dim, "ACWorldModel", "expected a state of shape (",
               c.state_dim, "), got ", state.shape());
    context_ = context.reshape({1, 1, c.patches(), c.embed_dim});
    state_ = state.reshape({1, 1, c.state_dim});
  }

  // actions (N, H, A) -> (N, H, HW, D): the layer-normed features after each action.
  Tensor rollout(const Tensor& actions) override {
    JEPA_CHECK(context_.defined(), "ACWorldModel", "rollout() before prepare()");
    const ACPredictorConfig& c = predictor_->config();
    JEPA_CHECK(actions.dim() == 3 && actions.size(1) >= 1 && actions.size(2) == c.action_dim, "ACWorldModel",
               "expected actions (N, H, ", c.action_dim, ") with H >= 1, got shape ", actions.shape());
    const int64_t N = actions.size(0), H = actions.size(1);
    std::vector<Tensor> frames{context_.expand({N, 1, c.patches(), c.embed_dim})};  // each (N, 1, HW, D)
    std::vector<Tensor> states{state_.expand({N, 1, c.state_dim})};                // each (N, 1, S)
    for (int64_t h = 0; h < H; ++h) {
      const Tensor predicted = predict_normalized(*predictor_, cat(frames, 1), actions.narrow(1, 0, h + 1),
                                                  cat(states, 1));  // (N, h+1, HW, D)
      frames.push_back(predicted.narrow(1, h, 1));
      states.push_back(next_state_(states.back().select(1, 0), actions.select(1, h)).unsqueeze(1));
    }
    return cat(std::vector<Tensor>(frames.begin() + 1, frames.end()), 1);
  }

 private:
  std::shared_ptr<const ACPredictor> predictor_;
  DeadReckoning next_state_;
  Tensor context_;  // (1, 1, HW, D)
  Tensor state_;    // (1, 1, S)
};

}  // namespace jepa::models
