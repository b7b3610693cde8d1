// Seeded synthetic physics video for V-JEPA: grey clips of 1..K balls under gravity bouncing off
// the walls and each other behind one static occluder, with per-frame ground truth, and
// "impossible" twins for the surprise test (a ball vanishes behind the occluder, teleports, or
// reverses without a collision).
//
// Invariants:
//  - A clip depends only on (config, seed, event): not on the thread count or on other clips in a
//    batch (each clip draws from its own Philox streams, keyed by its seed).
//  - The scene of a seed does not depend on the event: clips of one seed with different events are
//    bit-for-bit identical before the event frame. A scene is accepted only when every event kind
//    has a valid plan on its possible trajectory (with an occluder, that means some ball is seen
//    entering the bar, is wholly hidden at a frame of the event window and is seen again after it),
//    so every clip shows a ball passing behind the occluder.
//  - The event happens at frame e: frame e already shows its effect on the state (the ball removed,
//    moved, or its velocity negated). A vanished ball is wholly hidden at e, so its pixels differ
//    from the twin's only once the twin's ball comes out again.
//  - Ground truth of ball slot k at frame t: positions (x, y) and velocities in pixels and pixels per
//    frame as in physics_sim.hpp; zeros where the ball is not present (slots >= num_balls, or a
//    vanished ball). present and visible are 0/1 masks; visible means present and not wholly hidden.
#pragma once
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <vector>

#include <jepa/jepa.hpp>
#include <jepa/data/physics_sim.hpp>

namespace jepa {

enum class Event : uint8_t { none, vanish, teleport, reverse };

inline const char* event_name(Event e) {
  switch (e) {
    case Event::none: return "none";
    case Event::vanish: return "vanish";
    case Event::teleport: return "teleport";
    case Event::reverse: return "reverse";
  }
  return "?";
}

// Lengths and speeds are fractions of the shorter image side, so a config looks the same at any
// resolution. Time is in frames.
struct PhysicsConfig {
  int64_t frames = 16;
  int64_t height = 32, width = 32;
  int64_t min_balls = 1, max_balls = 3;  // max_balls is K, the ground truth's ball slots
  double min_radius = 0.07, max_radius = 0.12;
  double min_speed = 0.03, max_speed = 0.08;  // per frame
  double gravity = 0.003;                     // per frame squared, downwards
  int64_t substeps = 8;                       // physics steps per frame
  bool occluder = true;
  double occluder_width = 0.3;  // fraction of the width; the bar sits in the middle half
  float background = 0.0f, occluder_grey = 0.45f, min_ball_grey = 0.7f, max_ball_grey = 1.0f;

  double side() const { return static_cast<double>(std::min(height, width)); }
  int64_t occluder_columns() const { return occluder ? std::lround(occluder_width * static_cast<double>(width)) : 0; }
  // Frames where an event may happen: a quarter of the clip is kept before and after it.
  int64_t first_event_frame() const { return std::max<int64_t>(1, frames / 4); }
  int64_t last_event_frame() const { return frames - 1 - std::max<int64_t>(1, frames / 4); }

  void validate() const {
    const char* op = "PhysicsConfig";
    JEPA_CHECK(frames >= 4, op, "frames must be >= 4, got ", frames);
    JEPA_CHECK(height >= 8 && width >= 8, op, "size must be at least 8x8, got ", height, "x", width);
    JEPA_CHECK(min_balls >= 1 && min_balls <= max_balls, op, "needs 1 <= min_balls <= max_balls, got ", min_balls, " and ",
               max_balls);
    JEPA_CHECK(min_radius * side() >= 1 && min_radius <= max_radius && max_radius < 0.5, op,
               "needs 1 pixel <= min_radius <= max_radius < 0.5, got ", min_radius, " and ", max_radius, " of ", side(),
               " pixels");
    JEPA_CHECK(min_speed >= 0 && min_speed <= max_speed, op, "needs 0 <= min_speed <= max_speed, got ", min_speed, " and ",
               max_speed);
    JEPA_CHECK(gravity >= 0 && substeps >= 1, op, "needs gravity >= 0 and substeps >= 1, got ", gravity, " and ",
               substeps);
    // A single ball cannot outrun its start speed plus a fall through the whole box; two such balls
    // closing in must not pass through each other within one sub-step.
    const double top_speed = std::sqrt(std::pow(max_speed * side(), 2) + 2 * gravity * side() * static_cast<double>(height));
    JEPA_CHECK(2 * top_speed / static_cast<double>(substeps) < min_radius * side(), op, "balls may move ",
               2 * top_speed / static_cast<double>(substeps), " pixels towards each other per sub-step, more than ",
               "min_radius (", min_radius * side(), " pixels): raise substeps");
    for (float grey : {background, occluder_grey, min_ball_grey, max_ball_grey})
      JEPA_CHECK(grey >= 0 && grey <= 1, op, "grey levels must lie in [0, 1], got ", grey);
    JEPA_CHECK(min_ball_grey <= max_ball_grey, op, "needs min_ball_grey <= max_ball_grey");
    if (occluder) {
      const int64_t columns = occluder_columns();
      JEPA_CHECK(static_cast<double>(columns) >= 2 * max_radius * side() + 1 && 2 * columns <= width, op,
                 "the occluder (", columns, " columns) must be wider than the largest ball (", 2 * max_radius * side(),
                 " pixels) by a pixel and at most half the width ", width);
    }
  }
};

// One clip. K = config.max_balls.
struct Clip {
  Tensor frames;      // (1, T, H, W) f32 in [0, 1]
  Tensor positions;   // (T, K, 2) f32, (x, y) in pixels
  Tensor velocities;  // (T, K, 2) f32, pixels per frame
  Tensor radii;       // (K) f32, pixels; 0 for unused slots
  Tensor present;     // (T, K) f32 0/1
  Tensor visible;     // (T, K) f32 0/1
  int64_t num_balls = 0;
  Event event = Event::none;
  int64_t event_frame = -1, event_ball = -1;  // -1 without an event
  int64_t occluder_x0 = 0, occluder_x1 = 0;   // columns [x0, x1); equal without an occluder
};

// B clips, each as generate_clip makes it.
struct ClipBatch {
  Tensor frames;       // (B, 1, T, H, W) f32
  Tensor positions;    // (B, T, K, 2) f32
  Tensor velocities;   // (B, T, K, 2) f32
  Tensor radii;        // (B, K) f32
  Tensor present;      // (B, T, K) f32
  Tensor visible;      // (B, T, K) f32
  Tensor num_balls;    // (B) i64
  Tensor event_frame;  // (B) i64, -1 without an event
  Tensor event_ball;   // (B) i64, -1 without an event
  Tensor occluder;     // (B, 2) i64, columns [x0, x1)
  Event event = Event::none;
};

namespace physics {

// An impossible event, planned on the possible trajectory of a scene.
struct EventPlan {
  Event kind = Event::none;
  int64_t frame = -1;
  size_t ball = 0;
  double x = 0, y = 0;  // teleport target
};

// The states of a world at each frame, and per frame t > 0 which balls touched something during
// (t - 1, t].
struct Trajectory {
  std::vector<World> states;
  std::vector<std::vector<bool>> touched;
};

// Philox counter ranges of one seed: scene attempt a draws from offset a * kStreamStride, event kind
// k from kEventStreams + k * kStreamStride, so no two streams share a block.
inline constexpr uint64_t kStreamStride = uint64_t{1} << 24;
inline constexpr uint64_t kEventStreams = uint64_t{1} << 60;
// Slow balls may cross the occluder in time in only one random scene of a hundred or so.
inline constexpr int64_t kMaxSceneAttempts = 4096;

inline Generator stream(uint64_t seed, uint64_t offset) {
  Generator g(seed);
  g.set_state(seed, offset);
  return g;
}

inline double uniform(Generator& g, double lo, double hi) { return lo + (hi - lo) * g.uniform(); }

// Balls placed without overlap, random directions; empty when placement failed.
inline std::optional<World> sample_scene(const PhysicsConfig& cfg, uint64_t seed, int64_t attempt) {
  constexpr int kPlacementTries = 64;
  constexpr double kStartGap = 1.0;  // pixels between balls at frame 0
  Generator g = stream(seed, static_cast<uint64_t>(attempt) * kStreamStride);
  const double side = cfg.side(), width = static_cast<double>(cfg.width), height = static_cast<double>(cfg.height);
  Occluder occluder;
  occluder.grey = cfg.occluder_grey;
  if (cfg.occluder) {
    const int64_t columns = cfg.occluder_columns(), lowest = cfg.width / 4;
    occluder.x0 = g.randint(lowest, cfg.width - lowest - columns + 1);
    occluder.x1 = occluder.x0 + columns;
  }
  std::vector<Ball> balls;
  const int64_t count = g.randint(cfg.min_balls, cfg.max_balls + 1);
  for (int64_t k = 0; k < count; ++k) {
    Ball b;
    b.radius = uniform(g, cfg.min_radius, cfg.max_radius) * side;
    b.mass = b.radius * b.radius;  // proportional to the disc's area
    b.grey = static_cast<float>(uniform(g, cfg.min_ball_grey, cfg.max_ball_grey));
    const double angle = uniform(g, 0, 2 * M_PI), speed = uniform(g, cfg.min_speed, cfg.max_speed) * side;
    b.vx = speed * std::cos(angle);
    b.vy = speed * std::sin(angle);
    const World so_far(cfg.height, cfg.width, 0, occluder, balls);
    bool placed = false;
    for (int t = 0; t < kPlacementTries && !placed; ++t) {
      b.x = uniform(g, b.radius, width - b.radius);
      b.y = uniform(g, b.radius, height - b.radius);
      placed = so_far.fits(b.x, b.y, b.radius, balls.size(), kStartGap);
    }
    if (!placed) return std::nullopt;
    balls.push_back(b);
  }
  return World(cfg.height, cfg.width, cfg.gravity * side, occluder, std::move(balls));
}

inline Trajectory simulate(World world, const PhysicsConfig& cfg, const EventPlan* plan) {
  Trajectory traj;
  for (int64_t t = 0; t < cfg.frames; ++t) {
    traj.touched.push_back(t > 0 ? world.advance(1.0, cfg.substeps) : std::vector<bool>(world.balls().size(), false));
    if (plan && plan->frame == t) {
      switch (plan->kind) {
        case Event::vanish: world.remove(plan->ball); break;
        case Event::teleport: world.teleport(plan->ball, plan->x, plan->y); break;
        case Event::reverse: world.reverse(plan->ball); break;
        case Event::none: break;
      }
    }
    traj.states.push_back(world);
  }
  return traj;
}

// Candidate (ball, frame) pairs of the event window that satisfy `ok`.
template <class Ok>
std::vector<std::pair<size_t, int64_t>> candidates(const PhysicsConfig& cfg, const Trajectory& traj, Ok ok) {
  std::vector<std::pair<size_t, int64_t>> out;
  for (size_t k = 0; k < traj.states[0].balls().size(); ++k)
    for (int64_t e = cfg.first_event_frame(); e <= cfg.last_event_frame(); ++e)
      if (ok(k, e)) out.emplace_back(k, e);
  return out;
}

// A plan for `kind` on the possible trajectory, or none when this scene admits none. Random
// choices come from the kind's own stream of the seed.
inline std::optional<EventPlan> plan_event(const PhysicsConfig& cfg, uint64_t seed, const Trajectory& traj, Event kind) {
  Generator g = stream(seed, kEventStreams + static_cast<uint64_t>(kind) * kStreamStride);
  const auto ball = [&](int64_t t, size_t k) -> const Ball& { return traj.states[t].balls()[k]; };
  const Occluder& occluder = traj.states[0].occluder();
  std::vector<std::pair<size_t, int64_t>> options;
  if (kind == Event::vanish) {
    options = candidates(cfg, traj, [&](size_t k, int64_t e) {
      bool seen_before = false, seen_after = false;
      for (int64_t t = 0; t < e; ++t) seen_before |= occluder.clear_of(ball(t, k));
      for (int64_t t = e + 1; t < cfg.frames; ++t) seen_after |= occluder.clear_of(ball(t, k));
      return occluder.hides(ball(e, k)) && seen_before && seen_after;
    });
  } else if (kind == Event::reverse) {
    const double min_speed = std::max(cfg.min_speed * cfg.side(), 0.5);  // pixels per frame: visibly moving
    options = candidates(cfg, traj, [&](size_t k, int64_t e) {
      const Ball& b = ball(e, k);
      const bool quiet = !traj.touched[e - 1][k] && !traj.touched[e][k] && !traj.touched[e + 1][k];
      return quiet && occluder.clear_of(b) && std::hypot(b.vx, b.vy) >= min_speed;
    });
  } else if (kind == Event::teleport) {
    options = candidates(cfg, traj, [&](size_t k, int64_t e) {
      return occluder.clear_of(ball(e - 1, k)) && occluder.clear_of(ball(e, k));
    });
  }
  if (options.empty()) return std::nullopt;
  if (kind != Event::teleport) {
    const auto [k, e] = options[static_cast<size_t>(g.randint(0, static_cast<int64_t>(options.size())))];
    return EventPlan{kind, e, k};
  }
  // Teleport: a random candidate and a random target in view, far from where the ball would be.
  constexpr int kTargetTries = 256;
  constexpr double kTargetGap = 1.0;  // pixels from the other balls
  const double min_jump = 0.3 * cfg.side();
  for (int t = 0; t < kTargetTries; ++t) {
    const auto [k, e] = options[static_cast<size_t>(g.randint(0, static_cast<int64_t>(options.size())))];
    const Ball& b = ball(e, k);
    Ball moved = b;
    moved.x = uniform(g, b.radius, static_cast<double>(cfg.width) - b.radius);
    moved.y = uniform(g, b.radius, static_cast<double>(cfg.height) - b.radius);
    if (std::hypot(moved.x - b.x, moved.y - b.y) >= min_jump && occluder.clear_of(moved) &&
        traj.states[e].fits(moved.x, moved.y, b.radius, k, kTargetGap))
      return EventPlan{kind, e, k, moved.x, moved.y};
  }
  return std::nullopt;
}

// Runs write(b) for every clip b in [0, count), in parallel over clips; the first exception a clip
// throws is rethrown once all have run.
template <class Write>
void for_each_clip(int64_t count, Write write) {
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic) if (count > 1)
  for (int64_t b = 0; b < count; ++b) {
    try {
      write(b);
    } catch (...) {
#pragma omp critical(jepa_for_each_clip)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// Raw destinations of one clip inside a batch's tensors.
struct ClipOut {
  float *frames, *positions, *velocities, *radii, *present, *visible;
  int64_t *num_balls, *event_frame, *event_ball, *occluder;
};

inline void write_clip(const PhysicsConfig& cfg, uint64_t seed, Event event, const ClipOut& out) {
  std::optional<World> scene;
  Trajectory possible;
  std::optional<EventPlan> plan;
  for (int64_t attempt = 0; attempt < kMaxSceneAttempts; ++attempt) {
    scene = sample_scene(cfg, seed, attempt);
    if (!scene) continue;
    possible = simulate(*scene, cfg, nullptr);
    bool all_plans = true;
    for (Event kind : {Event::vanish, Event::teleport, Event::reverse}) {
      if (kind == Event::vanish && !cfg.occluder) continue;
      std::optional<EventPlan> p = plan_event(cfg, seed, possible, kind);
      if (kind == event) plan = p;
      all_plans = all_plans && p.has_value();
    }
    if (all_plans) break;
    scene.reset();
  }
  JEPA_CHECK(scene.has_value(), "generate_clip", "seed ", seed, ": no scene in ", kMaxSceneAttempts,
             " attempts admits every event; give the balls more room or speed, or the clip more frames");
  const Trajectory traj = event == Event::none ? std::move(possible) : simulate(*scene, cfg, &*plan);

  const int64_t frames = cfg.frames, slots = cfg.max_balls, pixels = cfg.height * cfg.width;
  const std::vector<Ball>& first = traj.states[0].balls();
  for (int64_t k = 0; k < slots; ++k) out.radii[k] = k < static_cast<int64_t>(first.size()) ? static_cast<float>(first[k].radius) : 0.0f;
  for (int64_t t = 0; t < frames; ++t) {
    const World& world = traj.states[t];
    world.render(cfg.background, out.frames + t * pixels);
    for (int64_t k = 0; k < slots; ++k) {
      const int64_t at = t * slots + k;
      const bool present = k < static_cast<int64_t>(first.size()) && world.balls()[k].present;
      const Ball b = present ? world.balls()[k] : Ball{};
      out.positions[2 * at] = present ? static_cast<float>(b.x) : 0.0f;
      out.positions[2 * at + 1] = present ? static_cast<float>(b.y) : 0.0f;
      out.velocities[2 * at] = present ? static_cast<float>(b.vx) : 0.0f;
      out.velocities[2 * at + 1] = present ? static_cast<float>(b.vy) : 0.0f;
      out.present[at] = present ? 1.0f : 0.0f;
      out.visible[at] = present && !world.occluder().hides(b) ? 1.0f : 0.0f;
    }
  }
  *out.num_balls = static_cast<int64_t>(first.size());
  *out.event_frame = plan ? plan->frame : -1;  // plans are kept only for the requested event
  *out.event_ball = plan ? static_cast<int64_t>(plan->ball) : -1;
  out.occluder[0] = traj.states[0].occluder().x0;
  out.occluder[1] = traj.states[0].occluder().x1;
}

}  // namespace physics

// Clips for the given seeds, generated in parallel over clips; clip b depends only on seeds[b].
inline ClipBatch generate_batch(const PhysicsConfig& cfg, const std::vector<uint64_t>& seeds, Event event = Event::none) {
  cfg.validate();
  JEPA_CHECK(event != Event::vanish || cfg.occluder, "generate_batch", "a vanish event needs the occluder");
  const auto batch = static_cast<int64_t>(seeds.size());
  const int64_t T = cfg.frames, K = cfg.max_balls, H = cfg.height, W = cfg.width;
  ClipBatch out;
  out.frames = Tensor::empty({batch, 1, T, H, W});
  out.positions = Tensor::empty({batch, T, K, 2});
  out.velocities = Tensor::empty({batch, T, K, 2});
  out.radii = Tensor::empty({batch, K});
  out.present = Tensor::empty({batch, T, K});
  out.visible = Tensor::empty({batch, T, K});
  out.num_balls = Tensor::empty({batch}, DType::i64);
  out.event_frame = Tensor::empty({batch}, DType::i64);
  out.event_ball = Tensor::empty({batch}, DType::i64);
  out.occluder = Tensor::empty({batch, 2}, DType::i64);
  out.event = event;
  physics::for_each_clip(batch, [&](int64_t b) {
    physics::write_clip(cfg, seeds[static_cast<size_t>(b)], event,
                        {out.frames.data<float>() + b * T * H * W, out.positions.data<float>() + b * T * K * 2,
                         out.velocities.data<float>() + b * T * K * 2, out.radii.data<float>() + b * K,
                         out.present.data<float>() + b * T * K, out.visible.data<float>() + b * T * K,
                         out.num_balls.data<int64_t>() + b, out.event_frame.data<int64_t>() + b,
                         out.event_ball.data<int64_t>() + b, out.occluder.data<int64_t>() + 2 * b});
  });
  return out;
}

// Seeds first_seed, first_seed + 1, ...
inline ClipBatch generate_batch(const PhysicsConfig& cfg, uint64_t first_seed, int64_t batch_size,
                                Event event = Event::none) {
  JEPA_CHECK(batch_size >= 0, "generate_batch", "batch_size must be >= 0, got ", batch_size);
  std::vector<uint64_t> seeds(static_cast<size_t>(batch_size));
  for (size_t b = 0; b < seeds.size(); ++b) seeds[b] = first_seed + b;
  return generate_batch(cfg, seeds, event);
}

inline Clip generate_clip(const PhysicsConfig& cfg, uint64_t seed, Event event = Event::none) {
  const ClipBatch one = generate_batch(cfg, std::vector<uint64_t>{seed}, event);
  const std::vector<int64_t> occluder = one.occluder.to_vector<int64_t>();
  return Clip{one.frames.select(0, 0),     one.positions.select(0, 0), one.velocities.select(0, 0),
              one.radii.select(0, 0),      one.present.select(0, 0),   one.visible.select(0, 0),
              static_cast<int64_t>(one.num_balls.item()), event,
              static_cast<int64_t>(one.event_frame.item()), static_cast<int64_t>(one.event_ball.item()),
              occluder[0],                 occluder[1]};
}

}  // namespace jepa
