// The latent planner (models/jepa/models/planner.hpp) on a toy world model whose rollout is the
// running sum of the actions added to a start point, so the energies are known quadratics (L2) or
// absolute values (L1) with known minimisers: CEM and MPPI find them, clip every sample to the box,
// end at the box corner for an unreachable goal, repeat for a seed, batch the candidates and
// prepare the context once; the receding-horizon loop reaches a goal on a linear system.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <jepa/models/planner.hpp>
#include <vector>

using namespace jepa;
using namespace jepa::models;

namespace {

// x_h = x_0 + sum_{j <= h} a_j for a start point x_0 (A,) given as the context; counts its calls.
struct Integrator final : WorldModel {
  Tensor start;  // (A,)
  int64_t prepares = 0, rollouts = 0, rollouts_before_prepare = 0;
  std::vector<int64_t> batch_sizes;
  std::vector<Tensor> batches;  // every (N, H, A) it was asked to roll out
  bool diverge = false;         // roll out NaN features for every candidate

  void prepare(const Tensor& context, const Tensor& state) override {
    CHECK_FALSE(state.defined());
    start = context;
    ++prepares;
  }
  Tensor rollout(const Tensor& actions) override {
    if (!start.defined()) ++rollouts_before_prepare;
    ++rollouts;
    batch_sizes.push_back(actions.size(0));
    batches.push_back(actions);
    std::vector<Tensor> positions;
    Tensor x = start;
    for (int64_t h = 0; h < actions.size(1); ++h) positions.push_back(x = x + actions.select(1, h));  // (N, A)
    Tensor out = stack(positions, 1);  // (N, H, A)
    return diverge ? out * NAN : out;
  }
};

PlanOptions box_options(Optimizer optimizer, int64_t horizon, EnergyOptions energy) {
  PlanOptions o;
  o.optimizer = optimizer;
  o.horizon = horizon;
  o.iterations = 30;
  o.samples = 200;
  o.elites = optimizer == Optimizer::cem ? 20 : 50;
  o.action_low = {-1, -1};
  o.action_high = {1, 1};
  o.init_std = {1, 1};
  o.temperature = 0.02;
  o.energy = energy;
  return o;
}

Tensor point(double x, double y) { return tensor({x, y}); }

std::string name(Optimizer optimizer) { return optimizer == Optimizer::cem ? "cem" : "mppi"; }

double max_abs_difference(const Tensor& a, const std::vector<double>& b) {
  const std::vector<double> v = a.to_vector<double>();
  REQUIRE(v.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < v.size(); ++i) worst = std::max(worst, std::abs(v[i] - b[i]));
  return worst;
}

}  // namespace

TEST_CASE("energy: L1 or L2 per frame, on the last frame or summed over the horizon") {
  // Two candidates, two steps, 2-D features; goal (1, 1).
  const Tensor predicted = from_vector(std::vector<double>{0, 1, 3, 1, 1, 2, 1, -1}, {2, 2, 2}, DType::f32);
  const Tensor goal = point(1, 1);
  CHECK(energy(predicted, goal).to_vector<double>() == std::vector<double>{1, 1});  // |3-1|/2, |-1-1|/2
  CHECK(energy(predicted, goal, {Distance::l2, EnergyOver::last_step}).to_vector<double>() == std::vector<double>{2, 2});
  CHECK(energy(predicted, goal, {Distance::l1, EnergyOver::all_steps}).to_vector<double>() ==
        std::vector<double>{1.5, 1.5});
  CHECK(energy(predicted, goal, {Distance::l2, EnergyOver::all_steps}).to_vector<double>() ==
        std::vector<double>{2.5, 2.5});
  CHECK_THROWS_WITH_AS(energy(predicted, tensor({1, 1, 1})),
                       "[energy] predicted frames of shape [2, 2, 2] do not match the goal's [3]", Error);
}

TEST_CASE("CEM and MPPI find the box-constrained minimum of a summed quadratic energy") {
  // From 0 toward (1.5, -2) in 3 steps of at most 1 per axis, cost sum_h mean (x_h - g)^2: the unique
  // minimiser runs at full speed, then stops: a = (1, -1), (0.5, -1), (0, 0); its energy is
  // mean((1 - 1.5)^2, (-1 + 2)^2) = 0.625 from the first step alone.
  const std::vector<double> minimiser{1, -1, 0.5, -1, 0, 0};
  for (Optimizer optimizer : {Optimizer::cem, Optimizer::mppi}) {
    CAPTURE(name(optimizer));
    Integrator model;
    Generator gen(7);
    const PlanResult r = plan(model, point(0, 0), Tensor(), point(1.5, -2),
                              box_options(optimizer, 3, {Distance::l2, EnergyOver::all_steps}), gen);
    CHECK(r.actions.shape() == Shape{3, 2});
    CHECK(max_abs_difference(r.actions, minimiser) < 0.02);
    CHECK(r.best_energy == doctest::Approx(0.625).epsilon(1e-3));
    CHECK(r.best_energy >= 0.625);  // no sample beats the true minimum
    CHECK(r.iterations == 30);
    CHECK(r.seconds > 0);
  }
}

TEST_CASE("one iteration moves the mean to the elites' mean (CEM) or their softmin-weighted mean (MPPI)") {
  // One step, 1-D actions from 0 toward 0.3, L1 on the last frame: the energy of sample a is |a - 0.3|.
  PlanOptions o = box_options(Optimizer::cem, 1, {});
  o.action_low = {-1};
  o.action_high = {1};
  o.init_std = {0.5};
  o.iterations = 1;
  o.samples = 50;
  o.elites = 5;
  auto run = [&](Optimizer optimizer, double momentum, double temperature) {
    Integrator model;
    Generator gen(8);
    PlanOptions p = o;
    p.optimizer = optimizer;
    p.momentum_mean = momentum;
    p.temperature = temperature;
    const PlanResult r = plan(model, tensor({0}), Tensor(), tensor({0.3}), p, gen);
    std::vector<double> a = model.batches[0].to_vector<double>();
    std::sort(a.begin(), a.end(), [](double x, double y) { return std::abs(x - 0.3) < std::abs(y - 0.3); });
    return std::make_tuple(r.actions.item(), std::accumulate(a.begin(), a.begin() + 5, 0.0) / 5, a[0],
                           r.best_actions.item());
  };
  const auto [cem, elite_mean, best, best_reported] = run(Optimizer::cem, 0, 1);
  CHECK(cem == doctest::Approx(elite_mean).epsilon(1e-6));
  CHECK(best_reported == best);
  CHECK(std::abs(elite_mean - best) > 1e-3);  // the cases below can tell the two apart
  CHECK(std::get<0>(run(Optimizer::cem, 0.25, 1)) == doctest::Approx(0.75 * elite_mean).epsilon(1e-6));
  CHECK(std::get<0>(run(Optimizer::cem, 1, 1)) == 0);                          // all momentum: the box centre
  CHECK(std::get<0>(run(Optimizer::mppi, 0, 1e-9)) == best);                  // cold: the best elite alone
  CHECK(std::get<0>(run(Optimizer::mppi, 0, 1e9)) == doctest::Approx(elite_mean).epsilon(1e-6));  // hot: uniform
}

TEST_CASE("CEM reaches a goal inside the box on the last frame's L2 energy") {
  Integrator model;
  Generator gen(3);
  const PlanResult r = plan(model, point(0.5, 0), Tensor(), point(2, -1.25),
                            box_options(Optimizer::cem, 3, {Distance::l2, EnergyOver::last_step}), gen);
  const std::vector<double> end = (sum(r.actions, {0}) + point(0.5, 0)).to_vector<double>();  // x_H of the mean
  CHECK(end[0] == doctest::Approx(2).epsilon(0.01));
  CHECK(end[1] == doctest::Approx(-1.25).epsilon(0.01));
  CHECK(r.best_energy < 1e-4);
}

TEST_CASE("every sample is clipped to a per-dimension box, and the plan stays inside it") {
  Integrator model;
  Generator gen(11);
  PlanOptions o = box_options(Optimizer::cem, 2, {});
  o.action_low = {-0.5, -1};
  o.action_high = {1, 0.25};
  o.init_std = {3, 3};  // most first-iteration samples fall outside the box
  o.iterations = 5;
  const PlanResult r = plan(model, point(0, 0), Tensor(), point(0.3, -0.4), o, gen);
  int64_t outside = 0, at_low = 0, at_high = 0, values = 0;
  for (const Tensor& batch : model.batches) {
    const std::vector<double> v = batch.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i, ++values) {
      const size_t d = i % 2;
      outside += v[i] < o.action_low[d] || v[i] > o.action_high[d];
      at_low += v[i] == o.action_low[d];
      at_high += v[i] == o.action_high[d];
    }
  }
  CHECK(values == 5 * 200 * 2 * 2);
  CHECK(outside == 0);
  CHECK(at_low > 100);  // the clip did bind, on both sides
  CHECK(at_high > 100);
  const std::vector<double> mean = r.actions.to_vector<double>();
  for (size_t i = 0; i < mean.size(); ++i) {
    CHECK(mean[i] >= o.action_low[i % 2]);
    CHECK(mean[i] <= o.action_high[i % 2]);
  }
}

TEST_CASE("a goal outside the reachable box ends at the box corner") {
  for (Optimizer optimizer : {Optimizer::cem, Optimizer::mppi}) {
    CAPTURE(name(optimizer));
    Integrator model;
    Generator gen(5);
    const PlanResult r = plan(model, point(0, 0), Tensor(), point(10, -10),
                              box_options(optimizer, 2, {Distance::l1, EnergyOver::last_step}), gen);
    CHECK(max_abs_difference(r.actions, {1, -1, 1, -1}) < 1e-3);
    CHECK(max_abs_difference(r.best_actions, {1, -1, 1, -1}) == 0);  // a clipped sample sits on the corner
    CHECK(r.best_energy == doctest::Approx(8));                       // mean(|2 - 10|, |-2 + 10|)
  }
}

TEST_CASE("planning is deterministic for a seed and changes with it") {
  auto run = [](uint64_t seed, Optimizer optimizer) {
    Integrator model;
    Generator gen(seed);
    PlanOptions o = box_options(optimizer, 3, {Distance::l1, EnergyOver::last_step});
    o.iterations = 3;
    return plan(model, point(0, 0), Tensor(), point(1, 0.5), o, gen);
  };
  for (Optimizer optimizer : {Optimizer::cem, Optimizer::mppi}) {
    const PlanResult a = run(9, optimizer), b = run(9, optimizer), c = run(10, optimizer);
    CHECK(a.actions.to_vector<double>() == b.actions.to_vector<double>());
    CHECK(a.best_energy == b.best_energy);
    CHECK(a.actions.to_vector<double>() != c.actions.to_vector<double>());
  }
}

TEST_CASE("each iteration rolls all candidates out in one call, after one prepare per plan") {
  Integrator model;
  Generator gen(1);
  PlanOptions o = box_options(Optimizer::mppi, 4, {});
  o.iterations = 6;
  o.samples = 64;
  o.elites = 8;
  plan(model, point(0, 0), Tensor(), point(1, 1), o, gen);
  CHECK(model.prepares == 1);
  CHECK(model.rollouts == 6);
  CHECK(model.rollouts_before_prepare == 0);
  CHECK(model.batch_sizes == std::vector<int64_t>(6, 64));
  CHECK(model.batches[0].shape() == Shape{64, 4, 2});
  plan(model, point(0, 0), Tensor(), point(1, 1), o, gen);
  CHECK(model.prepares == 2);
  CHECK(model.rollouts == 12);
}

TEST_CASE("the receding-horizon loop reaches a goal on a linear system the model gets wrong") {
  // The environment moves the agent by 0.7 a, the model believes a: only re-planning from what the
  // agent observes closes the gap. The planner sees the position only as the features returned.
  const Tensor goal = point(4, -3);
  for (int64_t actions_per_plan : {1, 2}) {
    CAPTURE(actions_per_plan);
    Integrator model;
    Generator gen(2);
    Tensor position = point(0, 0);
    auto distance = [&] { return std::sqrt(sum((position - goal) * (position - goal)).item()); };
    auto execute = [&](const Tensor& action) {
      REQUIRE(action.shape() == Shape{2});
      position = position + action * 0.7;
      return Observation{position, Tensor(), distance() < 0.1};
    };
    PlanOptions o = box_options(Optimizer::cem, 3, {Distance::l2, EnergyOver::all_steps});
    o.iterations = 10;
    const Episode e = receding_horizon(model, {position, Tensor(), false}, goal, o, {actions_per_plan, 25}, execute, gen);
    CHECK(e.done);
    CHECK(distance() < 0.1);
    const int64_t steps = e.actions.size(0);
    CHECK(steps >= 6);  // 4 / 0.7 > 5 full-speed steps along x
    CHECK(steps <= 12);
    CHECK(static_cast<int64_t>(e.plans.size()) == (steps + actions_per_plan - 1) / actions_per_plan);
    CHECK(model.prepares == static_cast<int64_t>(e.plans.size()));
    CHECK(max_abs_difference(e.actions.select(0, 0), {1, -1}) < 0.05);  // full speed while far away
  }
}

TEST_CASE("the receding-horizon loop stops at its step budget") {
  Integrator model;
  Generator gen(4);
  int64_t executed = 0;
  auto stuck = [&](const Tensor&) {  // an agent against a wall: nothing it does moves it
    ++executed;
    return Observation{point(0, 0), Tensor(), false};
  };
  PlanOptions o = box_options(Optimizer::cem, 2, {});
  o.iterations = 2;
  const Episode e = receding_horizon(model, {point(0, 0), Tensor(), false}, point(5, 5), o, {2, 5}, stuck, gen);
  CHECK_FALSE(e.done);
  CHECK(executed == 5);
  CHECK(e.actions.shape() == Shape{5, 2});
  CHECK(e.plans.size() == 3);  // 2 + 2 + 1 actions
  const Episode finished = receding_horizon(model, {point(0, 0), Tensor(), true}, point(5, 5), o, {1, 5}, stuck, gen);
  CHECK(finished.plans.empty());
  CHECK(executed == 5);
}

TEST_CASE("planner errors name the option or the rollout at fault") {
  Integrator model;
  Generator gen(0);
  PlanOptions o = box_options(Optimizer::cem, 2, {});
  o.elites = 300;
  CHECK_THROWS_WITH_AS(plan(model, point(0, 0), Tensor(), point(1, 1), o, gen),
                       "[plan] need 2 <= elites <= samples, got 300 elites of 200 samples", Error);
  o = box_options(Optimizer::cem, 2, {});
  o.init_std = {1};
  CHECK_THROWS_WITH_AS(plan(model, point(0, 0), Tensor(), point(1, 1), o, gen),
                       "[plan] action_low, action_high and init_std need one value per action dim, got sizes 2, 2, 1",
                       Error);
  o = box_options(Optimizer::cem, 2, {});
  CHECK_THROWS_WITH_AS(plan(model, point(0, 0), Tensor(), tensor({1, 1, 1}), o, gen),
                       "[energy] predicted frames of shape [200, 2, 2] do not match the goal's [3]", Error);
  model.diverge = true;
  CHECK_THROWS_WITH_AS(plan(model, point(0, 0), Tensor(), point(1, 1), o, gen),
                       "[plan] candidate 0 of iteration 0 has a non-finite energy (nan): the world model's rollout "
                       "diverged",
                       Error);
  CHECK_THROWS_WITH_AS(receding_horizon(model, {point(0, 0), Tensor(), false}, point(1, 1), o, {3, 5},
                                        [](const Tensor&) { return Observation{}; }, gen),
                       "[receding_horizon] need 1 <= actions_per_plan <= horizon (2) and max_steps >= 0, got 3 and 5",
                       Error);
}
