// The synthetic physics world: exact mechanics (bounces, energy, momentum), rendering, ground
// truth, determinism across thread counts, and the impossible twins of the surprise test; the
// evaluations on it (video probes, the surprise test) with a tiny V-JEPA.
#include <doctest/doctest.h>

#include <jepa/data/physics_world.hpp>
#include <jepa/models/surprise.hpp>
#include <jepa/models/video_probes.hpp>

using namespace jepa;
using physics::Ball;
using physics::Occluder;
using physics::World;

namespace {

Ball ball_at(double x, double y, double vx, double vy, double radius) {
  Ball b;
  b.x = x;
  b.y = y;
  b.vx = vx;
  b.vy = vy;
  b.radius = radius;
  b.mass = radius * radius;
  return b;
}

double energy(const World& w) { return w.kinetic_energy() + w.potential_energy(); }

std::vector<float> floats(const Tensor& t) { return t.to_vector<float>(); }

// Frame t of a clip's (1, T, H, W) frames, as host values.
std::vector<float> frame(const Clip& c, int64_t t) { return floats(c.frames.select(1, t)); }

}  // namespace

TEST_CASE("a dropped ball bounces off the floor exactly and returns to its height") {
  const double gravity = 0.25, y0 = 10, radius = 3, height = 40;
  World world(40, 40, gravity, {}, {ball_at(20, y0, 0, 0, radius)});
  const double fall = std::sqrt(2 * (height - radius - y0) / gravity);  // time to reach the floor
  world.advance(fall / 2, 3);
  CHECK(world.balls()[0].y == doctest::Approx(y0 + 0.5 * gravity * fall * fall / 4).epsilon(1e-12));
  world.advance(2 * fall - fall / 2, 7);  // through the bounce and back up to the apex
  CHECK(world.balls()[0].y == doctest::Approx(y0).epsilon(1e-12));
  CHECK(std::abs(world.balls()[0].vy) < 1e-12);
  CHECK(world.balls()[0].x == 20);
}

TEST_CASE("energy is conserved through wall bounces and collisions") {
  SUBCASE("one ball: free flight and wall bounces are exact") {
    World world(32, 32, 0.2, {}, {ball_at(7, 5, 2.3, -1.7, 3)});
    const double e0 = energy(world);
    for (int t = 0; t < 200; ++t) world.advance(1, 4);
    CHECK(energy(world) == doctest::Approx(e0).epsilon(1e-11));
  }
  SUBCASE("three balls in generated scenes") {
    PhysicsConfig cfg;
    cfg.min_balls = cfg.max_balls = 3;
    double worst = 0;
    int bounced = 0;
    for (uint64_t seed = 0; seed < 100; ++seed) {
      std::optional<World> scene = physics::sample_scene(cfg, seed, 0);
      REQUIRE(scene.has_value());
      const double e0 = energy(*scene);
      const physics::Trajectory traj = physics::simulate(*scene, cfg, nullptr);
      const World& last = traj.states.back();
      worst = std::max(worst, std::abs(energy(last) - e0) / e0);
      const auto before = scene->momentum(), after = last.momentum();
      bounced += before != after;
    }
    CHECK(bounced > 90);  // the scenes do bounce
    CHECK(worst < 1e-3);     // only a push apart against a wall moves energy
  }
}

TEST_CASE("an isolated two-ball collision conserves momentum and kinetic energy") {
  for (double offset : {0.0, 1.5, 3.9}) {  // head-on to grazing
    CAPTURE(offset);
    World world(200, 200, 0, {}, {ball_at(60, 100, 2.0, 0.1, 4), ball_at(120, 100 + offset, -1.0, 0.0, 2.5)});
    const auto p0 = world.momentum();
    const double k0 = world.kinetic_energy();
    const std::vector<bool> touched = world.advance(30, 16);
    CHECK(touched[0]);
    CHECK(touched[1]);
    const auto p1 = world.momentum();
    CHECK(p1[0] == doctest::Approx(p0[0]).epsilon(1e-12));
    CHECK(p1[1] == doctest::Approx(p0[1]).scale(1).epsilon(1e-12));
    CHECK(world.kinetic_energy() == doctest::Approx(k0).epsilon(1e-12));
    const Ball &a = world.balls()[0], &b = world.balls()[1];
    CHECK(a.vx < 2.0);  // the heavier ball was slowed down
    CHECK(std::hypot(b.x - a.x, b.y - a.y) >= a.radius + b.radius - 1e-9);
    CHECK((b.vx - a.vx) * (b.x - a.x) + (b.vy - a.vy) * (b.y - a.y) > 0);  // separating, not stuck
  }
}

TEST_CASE("balls stay inside the walls and never overlap") {
  PhysicsConfig cfg;
  cfg.max_balls = 4;
  const ClipBatch batch = generate_batch(cfg, 100, 64);
  const auto pos = floats(batch.positions), radii = floats(batch.radii), present = floats(batch.present);
  const std::vector<int64_t> counts = batch.num_balls.to_vector<int64_t>();
  const int64_t T = cfg.frames, K = cfg.max_balls;
  const float tol = 1e-4f;
  for (int64_t b = 0; b < 64; ++b) {
    CHECK(counts[b] >= cfg.min_balls);
    CHECK(counts[b] <= cfg.max_balls);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t at = (b * T + t) * K + k;
        CHECK(present[at] == (k < counts[b] ? 1.0f : 0.0f));
        if (present[at] == 0) continue;
        const float x = pos[2 * at], y = pos[2 * at + 1], r = radii[b * K + k];
        CHECK(x >= r - tol);
        CHECK(x <= cfg.width - r + tol);
        CHECK(y >= r - tol);
        CHECK(y <= cfg.height - r + tol);
        for (int64_t j = 0; j < k; ++j) {
          const int64_t other = (b * T + t) * K + j;
          const float d = std::hypot(x - pos[2 * other], y - pos[2 * other + 1]);
          CHECK(d >= r + radii[b * K + j] - tol);
        }
      }
  }
}

TEST_CASE("rendering: anti-aliased disc mass, value range, and the occluder hides") {
  const int64_t H = 40, W = 48;
  std::vector<float> img(H * W), empty(H * W);
  for (double radius : {2.3, 4.0, 7.6}) {
    CAPTURE(radius);
    Ball b = ball_at(17.3, 21.8, 0, 0, radius);
    b.grey = 0.8f;
    World(H, W, 0, {}, {b}).render(0.1f, img.data());
    double mass = 0;
    for (float v : img) {
      CHECK(v >= 0.1f - 1e-6f);
      CHECK(v <= 0.8f + 1e-6f);
      mass += (v - 0.1) / (0.8 - 0.1);
    }
    CHECK(mass == doctest::Approx(M_PI * radius * radius + M_PI / 12).epsilon(0.01));
  }
  const Occluder bar{20, 30, 0.45f};
  World(H, W, 0, bar, {}).render(0.0f, empty.data());
  World(H, W, 0, bar, {ball_at(25, 12, 0, 0, 5)}).render(0.0f, img.data());  // touches both edges
  CHECK(img == empty);
  CHECK(img[5 * W + 25] == 0.45f);
  World(H, W, 0, bar, {ball_at(18, 12, 0, 0, 5)}).render(0.0f, img.data());  // half behind
  CHECK(img != empty);
  CHECK(bar.hides(ball_at(25, 12, 0, 0, 5)));
  CHECK_FALSE(bar.hides(ball_at(18, 12, 0, 0, 5)));
  CHECK_FALSE(bar.clear_of(ball_at(18, 12, 0, 0, 5)));
  CHECK(bar.clear_of(ball_at(15, 12, 0, 0, 5)));
}

TEST_CASE("clips are deterministic and independent of the thread count and of the batch") {
  PhysicsConfig cfg;
  cfg.height = cfg.width = 64;
  const std::vector<uint64_t> seeds{5, 17, 17, 123456789, 3};
  const int threads = cpu::max_threads();
  const ClipBatch many = generate_batch(cfg, seeds, Event::teleport);
  omp_set_num_threads(1);
  const ClipBatch one = generate_batch(cfg, seeds, Event::teleport);
  omp_set_num_threads(threads);
  CHECK(floats(many.frames) == floats(one.frames));
  CHECK(floats(many.positions) == floats(one.positions));
  CHECK(floats(many.velocities) == floats(one.velocities));
  CHECK(floats(many.visible) == floats(one.visible));
  CHECK(many.event_frame.to_vector<int64_t>() == one.event_frame.to_vector<int64_t>());
  CHECK(floats(many.frames.select(0, 1)) == floats(many.frames.select(0, 2)));  // same seed twice
  CHECK(floats(many.frames.select(0, 0)) != floats(many.frames.select(0, 1)));
  const Clip alone = generate_clip(cfg, 123456789, Event::teleport);
  CHECK(floats(alone.frames) == floats(many.frames.select(0, 3)));
  CHECK(floats(alone.positions) == floats(many.positions.select(0, 3)));
  CHECK(alone.event_frame == many.event_frame.to_vector<int64_t>()[3]);
  CHECK(alone.frames.shape() == Shape{1, 16, 64, 64});
  CHECK(many.positions.shape() == Shape{5, 16, 3, 2});
  const auto values = floats(many.frames);
  CHECK(*std::min_element(values.begin(), values.end()) >= 0.0f);
  CHECK(*std::max_element(values.begin(), values.end()) <= 1.0f);
}

TEST_CASE("impossible twins equal their possible clip before the event frame and differ after") {
  PhysicsConfig cfg;
  const int64_t T = cfg.frames, K = cfg.max_balls;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const Clip possible = generate_clip(cfg, seed);
    CHECK(possible.event_frame == -1);
    for (Event kind : {Event::vanish, Event::teleport, Event::reverse}) {
      CAPTURE(seed);
      CAPTURE(event_name(kind));
      const Clip twin = generate_clip(cfg, seed, kind);
      const int64_t e = twin.event_frame;
      const auto k = twin.event_ball;
      REQUIRE(e >= cfg.first_event_frame());
      REQUIRE(e <= cfg.last_event_frame());
      REQUIRE(k >= 0);
      REQUIRE(k < twin.num_balls);
      CHECK(twin.num_balls == possible.num_balls);
      CHECK(twin.occluder_x0 == possible.occluder_x0);
      for (int64_t t = 0; t < e; ++t) CHECK(frame(twin, t) == frame(possible, t));
      CHECK(floats(twin.positions.narrow(0, 0, e)) == floats(possible.positions.narrow(0, 0, e)));
      CHECK(floats(twin.velocities.narrow(0, 0, e)) == floats(possible.velocities.narrow(0, 0, e)));
      bool pixels_differ = false;
      for (int64_t t = e; t < T; ++t) pixels_differ |= frame(twin, t) != frame(possible, t);
      CHECK(pixels_differ);
      const auto at = [&](const Tensor& field, int64_t t) { return floats(field.select(0, t).select(0, k)); };
      if (kind == Event::vanish) {
        for (int64_t t = e; t < T; ++t) CHECK(floats(twin.present)[t * K + k] == 0.0f);
        CHECK(floats(possible.present)[e * K + k] == 1.0f);
      } else if (kind == Event::teleport) {
        const auto moved = at(twin.positions, e), stayed = at(possible.positions, e);
        CHECK(std::hypot(moved[0] - stayed[0], moved[1] - stayed[1]) >= 0.3 * cfg.side());
        CHECK(frame(twin, e) != frame(possible, e));
      } else {
        const auto reversed = at(twin.velocities, e), kept = at(possible.velocities, e);
        CHECK(reversed[0] == -kept[0]);
        CHECK(reversed[1] == -kept[1]);
        CHECK(at(twin.positions, e) == at(possible.positions, e));
      }
    }
  }
}

TEST_CASE("a vanish event starts behind the occluder, and the possible ball comes out again") {
  PhysicsConfig cfg;
  cfg.max_balls = 2;
  const int64_t T = cfg.frames, K = cfg.max_balls;
  for (uint64_t seed = 100; seed < 140; ++seed) {
    CAPTURE(seed);
    const Clip possible = generate_clip(cfg, seed), vanish = generate_clip(cfg, seed, Event::vanish);
    const int64_t e = vanish.event_frame, k = vanish.event_ball;
    const auto visible = floats(possible.visible), positions = floats(possible.positions);
    const float radius = floats(possible.radii)[k];
    const float x = positions[2 * (e * K + k)];
    CHECK(visible[e * K + k] == 0.0f);  // present but wholly hidden in the possible clip
    CHECK(x - radius >= static_cast<float>(vanish.occluder_x0) - 1e-4f);
    CHECK(x + radius <= static_cast<float>(vanish.occluder_x1) + 1e-4f);
    CHECK(frame(vanish, e) == frame(possible, e));  // nothing to see yet
    bool seen_after = false;
    for (int64_t t = e + 1; t < T; ++t) seen_after |= visible[t * K + k] == 1.0f;
    CHECK(seen_after);
    for (int64_t t = e; t < T; ++t) CHECK(floats(vanish.visible)[t * K + k] == 0.0f);
  }
}

TEST_CASE("ground truth velocities match the motion between frames") {
  PhysicsConfig cfg;
  cfg.gravity = 0;
  cfg.min_balls = cfg.max_balls = 1;
  const Clip clip = generate_clip(cfg, 9);
  const auto pos = floats(clip.positions), vel = floats(clip.velocities);
  int free_flights = 0;
  for (int64_t t = 1; t < cfg.frames; ++t) {
    if (vel[2 * t] != vel[2 * (t - 1)] || vel[2 * t + 1] != vel[2 * (t - 1) + 1]) continue;  // bounced
    ++free_flights;
    CHECK(pos[2 * t] - pos[2 * (t - 1)] == doctest::Approx(vel[2 * t]).epsilon(1e-4));
    CHECK(pos[2 * t + 1] - pos[2 * (t - 1) + 1] == doctest::Approx(vel[2 * t + 1]).epsilon(1e-4));
  }
  CHECK(free_flights > cfg.frames / 2);
}

TEST_CASE("scene generation: rare scenes are found, impossible ones refused with the seed named") {
  // Slow big balls behind the occluder: about one random scene in 60 has a ball crossing it in
  // time for a vanish, and seed 52 is the first that needs more than 256 attempts.
  PhysicsConfig cfg;
  cfg.min_radius = 0.12;
  cfg.max_radius = 0.13;
  cfg.min_speed = 0.04;
  cfg.max_speed = 0.05;
  cfg.gravity = 0;
  const Clip rare = generate_clip(cfg, 52, Event::vanish);
  CHECK(rare.event_frame >= cfg.first_event_frame());
  // Balls at rest never pass behind the occluder.
  cfg.min_speed = cfg.max_speed = 0;
  CHECK_THROWS_WITH_AS(generate_clip(cfg, 5), doctest::Contains("[generate_clip] seed 5: no scene in 4096 attempts"),
                       Error);
}

TEST_CASE("physics configuration and world errors name the problem") {
  PhysicsConfig cfg;
  cfg.occluder_width = 0.1;
  CHECK_THROWS_WITH_AS(generate_clip(cfg, 0), doctest::Contains("[PhysicsConfig] the occluder (3 columns)"), Error);
  cfg = PhysicsConfig{};
  cfg.substeps = 1;
  CHECK_THROWS_WITH_AS(generate_clip(cfg, 0), doctest::Contains("raise substeps"), Error);
  cfg = PhysicsConfig{};
  cfg.occluder = false;
  CHECK_THROWS_WITH_AS(generate_clip(cfg, 0, Event::vanish), "[generate_batch] a vanish event needs the occluder", Error);
  CHECK(generate_clip(cfg, 0, Event::reverse).event_frame >= 0);
  CHECK_THROWS_WITH_AS(World(32, 32, 0, {}, {ball_at(10, 10, 0, 0, 3), ball_at(14, 10, 0, 0, 3)}),
                       doctest::Contains("leaves the walls or overlaps another ball"), Error);
  World world(32, 32, 0, {}, {ball_at(10, 10, 0, 0, 3), ball_at(20, 10, 0, 0, 3)});
  CHECK_THROWS_WITH_AS(world.teleport(0, 18, 10), "[physics::World::teleport] ball 0 does not fit at (18, 10)", Error);
  world.remove(1);
  CHECK_THROWS_WITH_AS(world.reverse(1), "[physics::World::reverse] no present ball 1 among 2", Error);
  world.teleport(0, 18, 10);  // room now that ball 1 is gone
  CHECK(world.balls()[0].x == 18);
}

namespace {

// 16-frame 16 x 16 clips, as the tool's V-JEPA tests use.
PhysicsConfig small_world() {
  PhysicsConfig world;
  world.height = world.width = 16;
  return world;
}

// An untrained one-block V-JEPA for those clips: tubelets of 2 x 4 x 4, three mask tokens.
models::VJEPAConfig tiny_vjepa() {
  models::VJEPAConfig c;
  c.encoder = models::vit_config("vit_tiny", 16, 4, 1);
  c.encoder.dim = 32;
  c.encoder.heads = 2;
  c.encoder.depth = 1;
  c.encoder.frames = 16;
  c.encoder.tubelet = 2;
  c.predictor = models::predictor_for(c.encoder, 16, 1);
  c.predictor.num_mask_tokens = 3;
  return c;
}

}  // namespace

TEST_CASE("video probes: the largest ball's last state and the ball count, scored the same every time") {
  const PhysicsConfig world = small_world();
  const models::VideoProbeClips train = models::video_probe_clips(world, 3, ClipStream::probe_train, 24);
  const models::VideoProbeClips test = models::video_probe_clips(world, 3, ClipStream::probe_test, 12);
  CHECK(train.frames.shape() == Shape{24, 1, 16, 16, 16});
  CHECK(train.position.shape() == Shape{24, 2});
  CHECK(test.count.shape() == Shape{12});
  CHECK(train.count_classes == 3);
  // Clip 5's targets, read off its own ground truth.
  const ClipBatch clip = generate_batch(world, clip_seeds(3, ClipStream::probe_train, 5, 1));
  const std::vector<float> radii = clip.radii.to_vector<float>();
  const auto largest = static_cast<int64_t>(std::max_element(radii.begin(), radii.end()) - radii.begin());
  for (int64_t d = 0; d < 2; ++d) {
    CHECK(train.position.at({5, d}) == clip.positions.at({0, 15, largest, d}));
    CHECK(train.velocity.at({5, d}) == clip.velocities.at({0, 15, largest, d}));
  }
  CHECK(train.count.at({5}) == clip.num_balls.at({0}) - 1);

  Generator gen(4);
  const models::VJEPA model(tiny_vjepa(), gen);
  const models::ProbeOptions options{2, 8, 1e-3, 0.01, 0};
  const models::VideoProbeScores a = models::evaluate_video_probes(*model.target_encoder, train, test, options);
  const models::VideoProbeScores b = models::evaluate_video_probes(*model.target_encoder, train, test, options);
  CHECK(a.position_r2 == b.position_r2);  // seeded probes
  CHECK(a.count_accuracy == b.count_accuracy);
  CHECK(a.position_r2 <= 1);
  CHECK(a.velocity_r2 <= 1);
  CHECK((0 <= a.count_accuracy && a.count_accuracy <= 1));
  std::vector<int64_t> seen(3, 0);
  for (const int64_t y : train.count.to_vector<int64_t>()) ++seen[static_cast<size_t>(y)];
  const auto majority = static_cast<int64_t>(std::max_element(seen.begin(), seen.end()) - seen.begin());
  const std::vector<int64_t> test_counts = test.count.to_vector<int64_t>();
  CHECK(a.count_majority_accuracy ==
        doctest::Approx(static_cast<double>(std::count(test_counts.begin(), test_counts.end(), majority)) / 12.0));

  PhysicsConfig more_balls = world;
  more_balls.max_balls = 4;
  CHECK_THROWS_WITH_AS(
      models::evaluate_video_probes(*model.target_encoder, train,
                                    models::video_probe_clips(more_balls, 3, ClipStream::probe_test, 4), options),
      "[evaluate_video_probes] train and test clips must come from one world, got 3 and 4 ball counts", Error);
}

TEST_CASE("surprise: twins per event kind, ball-free forecasts, and no surprise at a twin equal to its clip") {
  CHECK(models::mann_whitney_auc({3, 2}, {1, 2}) == 0.875);  // 3 > 1, 3 > 2, 2 > 1, 2 = 2 counts one half
  const PhysicsConfig world = small_world();
  const std::vector<models::SurpriseClips> clips = models::surprise_clips(world, 3, 6, 2);
  REQUIRE(clips.size() == 3);
  CHECK(clips[0].kind == Event::vanish);
  CHECK(clips[2].kind == Event::reverse);
  PhysicsConfig open = world;
  open.occluder = false;
  CHECK(models::surprise_clips(open, 3, 2, 2).front().kind == Event::teleport);  // nothing to vanish behind
  const models::SurpriseClips& teleport = clips[1];
  CHECK(teleport.impossible.shape() == Shape{6, 1, 16, 16, 16});
  const ClipBatch events = generate_batch(world, clip_seeds(3, ClipStream::surprise, 0, 6), Event::teleport);
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t steps = teleport.context_steps[static_cast<size_t>(i)], first = 2 * steps;
    CHECK(steps == static_cast<int64_t>(events.event_frame.at({i})) / 2);
    // Before the first predicted frame the ball-free clip is the possible one; from it on, every
    // frame is the same empty scene.
    const Tensor free = teleport.ball_free.select(0, i).select(0, 0), possible = teleport.possible.select(0, i).select(0, 0);
    CHECK(free.narrow(0, 0, first).to_vector<float>() == possible.narrow(0, 0, first).to_vector<float>());
    CHECK(free.select(0, first).to_vector<float>() == free.select(0, 15).to_vector<float>());
  }

  Generator gen(4);
  const models::VJEPA model(tiny_vjepa(), gen);
  const std::vector<models::EventSurprise> scores = models::evaluate_surprise(model, clips, 2, 4);
  REQUIRE(scores.size() == 3);
  for (const models::EventSurprise& s : scores) {
    CAPTURE(event_name(s.kind));
    CHECK((0 <= s.auc && s.auc <= 1 && 0 <= s.pair_accuracy && s.pair_accuracy <= 1));
    CHECK(s.twin_gap > 0);  // the event changes what comes after it
    CHECK(s.possible_error > 0);
    CHECK(s.ball_free_error > 0);
  }
  models::SurpriseClips same = teleport;
  same.impossible = same.possible;
  const models::EventSurprise none = models::evaluate_surprise(model, {same}, 2, 4).front();
  CHECK(none.auc == 0.5);  // every pair ties
  CHECK(none.pair_accuracy == 0.5);
  CHECK(none.twin_gap == 0);
  CHECK(none.possible_error == doctest::Approx(scores[1].possible_error).epsilon(1e-6));

  CHECK_THROWS_WITH_AS(models::evaluate_surprise(model, clips, 3, 4),
                       "[evaluate_surprise] mask token 3 is not one of the predictor's 3", Error);
  CHECK_THROWS_WITH_AS(models::evaluate_surprise(model, models::surprise_clips(world, 3, 2, 4), 0, 4),
                       "[evaluate_surprise] the vanish clips were cut for tubelets of 4 frames, the model's are 2",
                       Error);
}
