// The agent world of action-conditioned planning (ac-planning-spec.md 4.1): a disc moved by 2-D
// actions in the grey world of physics_world.hpp, a wall that stops it, and a ball it pushes with
// that world's contact physics. Levels: open reach, two rooms joined by a door, push a ball to a
// goal. Training clips are random-action trajectories (PLDM's correlated random walk, a share of
// them steered through the door or at the ball); a planning episode shows the planner frames, the
// agent's own state and a goal image, and keeps the simulator for the evaluation.
//
// Units: pixels and frames, as physics_sim.hpp; the world is seen from above, without gravity.
// Invariants:
//  - An action is clipped to the box [-1, 1]^2 per axis and moves the agent by max_speed * action
//    within one frame, without inertia, unless the box or the wall stops it: the agent's disc never
//    overlaps the wall or leaves the box, so it changes rooms only through the door.
//  - Balls bounce off the agent as off an infinitely heavy disc (physics::World::shove) and never
//    move it, except that a ball pinned against the box stops it. Balls lose a share of their
//    velocity each frame. A world has balls or a wall, not both: balls do not see the wall.
//  - A clip depends only on (config, level, seed), an episode on (config, level, seed) and the
//    actions given: not on the thread count or on the other clips of a batch.
//  - Per frame t: the agent's (x, y, vx, vy), v being its displacement since frame t - 1 (0 at
//    t = 0), and the ball centres. Action t is the clipped action that took frame t to frame t + 1.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <jepa/data/physics_world.hpp>

namespace jepa {

enum class Level : uint8_t { reach, rooms, push };

inline const char* level_name(Level level) {
  switch (level) {
    case Level::reach: return "reach";
    case Level::rooms: return "rooms";
    case Level::push: return "push";
  }
  return "?";
}

// Lengths in pixels, at the spec's 32 x 32.
struct AgentConfig {
  int64_t frames = 16;  // per training clip
  int64_t height = 32, width = 32;
  double agent_radius = 2;
  double max_speed = 1.5;      // pixels per frame for an action of 1 on an axis
  double ball_radius = 3;      // push
  double ball_damping = 0.15;  // share of a ball's velocity lost each frame
  int64_t substeps = 8;        // contact checks per frame
  // Two rooms: a wall over columns [x, x + wall_thickness), x drawn in [min_wall_x, max_wall_x],
  // with a door of door_height rows at least door_margin rows from the top and the bottom.
  int64_t wall_thickness = 2, min_wall_x = 12, max_wall_x = 20;
  int64_t door_height = 6, door_margin = 4;
  float background = 0.0f, agent_grey = 1.0f, ball_grey = 0.6f, wall_grey = 0.35f;
  // Episodes: the goal's distance from the start (the agent's for reach, the ball's for push; in
  // two rooms it lies in the other room), the steps allowed, and the success distance.
  double min_reach = 8, max_reach = 20, min_push = 6, max_push = 12;
  int64_t reach_steps = 30, rooms_steps = 60, push_steps = 40;
  double success_distance = 2;
  // The random walk: the heading turns by a von Mises angle of this concentration each frame; the
  // step is a normal draw truncated to [walk_step_min, walk_step_max], over walk_step_max, times
  // max_speed. Shares of clips steered through the door (two rooms) or at the ball (push).
  double walk_concentration = 5, walk_step_mean = 1, walk_step_std = 0.4, walk_step_min = 0.2, walk_step_max = 1.8;
  double cross_share = 0.35, aim_share = 0.5;

  double side() const { return static_cast<double>(std::min(height, width)); }
  int64_t episode_steps(Level level) const {
    return level == Level::reach ? reach_steps : level == Level::rooms ? rooms_steps : push_steps;
  }
  // Push: ball centres (start and goal) keep this far from the edges, so the agent fits behind the
  // ball whichever way it pushes.
  double push_margin() const { return ball_radius + 2 * agent_radius + 1; }

  void validate() const {
    const char* op = "AgentConfig";
    JEPA_CHECK(frames >= 2, op, "frames must be >= 2, got ", frames);
    JEPA_CHECK(height >= 8 && width >= 8, op, "size must be at least 8x8, got ", height, "x", width);
    JEPA_CHECK(agent_radius > 0 && ball_radius > 0 && 2 * push_margin() < side(), op,
               "needs positive radii with 2 * (ball_radius + 2 agent_radius + 1) below the side ", side(), ", got ",
               agent_radius, " and ", ball_radius);
    JEPA_CHECK(max_speed > 0 && substeps >= 1, op, "needs max_speed > 0 and substeps >= 1, got ", max_speed, " and ",
               substeps);
    // A ball kicked by the agent moves at up to twice its speed; the two must not pass through each
    // other between contact checks.
    const double closing = 3 * std::sqrt(2.0) * max_speed / static_cast<double>(substeps);
    JEPA_CHECK(closing < std::min(agent_radius, ball_radius), op, "the agent and a ball may close in by ", closing,
               " pixels per sub-step, more than the smaller radius: raise substeps");
    JEPA_CHECK(ball_damping >= 0 && ball_damping < 1, op, "ball_damping must lie in [0, 1), got ", ball_damping);
    JEPA_CHECK(wall_thickness >= 1 && min_wall_x <= max_wall_x && static_cast<double>(min_wall_x) >= 2 * agent_radius &&
                   static_cast<double>(max_wall_x + wall_thickness) + 2 * agent_radius <= static_cast<double>(width),
               op, "the wall (columns ", min_wall_x, "..", max_wall_x, " + ", wall_thickness,
               ") must leave both rooms room for the agent (diameter ", 2 * agent_radius, ") in width ", width);
    JEPA_CHECK(static_cast<double>(door_height) > 2 * agent_radius && door_margin >= 0 &&
                   2 * door_margin + door_height <= height,
               op, "the door (", door_height, " rows, ", door_margin,
               " from the edges) must be taller than the agent (", 2 * agent_radius, ") and fit the height ", height);
    JEPA_CHECK(min_reach > 0 && min_reach <= max_reach && min_push > 0 && min_push <= max_push, op,
               "needs 0 < min_reach <= max_reach and 0 < min_push <= max_push, got ", min_reach, ", ", max_reach, ", ",
               min_push, ", ", max_push);
    JEPA_CHECK(reach_steps >= 1 && rooms_steps >= 1 && push_steps >= 1 && success_distance > 0, op,
               "episodes need steps >= 1 and success_distance > 0");
    JEPA_CHECK(walk_concentration >= 0 && walk_step_std > 0 && walk_step_min > 0 && walk_step_min < walk_step_max &&
                   walk_step_mean >= walk_step_min && walk_step_mean <= walk_step_max,
               op, "the walk needs concentration >= 0, step std > 0 and 0 < step min <= mean <= max (min < max), got ",
               walk_concentration, ", ", walk_step_std, ", ", walk_step_min, " <= ", walk_step_mean, " <= ",
               walk_step_max);
    JEPA_CHECK(cross_share >= 0 && cross_share <= 1 && aim_share >= 0 && aim_share <= 1, op,
               "cross_share and aim_share must lie in [0, 1], got ", cross_share, " and ", aim_share);
    for (float grey : {background, agent_grey, ball_grey, wall_grey})
      JEPA_CHECK(grey >= 0 && grey <= 1, op, "grey levels must lie in [0, 1], got ", grey);
  }
};

namespace agent {

using Point = std::array<double, 2>;  // (x, y), pixels

// A vertical wall over columns [x0, x1), open over the door rows [door_y0, door_y1).
struct Wall {
  int64_t x0 = 0, x1 = 0, door_y0 = 0, door_y1 = 0;

  bool enabled() const { return x1 > x0; }
  double middle() const { return 0.5 * static_cast<double>(x0 + x1); }
  double door_middle() const { return 0.5 * static_cast<double>(door_y0 + door_y1); }
};

// An axis-aligned rectangle [lo, hi] that stops the agent: a wall piece above or below the door.
struct Block {
  Point lo, hi;

  bool empty() const { return hi[0] <= lo[0] || hi[1] <= lo[1]; }
  // From p to the nearest point of the rectangle; 0 inside.
  double distance(const Point& p) const {
    return std::hypot(std::max({lo[0] - p[0], p[0] - hi[0], 0.0}), std::max({lo[1] - p[1], p[1] - hi[1], 0.0}));
  }
};

// Each axis clamped to [-1, 1]; a non-finite action is refused.
inline Point clip_action(Point action) {
  for (double& a : action) {
    JEPA_CHECK(std::isfinite(a), "agent::clip_action", "action (", action[0], ", ", action[1], ") is not finite");
    a = std::clamp(a, -1.0, 1.0);
  }
  return action;
}

// The simulator: the agent, the wall, the balls. Copyable, so an oracle can roll it forward.
class Sim {
 public:
  Sim(const AgentConfig& cfg, Wall wall, Point agent, std::vector<physics::Ball> balls)
      : cfg_(cfg), wall_(wall), world_(cfg.height, cfg.width, 0.0, physics::Occluder{}, std::move(balls)), p_(agent) {
    JEPA_CHECK(!wall.enabled() || world_.balls().empty(), "agent::Sim", "a world has balls or a wall, not both (",
               world_.balls().size(), " balls; balls do not see the wall)");
    JEPA_CHECK(!wall.enabled() || (wall.x0 >= 0 && wall.x1 <= cfg.width && wall.door_y0 >= 0 &&
                                   wall.door_y0 <= wall.door_y1 && wall.door_y1 <= cfg.height),
               "agent::Sim", "wall columns [", wall.x0, ", ", wall.x1, ") with door rows [", wall.door_y0, ", ",
               wall.door_y1, ") leave the ", cfg.height, "x", cfg.width, " world");
    JEPA_CHECK(fits(agent, 0.0), "agent::Sim", "the agent at (", agent[0], ", ", agent[1],
               ") leaves the box or overlaps the wall or a ball");
  }

  const Point& position() const { return p_; }
  const Point& velocity() const { return v_; }  // displacement during the last step
  const Wall& wall() const { return wall_; }
  const std::vector<physics::Ball>& balls() const { return world_.balls(); }

  // The wall pieces above and below the door (empty ones where the door meets an edge).
  std::array<Block, 2> blocks() const {
    if (!wall_.enabled()) return {};
    const auto x0 = static_cast<double>(wall_.x0), x1 = static_cast<double>(wall_.x1);
    return {Block{{x0, 0.0}, {x1, static_cast<double>(wall_.door_y0)}},
            Block{{x0, static_cast<double>(wall_.door_y1)}, {x1, static_cast<double>(cfg_.height)}}};
  }

  // Whether the agent's disc at p lies in the box, clear of the wall and at least `gap` pixels
  // from every ball.
  bool fits(Point p, double gap) const {
    const double r = cfg_.agent_radius;
    const auto width = static_cast<double>(cfg_.width), height = static_cast<double>(cfg_.height);
    if (p[0] < r || p[0] > width - r || p[1] < r || p[1] > height - r) return false;
    for (const Block& b : blocks())
      if (!b.empty() && b.distance(p) < r) return false;
    for (const physics::Ball& b : world_.balls())
      if (b.present && std::hypot(b.x - p[0], b.y - p[1]) < r + b.radius + gap) return false;
    return true;
  }

  // One frame: the action clipped, then per sub-step the balls fly, the agent moves (x, then y)
  // until the box or the wall stops it, and shoves the balls in its way; then the balls slow down.
  void step(Point action) {
    const Point a = clip_action(action), start = p_;
    const double dt = 1.0 / static_cast<double>(cfg_.substeps);
    for (int64_t s = 0; s < cfg_.substeps; ++s) {
      world_.advance(dt, 1);
      const Point before = p_;
      for (int axis = 0; axis < 2; ++axis) p_[axis] = slide(axis, a[axis] * cfg_.max_speed * dt);
      if (!world_.balls().empty()) shove_balls(before, dt);
    }
    world_.damp(1 - cfg_.ball_damping);
    v_ = {p_[0] - start[0], p_[1] - start[1]};
  }

  // The frame into out (height, width), values in [0, 1]: background, balls, wall, then the agent.
  void render(float* out) const {
    world_.render(cfg_.background, out);
    if (wall_.enabled())
      for (int64_t i = 0; i < cfg_.height; ++i)
        if (i < wall_.door_y0 || i >= wall_.door_y1)
          std::fill(out + i * cfg_.width + wall_.x0, out + i * cfg_.width + wall_.x1, cfg_.wall_grey);
    physics::detail::draw_disc(p_[0], p_[1], cfg_.agent_radius, cfg_.agent_grey, cfg_.height, cfg_.width, out);
  }

 private:
  // The agent's coordinate along `axis` after moving delta: stopped where its disc first touches
  // the box or a block. A block ahead stops the disc where, at the disc's offset across the axis,
  // it would touch the block's near face or corner; the block's middle tells ahead from behind.
  double slide(int axis, double delta) const {
    if (delta == 0) return p_[axis];
    const int across = 1 - axis;
    const double r = cfg_.agent_radius, p = p_[axis];
    const double extent = static_cast<double>(axis == 0 ? cfg_.width : cfg_.height);
    double limit = delta > 0 ? extent - r : r;
    for (const Block& b : blocks()) {
      const double gap = std::max({b.lo[across] - p_[across], p_[across] - b.hi[across], 0.0});
      if (gap >= r || b.empty()) continue;
      const double half = std::sqrt(r * r - gap * gap);  // the disc's half-chord at the block's edge
      const double middle = 0.5 * (b.lo[axis] + b.hi[axis]);
      if (delta > 0 && p <= middle) limit = std::min(limit, b.lo[axis] - half);
      if (delta < 0 && p >= middle) limit = std::max(limit, b.hi[axis] + half);
    }
    return delta > 0 ? std::min(p + delta, limit) : std::max(p + delta, limit);
  }

  // Balls the agent ran into bounce off it; a ball the box holds in place pushes the agent back to
  // touching it.
  void shove_balls(const Point& before, double dt) {
    physics::Ball body;
    body.x = p_[0];
    body.y = p_[1];
    body.vx = (p_[0] - before[0]) / dt;
    body.vy = (p_[1] - before[1]) / dt;
    body.radius = cfg_.agent_radius;
    world_.shove(body);
    const double r = cfg_.agent_radius;
    for (const physics::Ball& b : world_.balls()) {
      if (!b.present) continue;
      const double dx = p_[0] - b.x, dy = p_[1] - b.y, distance = std::hypot(dx, dy), reach = r + b.radius;
      if (distance >= reach) continue;
      const double nx = distance > 0 ? dx / distance : 1.0, ny = distance > 0 ? dy / distance : 0.0;
      p_[0] = std::clamp(b.x + reach * nx, r, static_cast<double>(cfg_.width) - r);
      p_[1] = std::clamp(b.y + reach * ny, r, static_cast<double>(cfg_.height) - r);
    }
  }

  AgentConfig cfg_;
  Wall wall_;
  physics::World world_;  // the balls
  Point p_, v_{0.0, 0.0};
};

// Best and Fisher's (1979) rejection sampler of the von Mises distribution around 0.
inline double von_mises(Generator& g, double concentration) {
  if (concentration < 1e-8) return physics::uniform(g, -M_PI, M_PI);
  const double k = concentration, tau = 1 + std::sqrt(1 + 4 * k * k);
  const double rho = (tau - std::sqrt(2 * tau)) / (2 * k), r = (1 + rho * rho) / (2 * rho);
  for (;;) {
    const double z = std::cos(M_PI * g.uniform()), f = (1 + r * z) / (r + z), c = k * (r - f);
    const double u = g.uniform();
    if (c * (2 - c) > u || std::log(c / u) + 1 - c >= 0) {
      const double angle = std::acos(std::clamp(f, -1.0, 1.0));
      return g.uniform() < 0.5 ? -angle : angle;
    }
  }
}

// A normal draw, redrawn until it falls in [lo, hi] (validate keeps the mean inside).
inline double truncated_normal(Generator& g, double mean, double std, double lo, double hi) {
  for (;;) {
    const double v = mean + std * g.normal();
    if (v >= lo && v <= hi) return v;
  }
}

// PLDM's correlated random walk. Steered towards a target, the heading points at it (plus the
// same turn noise) and the step ends at the target.
class RandomWalk {
 public:
  RandomWalk(const AgentConfig& cfg, Generator& g) : cfg_(cfg), heading_(physics::uniform(g, -M_PI, M_PI)) {}

  Point next(Generator& g, const Point& from, const std::optional<Point>& target) {
    const double turn = von_mises(g, cfg_.walk_concentration);
    double norm = truncated_normal(g, cfg_.walk_step_mean, cfg_.walk_step_std, cfg_.walk_step_min, cfg_.walk_step_max) /
                  cfg_.walk_step_max;
    if (target) {
      const double dx = (*target)[0] - from[0], dy = (*target)[1] - from[1];
      heading_ = std::atan2(dy, dx) + turn;
      norm = std::min(norm, std::hypot(dx, dy) / cfg_.max_speed);
    } else {
      heading_ += turn;
    }
    return {norm * std::cos(heading_), norm * std::sin(heading_)};
  }

 private:
  AgentConfig cfg_;
  double heading_;
};

// Philox offsets of one seed: clips draw from 0, episodes from kEpisodeStream, so a clip and an
// episode of one seed share no numbers.
inline constexpr uint64_t kEpisodeStream = uint64_t{1} << 40;
inline constexpr int kPlacementTries = 1024;

// A uniform point of [lo, hi] (per axis) that `ok` accepts.
template <class Ok>
Point place(Generator& g, Point lo, Point hi, Ok ok, const char* what, uint64_t seed) {
  for (int t = 0; t < kPlacementTries; ++t) {
    const Point p{physics::uniform(g, lo[0], hi[0]), physics::uniform(g, lo[1], hi[1])};
    if (ok(p)) return p;
  }
  fail("agent world", "seed ", seed, ": no place for ", what, " in ", kPlacementTries, " tries");
}

// A point at a random distance in [lo, hi] from `from`, in a random direction, that `ok` accepts.
template <class Ok>
Point place_around(Generator& g, Point from, double lo, double hi, Ok ok, const char* what, uint64_t seed) {
  for (int t = 0; t < kPlacementTries; ++t) {
    const double angle = physics::uniform(g, -M_PI, M_PI), distance = physics::uniform(g, lo, hi);
    const Point p{from[0] + distance * std::cos(angle), from[1] + distance * std::sin(angle)};
    if (ok(p)) return p;
  }
  fail("agent world", "seed ", seed, ": no place for ", what, " ", lo, " to ", hi, " pixels from (", from[0], ", ",
       from[1], ") in ", kPlacementTries, " tries");
}

inline Wall sample_wall(const AgentConfig& cfg, Generator& g) {
  Wall w;
  w.x0 = g.randint(cfg.min_wall_x, cfg.max_wall_x + 1);
  w.x1 = w.x0 + cfg.wall_thickness;
  w.door_y0 = g.randint(cfg.door_margin, cfg.height - cfg.door_margin - cfg.door_height + 1);
  w.door_y1 = w.door_y0 + cfg.door_height;
  return w;
}

inline physics::Ball ball_at(const AgentConfig& cfg, Point p) {
  physics::Ball b;
  b.x = p[0];
  b.y = p[1];
  b.radius = cfg.ball_radius;
  b.mass = b.radius * b.radius;
  b.grey = cfg.ball_grey;
  return b;
}

// The agent's centre in the rooms left and right of the wall: [lo, hi] per axis.
inline std::array<Point, 2> room(const AgentConfig& cfg, const Wall& w, int side) {
  const double r = cfg.agent_radius, height = static_cast<double>(cfg.height);
  if (side == 0) return {Point{r, r}, Point{static_cast<double>(w.x0) - r, height - r}};
  return {Point{static_cast<double>(w.x1) + r, r}, Point{static_cast<double>(cfg.width) - r, height - r}};
}

inline std::array<Point, 2> whole_box(const AgentConfig& cfg, double margin) {
  const auto width = static_cast<double>(cfg.width), height = static_cast<double>(cfg.height);
  return {Point{margin, margin}, Point{width - margin, height - margin}};
}

// Where a steered walk through the door starts from, and goes: in front of the door on one side,
// then on the other side.
inline std::array<Point, 2> door_waypoints(const AgentConfig& cfg, const Wall& w, int from_side) {
  constexpr double kClearance = 0.5;  // pixels between the disc and the wall's face
  const double left = static_cast<double>(w.x0) - cfg.agent_radius - kClearance;
  const double right = static_cast<double>(w.x1) + cfg.agent_radius + kClearance;
  const Point l{left, w.door_middle()}, r{right, w.door_middle()};
  return from_side == 0 ? std::array<Point, 2>{l, r} : std::array<Point, 2>{r, l};
}

inline bool anywhere(const Point&) { return true; }

// The start of a level: the agent anywhere (reach) or in a random room of `wall` (rooms); for
// push, the ball at rest push_margin() from the edges and the agent anywhere a pixel clear of it.
inline Sim sample_start(const AgentConfig& cfg, Level level, const Wall& wall, Generator& g, uint64_t seed) {
  const auto box = whole_box(cfg, cfg.agent_radius);
  if (level == Level::reach) return Sim(cfg, {}, place(g, box[0], box[1], anywhere, "the agent", seed), {});
  if (level == Level::rooms) {
    const auto in = room(cfg, wall, static_cast<int>(g.randint(0, 2)));
    return Sim(cfg, wall, place(g, in[0], in[1], anywhere, "the agent", seed), {});
  }
  const auto ball_box = whole_box(cfg, cfg.push_margin());
  const physics::Ball ball = ball_at(cfg, place(g, ball_box[0], ball_box[1], anywhere, "the ball", seed));
  const Point p = place(g, box[0], box[1], [&](const Point& q) {
    return std::hypot(q[0] - ball.x, q[1] - ball.y) >= cfg.agent_radius + ball.radius + 1;
  }, "the agent", seed);
  return Sim(cfg, {}, p, {ball});
}

// The start of a training clip, and where its walk is steered.
struct ClipStart {
  Sim sim;
  std::vector<Point> waypoints;  // visited in order, then the walk runs free
  bool aim_at_ball = false;      // steered at the ball all along
};

// As sample_start, except that cross_share of the two-rooms clips start near the door and are
// steered through it, and aim_share of the push clips are steered at the ball.
inline ClipStart sample_clip_start(const AgentConfig& cfg, Level level, Generator& g, uint64_t seed) {
  const Wall wall = level == Level::rooms ? sample_wall(cfg, g) : Wall{};
  if (level == Level::rooms && g.uniform() < cfg.cross_share) {
    constexpr double kSpread = 3;  // pixels: starts lie in a 3 x 6 box behind the point in front of the door
    const int side = static_cast<int>(g.randint(0, 2));
    const std::array<Point, 2> waypoints = door_waypoints(cfg, wall, side);
    const double near_x = waypoints[0][0] + (side == 0 ? -kSpread : kSpread) / 2, near_y = waypoints[0][1];
    const Point p = place(g, {near_x - kSpread / 2, near_y - kSpread}, {near_x + kSpread / 2, near_y + kSpread},
                          anywhere, "a walk through the door", seed);
    return {Sim(cfg, wall, p, {}), {waypoints[0], waypoints[1]}, false};
  }
  Sim sim = sample_start(cfg, level, wall, g, seed);
  const bool aim = level == Level::push && g.uniform() < cfg.aim_share;
  return {std::move(sim), {}, aim};
}

// Raw destinations of one clip inside a batch's tensors.
struct AgentClipOut {
  float *frames, *actions, *agent, *balls;
  int64_t *wall, *steered;
};

inline void write_agent_clip(const AgentConfig& cfg, Level level, uint64_t seed, const AgentClipOut& out) {
  constexpr double kWaypointReach = 1.0;  // pixels: close enough to move on to the next waypoint
  Generator g = physics::stream(seed, 0);
  ClipStart start = sample_clip_start(cfg, level, g, seed);
  Sim& sim = start.sim;
  RandomWalk walk(cfg, g);
  size_t waypoint = 0;
  const int64_t pixels = cfg.height * cfg.width, K = static_cast<int64_t>(sim.balls().size());
  for (int64_t t = 0; t < cfg.frames; ++t) {
    sim.render(out.frames + t * pixels);
    const Point &p = sim.position(), &v = sim.velocity();
    for (int i = 0; i < 2; ++i) {
      out.agent[4 * t + i] = static_cast<float>(p[i]);
      out.agent[4 * t + 2 + i] = static_cast<float>(v[i]);
    }
    for (int64_t k = 0; k < K; ++k) {
      out.balls[2 * (t * K + k)] = static_cast<float>(sim.balls()[k].x);
      out.balls[2 * (t * K + k) + 1] = static_cast<float>(sim.balls()[k].y);
    }
    if (t + 1 == cfg.frames) break;
    while (waypoint < start.waypoints.size() &&
           std::hypot(start.waypoints[waypoint][0] - p[0], start.waypoints[waypoint][1] - p[1]) < kWaypointReach)
      ++waypoint;
    std::optional<Point> target;
    if (waypoint < start.waypoints.size()) target = start.waypoints[waypoint];
    if (start.aim_at_ball) target = Point{sim.balls()[0].x, sim.balls()[0].y};
    const Point action = clip_action(walk.next(g, p, target));
    out.actions[2 * t] = static_cast<float>(action[0]);
    out.actions[2 * t + 1] = static_cast<float>(action[1]);
    sim.step(action);
  }
  const Wall& w = sim.wall();
  const int64_t wall[4] = {w.x0, w.x1, w.door_y0, w.door_y1};
  std::copy(wall, wall + 4, out.wall);
  *out.steered = !start.waypoints.empty() || start.aim_at_ball ? 1 : 0;
}

}  // namespace agent

// B training clips of one level, each as write_agent_clip makes it. K = 1 ball for push, else 0.
struct AgentBatch {
  Tensor frames;   // (B, 1, T, H, W) f32 in [0, 1]
  Tensor actions;  // (B, T - 1, 2) f32 in [-1, 1]; action t takes frame t to frame t + 1
  Tensor agent;    // (B, T, 4) f32: the agent's (x, y, vx, vy), pixels and pixels per frame
  Tensor balls;    // (B, T, K, 2) f32: ball centres, pixels
  Tensor walls;    // (B, 4) i64: wall columns [x0, x1) and door rows [y0, y1); zeros without a wall
  Tensor steered;  // (B) i64: 1 where the walk was steered (through the door, or at the ball)
  Level level = Level::reach;
};

// Clips for the given seeds, generated in parallel over clips; clip b depends only on seeds[b].
inline AgentBatch generate_agent_batch(const AgentConfig& cfg, Level level, const std::vector<uint64_t>& seeds) {
  cfg.validate();
  const auto batch = static_cast<int64_t>(seeds.size());
  const int64_t T = cfg.frames, H = cfg.height, W = cfg.width, K = level == Level::push ? 1 : 0;
  AgentBatch out;
  out.frames = Tensor::empty({batch, 1, T, H, W});
  out.actions = Tensor::empty({batch, T - 1, 2});
  out.agent = Tensor::empty({batch, T, 4});
  out.balls = Tensor::empty({batch, T, K, 2});
  out.walls = Tensor::empty({batch, 4}, DType::i64);
  out.steered = Tensor::empty({batch}, DType::i64);
  out.level = level;
  physics::for_each_clip(batch, [&](int64_t b) {
    agent::write_agent_clip(cfg, level, seeds[static_cast<size_t>(b)],
                            {out.frames.data<float>() + b * T * H * W, out.actions.data<float>() + b * (T - 1) * 2,
                             out.agent.data<float>() + b * T * 4, out.balls.data<float>() + b * T * K * 2,
                             out.walls.data<int64_t>() + 4 * b, out.steered.data<int64_t>() + b});
  });
  return out;
}

// What the planner sees after each step.
struct Observation {
  Tensor frame;  // (1, H, W) f32 in [0, 1]
  Tensor state;  // (4) f32: the agent's own (x, y, vx, vy), pixels: its proprioception
};

// One planning episode. The planner reads observation(), goal() and steps_left() and calls step();
// the evaluation alone reads the rest, which holds the simulator's state.
class AgentEpisode {
 public:
  AgentEpisode(const AgentConfig& cfg, Level level, uint64_t seed)
      : cfg_(validated(cfg)), level_(level), sim_(sample(cfg, level, seed)), goal_state_(goal_for(sim_, seed)),
        goal_(render(goal_state_).frame), observation_(render(sim_)) {}

  // The planner's side.
  const Observation& observation() const { return observation_; }
  const Tensor& goal() const { return goal_; }  // (1, H, W): the goal state's image
  int64_t steps_left() const { return cfg_.episode_steps(level_) - steps_taken_; }
  // action (2), any dtype or device, clipped to [-1, 1]^2.
  const Observation& step(const Tensor& action) {
    JEPA_CHECK(action.numel() == 2, "AgentEpisode::step", "expected an action of 2 values, got shape ", action.shape());
    JEPA_CHECK(steps_left() > 0, "AgentEpisode::step", "the ", level_name(level_), " episode has used its ",
               cfg_.episode_steps(level_), " steps");
    const std::vector<double> a = action.to_vector<double>();
    sim_.step({a[0], a[1]});
    ++steps_taken_;
    if (steps_to_goal_ < 0 && success()) steps_to_goal_ = steps_taken_;
    observation_ = render(sim_);
    return observation_;
  }

  // The evaluation's side.
  Level level() const { return level_; }
  int64_t steps_taken() const { return steps_taken_; }
  // The agent's distance to its goal position, or the ball's to its goal for push.
  double distance_to_goal() const {
    if (level_ == Level::push) {
      const physics::Ball &b = sim_.balls()[0], &g = goal_state_.balls()[0];
      return std::hypot(b.x - g.x, b.y - g.y);
    }
    const agent::Point &p = sim_.position(), &g = goal_state_.position();
    return std::hypot(p[0] - g[0], p[1] - g[1]);
  }
  bool success() const { return distance_to_goal() < cfg_.success_distance; }
  int64_t steps_to_goal() const { return steps_to_goal_; }  // the first step ending in success; -1 before
  const agent::Sim& simulator() const { return sim_; }
  const agent::Sim& goal_state() const { return goal_state_; }

 private:
  static const AgentConfig& validated(const AgentConfig& cfg) {
    cfg.validate();
    return cfg;
  }

  Observation render(const agent::Sim& sim) const {
    Observation o{Tensor::empty({1, cfg_.height, cfg_.width}), Tensor::empty({4})};
    sim.render(o.frame.data<float>());
    float* state = o.state.data<float>();
    for (int i = 0; i < 2; ++i) {
      state[i] = static_cast<float>(sim.position()[i]);
      state[2 + i] = static_cast<float>(sim.velocity()[i]);
    }
    return o;
  }

  static agent::Sim sample(const AgentConfig& cfg, Level level, uint64_t seed) {
    Generator g = physics::stream(seed, agent::kEpisodeStream);
    const agent::Wall wall = level == Level::rooms ? agent::sample_wall(cfg, g) : agent::Wall{};
    return agent::sample_start(cfg, level, wall, g, seed);
  }

  // The goal state of the episode that starts at `start`: the agent at a point min_reach to
  // max_reach away (reach) or anywhere in the other room (rooms); for push, the ball min_push to
  // max_push away and the agent behind it, where a straight push would leave it.
  agent::Sim goal_for(const agent::Sim& start, uint64_t seed) const {
    Generator g = physics::stream(seed, agent::kEpisodeStream + physics::kStreamStride);
    const AgentConfig& cfg = cfg_;
    const agent::Point from = start.position();
    if (level_ == Level::reach) {
      const auto in_box = [&](const agent::Point& q) { return start.fits(q, 0); };
      const agent::Point p = agent::place_around(g, from, cfg.min_reach, cfg.max_reach, in_box, "the goal", seed);
      return {cfg, {}, p, {}};
    }
    if (level_ == Level::rooms) {
      const agent::Wall& wall = start.wall();
      const auto in = agent::room(cfg, wall, from[0] < wall.middle() ? 1 : 0);
      return {cfg, wall, agent::place(g, in[0], in[1], agent::anywhere, "the goal", seed), {}};
    }
    const physics::Ball& ball = start.balls()[0];
    const auto ball_box = agent::whole_box(cfg, cfg.push_margin());
    const auto in_ball_box = [&](const agent::Point& q) {
      return q[0] >= ball_box[0][0] && q[0] <= ball_box[1][0] && q[1] >= ball_box[0][1] && q[1] <= ball_box[1][1];
    };
    const agent::Point target =
        agent::place_around(g, {ball.x, ball.y}, cfg.min_push, cfg.max_push, in_ball_box, "the ball's goal", seed);
    const double dx = target[0] - ball.x, dy = target[1] - ball.y, length = std::hypot(dx, dy);
    const double behind = cfg.agent_radius + cfg.ball_radius + 0.5;
    const agent::Point p{target[0] - behind * dx / length, target[1] - behind * dy / length};
    return {cfg, {}, p, {agent::ball_at(cfg, target)}};
  }

  AgentConfig cfg_;
  Level level_;
  agent::Sim sim_, goal_state_;
  Tensor goal_;
  Observation observation_;
  int64_t steps_taken_ = 0, steps_to_goal_ = -1;
};

}  // namespace jepa
