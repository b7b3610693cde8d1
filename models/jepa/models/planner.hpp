// Planning in a world model's latent space (V-JEPA 2 §3 "Energy minimization"): search action
// sequences whose predicted features end near a goal's, with the cross-entropy method as the
// official code runs it (vjepa2 notebooks/utils/mpc_utils.py:28-163) or MPPI, then execute the
// first action(s) and re-plan (receding horizon).
// Invariants:
// - The planner sees only the features and state it is handed and the features the world model
//   predicts; the environment is a callback it cannot look into (DINO-WM's planner consulted the
//   simulator mid-search: spec §5.7).
// - Per plan() call the model prepares the shared context once, then rolls all N candidates as
//   one batch per iteration.
// - Every sample is clipped to the action box before it is rolled out; the returned mean is a
//   weighted mean of clipped samples, so it lies in the box too.
// - Deterministic for a generator state: noise comes from the Philox generator, and elites are
//   ranked on the host with ties broken by sample index.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa::models {

// What the planner searches over. plan() calls prepare() once with the observation, then
// rollout() once per iteration with every candidate, so a token predictor can encode (or cache
// the keys and values of) the context frames once and roll the N candidates as one batch.
class WorldModel {
 public:
  virtual ~WorldModel() = default;
  // context: features of the observed frame(s) in the model's own layout, e.g. (T, HW, D) tokens
  // or a (D,) vector; state: (S,) proprioception, undefined for a model without one.
  virtual void prepare(const Tensor& context, const Tensor& state) = 0;
  // actions: (N, H, A) -> (N, H, *F), the features predicted after each of the H actions from the
  // last prepared context; *F is the shape of one frame's features, the goal's shape.
  virtual Tensor rollout(const Tensor& actions) = 0;
};

enum class Distance { l1, l2 };                // mean |z - g| (official), mean (z - g)^2
enum class EnergyOver { last_step, all_steps };  // the frame H steps ahead (official), or the sum over 1..H

struct EnergyOptions {
  Distance distance = Distance::l1;
  EnergyOver over = EnergyOver::last_step;
};

// predicted (N, H, *F) against goal (*F) -> (N,): the distance averaged over a frame's entries,
// for the last frame or summed over the H frames.
inline Tensor energy(const Tensor& predicted, const Tensor& goal, const EnergyOptions& options = {}) {
  JEPA_CHECK(goal.dim() >= 1 && predicted.dim() == goal.dim() + 2, "energy",
             "predicted features must be (N, H, *F) for a goal of shape *F with at least one dim, got ",
             predicted.shape(), " and goal ", goal.shape());
  JEPA_CHECK(Shape(predicted.shape().begin() + 2, predicted.shape().end()) == goal.shape(), "energy",
             "predicted frames of shape ", predicted.shape(), " do not match the goal's ", goal.shape());
  const int64_t horizon = predicted.size(1);
  const Tensor frames = options.over == EnergyOver::last_step ? predicted.narrow(1, horizon - 1, 1) : predicted;
  const Tensor diff = frames - goal;                                                     // (N, H', *F)
  const Tensor distance = options.distance == Distance::l1 ? abs(diff) : diff * diff;  // (N, H', *F)
  return sum(mean(distance.flatten(2), {2}), {1});                                     // (N,)
}

enum class Optimizer { cem, mppi };

struct PlanOptions {
  Optimizer optimizer = Optimizer::cem;
  int64_t horizon = 2, iterations = 10, samples = 400, elites = 10;  // the official WorldModel defaults
  // (A,) per-dimension box every sample is clipped to (official: ±maxnorm on xyz, ±0.75 gripper).
  std::vector<double> action_low, action_high;
  // (A,) std of the first iteration's samples around the box centre (official: maxnorm, 1 gripper).
  std::vector<double> init_std;
  // new = (1 - momentum) * elite statistic + momentum * old (mpc_utils.py:132-150).
  double momentum_mean = 0.15, momentum_std = 0.15;
  // MPPI only: elite e weighs exp(-(E_e - E_best) / temperature), the paper convention; eb_jepa's
  // `temperature` multiplies (E_best - E_e), so its t is 1 / temperature here.
  double temperature = 1.0;
  EnergyOptions energy;
};

struct PlanResult {
  Tensor actions;       // (H, A) the final mean: what the caller executes (mpc_utils.py:154-161)
  Tensor best_actions;  // (H, A) the lowest-energy sample of any iteration
  double best_energy = 0;
  int64_t iterations = 0;
  double seconds = 0;  // wall time of the whole plan() call, prepare() included
};

namespace detail {

inline void check_plan_options(const PlanOptions& o) {
  const size_t dims = o.action_low.size();
  JEPA_CHECK(dims > 0 && o.action_high.size() == dims && o.init_std.size() == dims, "plan",
             "action_low, action_high and init_std need one value per action dim, got sizes ", o.action_low.size(),
             ", ", o.action_high.size(), ", ", o.init_std.size());
  for (size_t d = 0; d < dims; ++d)
    JEPA_CHECK(o.action_low[d] <= o.action_high[d] && o.init_std[d] >= 0, "plan", "action dim ", d,
               " needs low <= high and init_std >= 0, got [", o.action_low[d], ", ", o.action_high[d], "], std ",
               o.init_std[d]);
  JEPA_CHECK(o.horizon >= 1 && o.iterations >= 1, "plan", "need horizon >= 1 and iterations >= 1, got ", o.horizon,
             " and ", o.iterations);
  const int64_t min_elites = o.optimizer == Optimizer::cem ? 2 : 1;  // CEM's unbiased std needs two
  JEPA_CHECK(o.elites >= min_elites && o.elites <= o.samples, "plan", "need ", min_elites, " <= elites <= samples, got ",
             o.elites, " elites of ", o.samples, " samples");
  JEPA_CHECK(o.momentum_mean >= 0 && o.momentum_mean <= 1 && o.momentum_std >= 0 && o.momentum_std <= 1, "plan",
             "momenta must be in [0, 1], got ", o.momentum_mean, " and ", o.momentum_std);
  JEPA_CHECK(o.optimizer == Optimizer::cem || o.temperature > 0, "plan", "MPPI needs temperature > 0, got ",
             o.temperature);
}

// The indices of the k lowest energies, lowest first, ties by index. N is a few hundred at most,
// so it runs on the host (the ops have no topk).
inline std::vector<int64_t> lowest_k(const std::vector<double>& energies, int64_t k, int64_t iteration) {
  for (size_t i = 0; i < energies.size(); ++i)
    JEPA_CHECK(std::isfinite(energies[i]), "plan", "candidate ", i, " of iteration ", iteration,
               " has a non-finite energy (", energies[i], "): the world model's rollout diverged");
  std::vector<int64_t> order(energies.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
    return energies[a] < energies[b] || (energies[a] == energies[b] && a < b);
  });
  order.resize(static_cast<size_t>(k));
  return order;
}

// The elites' weights: equal for CEM, exp(-(E - E_best) / temperature) normalised for MPPI.
inline std::vector<double> elite_weights(const std::vector<double>& energies, const std::vector<int64_t>& elites,
                                         const PlanOptions& o) {
  std::vector<double> w(elites.size());
  for (size_t e = 0; e < elites.size(); ++e)
    w[e] = o.optimizer == Optimizer::cem ? 1.0 : std::exp(-(energies[elites[e]] - energies[elites[0]]) / o.temperature);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& v : w) v /= total;
  return w;
}

}  // namespace detail

// Searches (H, A) actions from the observation (context, state) toward the goal features (*F),
// drawing the noise from gen. Runs on the goal's device and dtype, without a graph.
inline PlanResult plan(WorldModel& model, const Tensor& context, const Tensor& state, const Tensor& goal,
                       const PlanOptions& options, Generator& gen) {
  const auto start = std::chrono::steady_clock::now();
  detail::check_plan_options(options);
  NoGrad no_grad;
  const int64_t dims = static_cast<int64_t>(options.action_low.size()), n = options.samples, k = options.elites;
  const Shape sample_shape{n, options.horizon, dims};
  const DType dtype = goal.dtype();
  const Device device = goal.device();
  const Tensor low = from_vector(options.action_low, {dims}, dtype, device);    // (A,)
  const Tensor high = from_vector(options.action_high, {dims}, dtype, device);  // (A,)
  // (H, A) each: the box centre (official: 0 in a symmetric box) and the initial spread.
  Tensor mean = zeros({options.horizon, dims}, dtype, device) + (low + high) * 0.5;
  Tensor stddev = zeros({options.horizon, dims}, dtype, device) + from_vector(options.init_std, {dims}, dtype, device);
  // Torch's unbiased std over the elites for CEM (mpc_utils.py:140); MPPI's weighted std as is.
  const double bessel = options.optimizer == Optimizer::cem ? static_cast<double>(k) / static_cast<double>(k - 1) : 1.0;

  model.prepare(context, state);
  PlanResult result;
  for (int64_t it = 0; it < options.iterations; ++it) {
    const Tensor noise = normal(sample_shape, 0.0, 1.0, gen, dtype, device);    // (N, H, A)
    const Tensor samples = minimum(maximum(noise * stddev + mean, low), high);  // (N, H, A)
    const Tensor predicted = model.rollout(samples);                            // (N, H, *F)
    JEPA_CHECK(predicted.dim() >= 2 && predicted.size(0) == n && predicted.size(1) == options.horizon, "plan",
               "the world model's rollout of actions ", sample_shape, " returned shape ", predicted.shape(),
               ", expected (", n, ", ", options.horizon, ", *F)");
    const std::vector<double> energies = energy(predicted, goal, options.energy).to_vector<double>();
    const std::vector<int64_t> elites = detail::lowest_k(energies, k, it);
    if (it == 0 || energies[elites[0]] < result.best_energy) {
      result.best_energy = energies[elites[0]];
      result.best_actions = samples.select(0, elites[0]).clone();
    }
    const Tensor elite = index_select(samples, 0, from_vector(elites, {k}, DType::i64, device));  // (k, H, A)
    const Tensor weights = from_vector(detail::elite_weights(energies, elites, options), {k, 1, 1}, dtype, device);
    const Tensor elite_mean = sum(elite * weights, {0});  // (H, A)
    const Tensor deviation = elite - elite_mean;           // (k, H, A)
    const Tensor elite_std = sqrt(sum(deviation * deviation * weights, {0}) * bessel);  // (H, A)
    mean = elite_mean * (1.0 - options.momentum_mean) + mean * options.momentum_mean;
    stddev = elite_std * (1.0 - options.momentum_std) + stddev * options.momentum_std;
    result.iterations = it + 1;
  }
  result.actions = mean;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// What the agent perceives after an action: the features and state the model's prepare() takes,
// and whether the episode is over (the environment's verdict; the planner does not judge it).
struct Observation {
  Tensor features;
  Tensor state;  // (S,) or undefined
  bool done = false;
};

struct RecedingHorizonOptions {
  int64_t actions_per_plan = 1;  // executed before re-planning (official 1; DINO-WM 5)
  int64_t max_steps = 30;        // actions executed in all
};

struct Episode {
  Tensor actions;  // (T, A) executed, in order
  bool done = false;
  std::vector<PlanResult> plans;  // one per re-plan, with its time and iterations
};

// Model-predictive control: plan from the current observation, execute the first actions through
// `execute` (one (A,) action per call, returning the next observation), re-plan, until the
// environment says done or max_steps actions have run.
inline Episode receding_horizon(WorldModel& model, Observation observation, const Tensor& goal,
                                const PlanOptions& plan_options, const RecedingHorizonOptions& options,
                                const std::function<Observation(const Tensor&)>& execute, Generator& gen) {
  JEPA_CHECK(options.actions_per_plan >= 1 && options.actions_per_plan <= plan_options.horizon &&
                 options.max_steps >= 0,
             "receding_horizon", "need 1 <= actions_per_plan <= horizon (", plan_options.horizon,
             ") and max_steps >= 0, got ", options.actions_per_plan, " and ", options.max_steps);
  Episode episode;
  episode.done = observation.done;
  std::vector<Tensor> executed;
  while (!episode.done && static_cast<int64_t>(executed.size()) < options.max_steps) {
    episode.plans.push_back(plan(model, observation.features, observation.state, goal, plan_options, gen));
    const Tensor& actions = episode.plans.back().actions;  // (H, A)
    for (int64_t j = 0; j < options.actions_per_plan && !episode.done &&
                        static_cast<int64_t>(executed.size()) < options.max_steps;
         ++j) {
      executed.push_back(actions.select(0, j));
      observation = execute(executed.back());
      episode.done = observation.done;
    }
  }
  if (!executed.empty()) episode.actions = stack(executed, 0);
  return episode;
}

}  // namespace jepa::models
