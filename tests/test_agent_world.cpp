// The agent world: actions clipped to the box, walls never crossed but through the door, the random
// walk's statistics and door crossings, pushing balls, goals reachable by scripted controllers on the
// true state, rendering, determinism, and training clips made on the loader's thread.
#include <doctest/doctest.h>

#include <jepa/data/agent_world.hpp>
#include <jepa/data/loader.hpp>

using namespace jepa;
using agent::Point;
using agent::Sim;

namespace {

std::vector<float> floats(const Tensor& t) { return t.to_vector<float>(); }

double distance(const Point& a, const Point& b) { return std::hypot(a[0] - b[0], a[1] - b[1]); }

// The disc's distance to the nearest wall piece, minus its radius: >= 0 when clear of the wall.
double wall_clearance(const Sim& sim, const Point& p, const AgentConfig& cfg) {
  double best = 1e9;
  for (const agent::Block& b : sim.blocks()) {
    if (b.hi[1] <= b.lo[1]) continue;
    const double dx = std::max({b.lo[0] - p[0], p[0] - b.hi[0], 0.0});
    const double dy = std::max({b.lo[1] - p[1], p[1] - b.hi[1], 0.0});
    best = std::min(best, std::hypot(dx, dy) - cfg.agent_radius);
  }
  return best;
}

// The action that moves the agent straight at `target`, as far as one step allows: the offset
// scaled so its larger component fits the box, so the direction is kept.
Point toward(const Point& from, const Point& target, const AgentConfig& cfg) {
  const double dx = (target[0] - from[0]) / cfg.max_speed, dy = (target[1] - from[1]) / cfg.max_speed;
  const double scale = std::max({std::abs(dx), std::abs(dy), 1.0});
  return {dx / scale, dy / scale};
}

Tensor action_tensor(const Point& a) { return from_vector(std::vector<double>{a[0], a[1]}, {2}, DType::f32); }

// Two rooms: in front of the door on the agent's side, through it, then to the goal.
Point rooms_controller(const Sim& sim, const Point& goal, const AgentConfig& cfg, int& stage) {
  const agent::Wall& w = sim.wall();
  const Point& p = sim.position();
  const int side = p[0] < w.middle() ? 0 : 1, goal_side = goal[0] < w.middle() ? 0 : 1;
  if (side == goal_side) return toward(p, goal, cfg);
  const std::array<Point, 2> door = agent::door_waypoints(cfg, w, side);
  if (stage == 0 && distance(p, door[0]) < 1e-6) stage = 1;
  return toward(p, door[stage], cfg);
}

// Push: circle the ball (at most 45 degrees per target, so the path never cuts into it) to the
// point behind it on the line to the goal, then kick it towards the goal just hard enough for the
// ball to glide there (a kick at speed s sends it off at 2 s, and damping stops it after 2 s / d).
Point push_controller(const Sim& sim, const Point& goal, const AgentConfig& cfg) {
  const physics::Ball& ball = sim.balls()[0];
  const Point& p = sim.position();
  const double gx = goal[0] - ball.x, gy = goal[1] - ball.y, remaining = std::hypot(gx, gy);
  if (remaining < 0.5) return {0, 0};
  const double ux = gx / remaining, uy = gy / remaining, contact = cfg.agent_radius + cfg.ball_radius;
  const double back = std::atan2(-uy, -ux), here = std::atan2(p[1] - ball.y, p[0] - ball.x);
  const double off = std::remainder(back - here, 2 * M_PI);
  const double reach = std::hypot(p[0] - ball.x, p[1] - ball.y);
  if (std::abs(off) < 0.1 && reach < contact + 0.6) {
    const double speed = std::clamp(cfg.ball_damping * remaining / 2, 0.05, cfg.max_speed);
    return {ux * speed / cfg.max_speed, uy * speed / cfg.max_speed};
  }
  if (std::abs(off) < 0.1) return toward(p, {ball.x - (contact + 0.5) * ux, ball.y - (contact + 0.5) * uy}, cfg);
  const double orbit = contact + 1.5, angle = here + std::clamp(off, -M_PI / 4, M_PI / 4);
  return toward(p, {ball.x + orbit * std::cos(angle), ball.y + orbit * std::sin(angle)}, cfg);
}

}  // namespace

TEST_CASE("agent world: actions are clipped to the box per axis and move the agent by max_speed times the action") {
  const AgentConfig cfg;
  Sim free(cfg, {}, {16, 16}, {});
  Sim clipped = free;
  free.step({0.4, -0.7});
  CHECK(free.position()[0] == doctest::Approx(16 + 0.4 * cfg.max_speed).epsilon(1e-12));
  CHECK(free.position()[1] == doctest::Approx(16 - 0.7 * cfg.max_speed).epsilon(1e-12));
  CHECK(free.velocity()[0] == doctest::Approx(0.4 * cfg.max_speed).epsilon(1e-12));
  Sim unit = clipped;
  clipped.step({5.0, -30.0});
  unit.step({1.0, -1.0});
  CHECK(clipped.position() == unit.position());
  CHECK(clipped.position()[0] == doctest::Approx(16 + cfg.max_speed).epsilon(1e-12));
  CHECK(agent::clip_action({-2.5, 0.25}) == Point{-1.0, 0.25});
  CHECK_THROWS_WITH_AS(clipped.step({std::nan(""), 0.0}), doctest::Contains("[agent::clip_action] action (nan, 0)"),
                       Error);

  AgentEpisode episode(cfg, Level::reach, 3);
  Sim unit_step = episode.simulator();
  unit_step.step({-1, 1});
  episode.step(action_tensor({-7, 9}));
  CHECK(episode.simulator().position() == unit_step.position());
  CHECK(episode.simulator().position() != AgentEpisode(cfg, Level::reach, 3).simulator().position());
  CHECK_THROWS_WITH_AS(episode.step(from_vector(std::vector<float>{1, 2, 3}, {3})),
                       doctest::Contains("expected an action of 2 values, got shape"), Error);
}

TEST_CASE("agent world: the box and the wall stop the agent exactly") {
  const AgentConfig cfg;
  const agent::Wall wall{14, 16, 10, 16};  // door rows [10, 16)
  Sim sim(cfg, wall, {8, 25}, {});
  for (int t = 0; t < 10; ++t) sim.step({1, 0});
  CHECK(sim.position()[0] == 14 - cfg.agent_radius);  // flush against the face below the door
  CHECK(sim.velocity()[0] == 0);
  for (int t = 0; t < 30; ++t) sim.step({-1, 1});
  CHECK(sim.position() == Point{cfg.agent_radius, 32 - cfg.agent_radius});  // the box's corner
  // Level with the door, the agent passes; a pixel above its top row it is stopped by the corner.
  Sim through(cfg, wall, {8, 13}, {});
  for (int t = 0; t < 10; ++t) through.step({1, 0});
  CHECK(through.position()[0] == doctest::Approx(8 + 10 * cfg.max_speed).epsilon(1e-12));
  Sim corner(cfg, wall, {8, 10.5}, {});
  for (int t = 0; t < 10; ++t) corner.step({1, 0});
  const double half_chord = std::sqrt(cfg.agent_radius * cfg.agent_radius - 0.25);  // 0.5 px below the corner
  CHECK(corner.position()[0] == doctest::Approx(14 - half_chord).epsilon(1e-12));
  CHECK(std::abs(wall_clearance(corner, corner.position(), cfg)) < 1e-12);
  // Sliding down along the face, it turns the corner into the door.
  for (int t = 0; t < 3; ++t) corner.step({1, 1});
  CHECK(corner.position()[0] > 14);

  CHECK_THROWS_WITH_AS(Sim(cfg, wall, {15, 25}, {}), doctest::Contains("overlaps the wall"), Error);
  CHECK_THROWS_WITH_AS(Sim(cfg, wall, {8, 25}, {agent::ball_at(cfg, {25, 25})}),
                       doctest::Contains("a world has balls or a wall, not both"), Error);
}

TEST_CASE("agent world: random trajectories never cross the wall but through the door") {
  AgentConfig cfg;
  cfg.frames = 40;
  std::vector<uint64_t> seeds(300);
  for (size_t i = 0; i < seeds.size(); ++i) seeds[i] = 1000 + i;
  const AgentBatch batch = generate_agent_batch(cfg, Level::rooms, seeds);
  const auto agent = floats(batch.agent);
  const std::vector<int64_t> walls = batch.walls.to_vector<int64_t>();
  int64_t crossings = 0, near_wall = 0;
  const float tol = 1e-4f;  // the ground truth is stored in f32
  for (size_t b = 0; b < seeds.size(); ++b) {
    const agent::Wall w{walls[4 * b], walls[4 * b + 1], walls[4 * b + 2], walls[4 * b + 3]};
    const Sim layout(cfg, w, agent::room(cfg, w, 0)[0], {});
    CHECK(w.x1 - w.x0 == cfg.wall_thickness);
    CHECK(w.x0 >= cfg.min_wall_x);
    CHECK(w.x0 <= cfg.max_wall_x);
    CHECK(w.door_y1 - w.door_y0 == cfg.door_height);
    for (int64_t t = 0; t < cfg.frames; ++t) {
      const float* s = &agent[(b * cfg.frames + t) * 4];
      const double clearance = wall_clearance(layout, {s[0], s[1]}, cfg);
      CHECK(clearance >= -tol);
      CHECK(std::min({s[0], s[1], 32 - s[0], 32 - s[1]}) >= cfg.agent_radius - tol);
      near_wall += clearance < 0.5;
      if (t == 0) continue;
      const float* before = s - 4;
      if ((before[0] < w.middle()) != (s[0] < w.middle())) {
        ++crossings;
        CAPTURE(b);
        CAPTURE(t);
        for (const float* q : {before, s}) {
          CHECK(q[1] - cfg.agent_radius >= w.door_y0 - tol);
          CHECK(q[1] + cfg.agent_radius <= w.door_y1 + tol);
        }
      }
    }
  }
  MESSAGE("crossings ", crossings, ", frames near the wall ", near_wall);
  CHECK(crossings > 50);
  CHECK(near_wall > 300);  // the walls were tested, not avoided
}

TEST_CASE("agent world: a share of the two-rooms walks goes through the door") {
  for (double share : {0.0, 0.35, 1.0}) {
    CAPTURE(share);
    AgentConfig cfg;
    cfg.cross_share = share;
    std::vector<uint64_t> seeds(400);
    for (size_t i = 0; i < seeds.size(); ++i) seeds[i] = 77 + i;
    const AgentBatch batch = generate_agent_batch(cfg, Level::rooms, seeds);
    const auto agent = floats(batch.agent);
    const std::vector<int64_t> walls = batch.walls.to_vector<int64_t>(), steered = batch.steered.to_vector<int64_t>();
    int64_t crossed = 0, steered_count = 0, steered_crossed = 0;
    for (size_t b = 0; b < seeds.size(); ++b) {
      const double middle = 0.5 * static_cast<double>(walls[4 * b] + walls[4 * b + 1]);
      const float* first = &agent[b * cfg.frames * 4];
      const float* last = first + (cfg.frames - 1) * 4;
      const bool crosses = (first[0] < middle) != (last[0] < middle);
      crossed += crosses;
      steered_count += steered[b];
      steered_crossed += steered[b] && crosses;
    }
    const double rate = static_cast<double>(crossed) / 400, steered_rate = static_cast<double>(steered_count) / 400;
    MESSAGE("share ", share, ": steered ", steered_rate, ", crossed ", rate, ", steered and crossed ", steered_crossed);
    CHECK(std::abs(steered_rate - share) < 0.06);
    if (share == 0) CHECK(rate < 0.05);  // free walks rarely find the door
    else CHECK(steered_crossed >= 0.85 * static_cast<double>(steered_count));
  }
}

TEST_CASE("agent world: push walks aimed at the ball move it far more often than free ones") {
  const AgentConfig cfg;
  std::vector<uint64_t> seeds(400);
  for (size_t i = 0; i < seeds.size(); ++i) seeds[i] = 5000 + i;
  const AgentBatch batch = generate_agent_batch(cfg, Level::push, seeds);
  const auto balls = floats(batch.balls), agent = floats(batch.agent);
  const std::vector<int64_t> steered = batch.steered.to_vector<int64_t>();
  std::array<int64_t, 2> clips{0, 0}, moved{0, 0};
  for (size_t b = 0; b < seeds.size(); ++b) {
    const float* first = &balls[b * cfg.frames * 2];
    const float* last = first + (cfg.frames - 1) * 2;
    ++clips[steered[b]];
    moved[steered[b]] += std::hypot(last[0] - first[0], last[1] - first[1]) > 0.5;
    for (int64_t t = 0; t < cfg.frames; ++t) {  // the agent never overlaps the ball
      const float *a = &agent[(b * cfg.frames + t) * 4], *ball = first + 2 * t;
      CHECK(std::hypot(a[0] - ball[0], a[1] - ball[1]) >= cfg.agent_radius + cfg.ball_radius - 1e-4);
    }
  }
  const double aimed = static_cast<double>(moved[1]) / clips[1], free = static_cast<double>(moved[0]) / clips[0];
  MESSAGE("ball moved in ", aimed, " of the aimed clips, ", free, " of the free ones");
  CHECK(std::abs(static_cast<double>(clips[1]) / 400 - cfg.aim_share) < 0.07);
  CHECK(aimed > 0.6);
  CHECK(free < 0.25);
}

TEST_CASE("agent world: the random walk's turns and steps follow PLDM's distributions") {
  Generator g(11);
  constexpr int kDraws = 20000;
  double cos_sum = 0, sin_sum = 0, step_sum = 0, step_lo = 1e9, step_hi = -1e9;
  for (int i = 0; i < kDraws; ++i) {
    const double turn = agent::von_mises(g, 5.0);
    CHECK(std::abs(turn) <= M_PI);
    cos_sum += std::cos(turn);
    sin_sum += std::sin(turn);
    const double step = agent::truncated_normal(g, 1.0, 0.4, 0.2, 1.8);
    step_sum += step;
    step_lo = std::min(step_lo, step);
    step_hi = std::max(step_hi, step);
  }
  // E cos = I1(5) / I0(5) for a von Mises of concentration 5; symmetric, so E sin = 0.
  CHECK(cos_sum / kDraws == doctest::Approx(0.893383).epsilon(0.004));
  CHECK(std::abs(sin_sum / kDraws) < 0.01);
  CHECK(step_sum / kDraws == doctest::Approx(1.0).epsilon(0.01));  // truncated symmetrically
  CHECK(step_lo >= 0.2);
  CHECK(step_lo < 0.25);
  CHECK(step_hi <= 1.8);
  CHECK(step_hi > 1.75);

  const AgentConfig cfg;
  const AgentBatch batch = generate_agent_batch(cfg, Level::reach, std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  const auto actions = floats(batch.actions), agent = floats(batch.agent);
  double mean_norm = 0;
  for (size_t i = 0; i < actions.size(); i += 2) {
    const double norm = std::hypot(actions[i], actions[i + 1]);
    CHECK(norm <= 1 + 1e-6);
    CHECK(norm >= 0.2 / 1.8 - 1e-6);
    mean_norm += norm / (actions.size() / 2.0);
  }
  CHECK(mean_norm == doctest::Approx(1.0 / 1.8).epsilon(0.1));
  // The velocity of frame t + 1 is action t times max_speed wherever the box did not stop the agent.
  int64_t free_steps = 0;
  for (int64_t b = 0; b < 8; ++b)
    for (int64_t t = 0; t + 1 < cfg.frames; ++t) {
      const float* next = &agent[(b * cfg.frames + t + 1) * 4];
      const float* a = &actions[(b * (cfg.frames - 1) + t) * 2];
      const bool at_edge = std::min({next[0], next[1], 32 - next[0], 32 - next[1]}) <= cfg.agent_radius + 1e-4;
      if (at_edge) continue;
      ++free_steps;
      CHECK(next[2] == doctest::Approx(a[0] * cfg.max_speed).epsilon(1e-5));
      CHECK(next[3] == doctest::Approx(a[1] * cfg.max_speed).epsilon(1e-5));
    }
  CHECK(free_steps > 60);
}

TEST_CASE("agent world: balls bounce off the agent as off an infinitely heavy disc") {
  AgentConfig cfg;
  cfg.ball_damping = 0;
  // Head-on at 0.5 px per frame: the ball leaves at twice the agent's speed, the agent keeps going.
  Sim sim(cfg, {}, {8, 16}, {agent::ball_at(cfg, {14, 16})});
  for (int t = 0; t < 4; ++t) sim.step({0.5 / cfg.max_speed, 0});
  CHECK(sim.balls()[0].vx == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(sim.balls()[0].vy == 0);
  CHECK(sim.position()[0] == doctest::Approx(10).epsilon(1e-12));
  // The ball then glides; with damping it slows by the same share every frame.
  cfg.ball_damping = 0.25;
  Sim damped(cfg, {}, {8, 16}, {agent::ball_at(cfg, {14, 16})});
  for (int t = 0; t < 4; ++t) damped.step({0.5 / cfg.max_speed, 0});
  const double v = damped.balls()[0].vx;
  damped.step({0, 0});
  CHECK(damped.balls()[0].vx == doctest::Approx(0.75 * v).epsilon(1e-12));
  // Pushed slowly into the box's edge, the ball is pinned there and stops the agent, which never
  // overlaps it.
  Sim pinned(cfg, {}, {20, 16}, {agent::ball_at(cfg, {26, 16})});
  for (int t = 0; t < 80; ++t) {
    pinned.step({0.2 / cfg.max_speed, 0});
    const physics::Ball& b = pinned.balls()[0];
    CHECK(b.x - pinned.position()[0] >= cfg.agent_radius + b.radius - 1e-9);
    CHECK(b.x <= 32 - b.radius);
  }
  CHECK(pinned.balls()[0].x == doctest::Approx(32 - cfg.ball_radius).epsilon(1e-9));
  CHECK(pinned.position()[0] == doctest::Approx(32 - 2 * cfg.ball_radius - cfg.agent_radius).epsilon(1e-9));
}

TEST_CASE("agent world: scripted controllers on the true state reach every level's goal in its steps") {
  const AgentConfig cfg;
  constexpr int kEpisodes = 30;
  for (Level level : {Level::reach, Level::rooms, Level::push}) {
    const std::string name = level_name(level);
    CAPTURE(name);
    int successes = 0, idle_successes = 0;
    double steps = 0;
    for (uint64_t seed = 0; seed < kEpisodes; ++seed) {
      CAPTURE(seed);
      AgentEpisode episode(cfg, level, seed);
      AgentEpisode idle(cfg, level, seed);
      const Sim& goal = episode.goal_state();
      const Point goal_point = level == Level::push ? Point{goal.balls()[0].x, goal.balls()[0].y} : goal.position();
      if (level == Level::reach) {
        const double start = distance(episode.simulator().position(), goal_point);
        CHECK(start >= cfg.min_reach - 1e-9);
        CHECK(start <= cfg.max_reach + 1e-9);
      }
      if (level == Level::rooms) {
        const double middle = episode.simulator().wall().middle();
        CHECK((episode.simulator().position()[0] < middle) != (goal_point[0] < middle));
      }
      int stage = 0;
      while (episode.steps_left() > 0) {
        const Sim& sim = episode.simulator();
        const Point a = level == Level::reach  ? toward(sim.position(), goal_point, cfg)
                        : level == Level::rooms ? rooms_controller(sim, goal_point, cfg, stage)
                                                : push_controller(sim, goal_point, cfg);
        episode.step(action_tensor(a));
        idle.step(action_tensor({0, 0}));
      }
      CHECK(episode.steps_taken() == cfg.episode_steps(level));
      successes += episode.success();
      idle_successes += idle.success();
      if (episode.success()) steps += static_cast<double>(episode.steps_to_goal()) / kEpisodes;
      if (level != Level::push) CHECK(episode.success());
      CHECK(episode.steps_to_goal() <= episode.steps_taken());
    }
    MESSAGE(name, ": ", successes, "/", kEpisodes, " successes, mean steps to goal ", steps);
    CHECK(successes >= kEpisodes - 2);
    CHECK(idle_successes == 0);
  }
  AgentEpisode done(cfg, Level::reach, 1);
  for (int64_t t = 0; t < cfg.reach_steps; ++t) done.step(action_tensor({0, 0}));
  CHECK_THROWS_WITH_AS(done.step(action_tensor({0, 0})), doctest::Contains("the reach episode has used its 30 steps"),
                       Error);
}

TEST_CASE("agent world: frames and goal images show the scene in [0, 1]") {
  const AgentConfig cfg;
  const int64_t H = cfg.height, W = cfg.width;
  // An open world: the agent's disc alone, with the anti-aliased mass of physics_sim.hpp's discs.
  const Sim open(cfg, {}, {12.3, 19.6}, {});
  std::vector<float> img(H * W);
  open.render(img.data());
  double mass = 0, cx = 0, cy = 0;
  for (int64_t i = 0; i < H * W; ++i) {
    CHECK(img[i] >= 0.0f);
    CHECK(img[i] <= 1.0f);
    mass += img[i];
    cx += img[i] * (i % W + 0.5);
    cy += img[i] * (i / W + 0.5);
  }
  CHECK(mass == doctest::Approx(M_PI * cfg.agent_radius * cfg.agent_radius + M_PI / 12).epsilon(0.01));
  CHECK(cx / mass == doctest::Approx(12.3).epsilon(0.005));
  CHECK(cy / mass == doctest::Approx(19.6).epsilon(0.005));

  for (Level level : {Level::reach, Level::rooms, Level::push}) {
    const std::string name = level_name(level);
    CAPTURE(name);
    const AgentEpisode episode(cfg, level, 5);
    CHECK(episode.observation().frame.shape() == Shape{1, H, W});
    CHECK(episode.observation().state.shape() == Shape{4});
    CHECK(episode.goal().shape() == Shape{1, H, W});
    const auto frame = floats(episode.observation().frame), goal = floats(episode.goal());
    CHECK(*std::min_element(frame.begin(), frame.end()) >= 0.0f);
    CHECK(*std::max_element(frame.begin(), frame.end()) <= 1.0f);
    CHECK(frame != goal);
    const auto state = floats(episode.observation().state);
    CHECK(state[0] == static_cast<float>(episode.simulator().position()[0]));
    CHECK(state[2] == 0.0f);
    // The goal image is the goal state drawn like any frame.
    std::vector<float> drawn(H * W);
    episode.goal_state().render(drawn.data());
    CHECK(goal == drawn);
    if (level == Level::rooms) {
      const agent::Wall& w = episode.simulator().wall();
      // The agent's anti-aliased rim never reaches into the wall, so its pixels are exact.
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = w.x0; j < w.x1; ++j) {
          const bool door = i >= w.door_y0 && i < w.door_y1;
          CHECK((frame[i * W + j] == cfg.wall_grey) != door);
          CHECK((goal[i * W + j] == cfg.wall_grey) != door);
        }
    }
    if (level == Level::push) {
      const physics::Ball& b = episode.simulator().balls()[0];
      CHECK(frame[static_cast<int64_t>(b.y) * W + static_cast<int64_t>(b.x)] == cfg.ball_grey);
    }
  }
}

TEST_CASE("agent world: clips and episodes are deterministic, and independent of threads and batches") {
  const AgentConfig cfg;
  const std::vector<uint64_t> seeds{9, 41, 41, 123456789, 0};
  for (Level level : {Level::reach, Level::rooms, Level::push}) {
    const std::string name = level_name(level);
    CAPTURE(name);
    const int threads = cpu::max_threads();
    const AgentBatch many = generate_agent_batch(cfg, level, seeds);
    omp_set_num_threads(1);
    const AgentBatch one = generate_agent_batch(cfg, level, seeds);
    omp_set_num_threads(threads);
    for (auto [a, b] : {std::pair{many.frames, one.frames}, {many.actions, one.actions}, {many.agent, one.agent},
                        {many.balls, one.balls}})
      CHECK(floats(a) == floats(b));
    CHECK(many.walls.to_vector<int64_t>() == one.walls.to_vector<int64_t>());
    CHECK(floats(many.frames.select(0, 1)) == floats(many.frames.select(0, 2)));  // the same seed twice
    CHECK(floats(many.frames.select(0, 0)) != floats(many.frames.select(0, 1)));
    const AgentBatch alone = generate_agent_batch(cfg, level, std::vector<uint64_t>{123456789});
    CHECK(floats(alone.frames.select(0, 0)) == floats(many.frames.select(0, 3)));
    CHECK(floats(alone.actions.select(0, 0)) == floats(many.actions.select(0, 3)));
    CHECK(many.frames.shape() == Shape{5, 1, cfg.frames, cfg.height, cfg.width});
    CHECK(many.actions.shape() == Shape{5, cfg.frames - 1, 2});
    CHECK(many.agent.shape() == Shape{5, cfg.frames, 4});
    CHECK(many.balls.shape() == Shape{5, cfg.frames, level == Level::push ? 1 : 0, 2});
    const auto values = floats(many.frames);
    CHECK(*std::min_element(values.begin(), values.end()) >= 0.0f);
    CHECK(*std::max_element(values.begin(), values.end()) <= 1.0f);

    // Episodes: the same seed and actions give the same frames; another seed another start.
    AgentEpisode first(cfg, level, 17), second(cfg, level, 17);
    const AgentEpisode other(cfg, level, 18);
    CHECK(floats(first.goal()) == floats(second.goal()));
    CHECK(floats(first.goal()) != floats(other.goal()));
    Generator g(4);
    for (int t = 0; t < 12; ++t) {
      const Tensor a = action_tensor({physics::uniform(g, -1.2, 1.2), physics::uniform(g, -1.2, 1.2)});
      CHECK(floats(first.step(a).frame) == floats(second.step(a).frame));
    }
    CHECK(floats(first.observation().state) == floats(second.observation().state));
  }
}

TEST_CASE("agent world: training clips are made on the loader's thread, batch (epoch, step) as generated directly") {
  AgentConfig cfg;
  cfg.frames = 8;
  LoaderOptions options;
  options.dataset_size = 24;
  options.batch_size = 6;
  options.seed = 5;
  const auto seeds_of = [](const std::vector<int64_t>& indices) {
    std::vector<uint64_t> seeds;
    for (const int64_t i : indices) seeds.push_back(derive_seed(99, static_cast<uint64_t>(i)));
    return seeds;
  };
  BatchLoader<AgentBatch> loader(options, [&](const BatchPlan& plan) {
    return generate_agent_batch(cfg, Level::push, seeds_of(plan.indices));
  });
  for (int s = 0; s < 5; ++s) {
    const auto item = loader.next();
    const std::vector<int64_t> order = epoch_order(24, 5, item.epoch, true);
    const std::vector<int64_t> indices(order.begin() + item.step * 6, order.begin() + item.step * 6 + 6);
    const AgentBatch direct = generate_agent_batch(cfg, Level::push, seeds_of(indices));
    CHECK(floats(item.batch.frames) == floats(direct.frames));
    CHECK(floats(item.batch.balls) == floats(direct.balls));
    CHECK(item.batch.frames.shape() == Shape{6, 1, 8, 32, 32});
  }
}

TEST_CASE("agent world: configuration errors name the problem") {
  const auto refused = [](auto change, const char* message) {
    AgentConfig cfg;
    change(cfg);
    CHECK_THROWS_WITH_AS(cfg.validate(), doctest::Contains(message), Error);
  };
  refused([](AgentConfig& c) { c.substeps = 1; }, "close in by");
  refused([](AgentConfig& c) { c.door_height = 4; }, "must be taller than the agent");
  refused([](AgentConfig& c) { c.max_wall_x = 28; }, "must leave both rooms room for the agent");
  refused([](AgentConfig& c) { c.ball_damping = 1; }, "ball_damping must lie in [0, 1)");
  refused([](AgentConfig& c) { c.cross_share = 1.5; }, "cross_share and aim_share must lie in [0, 1]");
  refused([](AgentConfig& c) { c.walk_step_mean = 2; }, "0 < step min <= mean <= max");
  AgentConfig tight;
  tight.min_push = tight.max_push = 40;  // no goal that far fits the box
  CHECK_THROWS_WITH_AS(AgentEpisode(tight, Level::push, 3),
                       doctest::Contains("seed 3: no place for the ball's goal 40 to 40 pixels from"), Error);
}
