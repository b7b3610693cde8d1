// The mechanics and the renderer of the synthetic physics world (balls under gravity in a box,
// seen through one static occluder). The clip generator in physics_world.hpp drives it.
//
// Units: pixels and frames. x grows rightwards over [0, width], y downwards over [0, height];
// pixel (row i, column j) covers [j, j+1] x [i, i+1]. Gravity accelerates balls along +y.
// Invariants after every World::advance:
//  - every present ball lies inside the walls: radius <= x <= width - radius, same for y;
//  - present balls do not overlap: centres are at least the sum of the radii apart (up to rounding);
//  - wall bounces are exact: the time of impact is solved per axis and the velocity reflected
//    there, so free flight and wall bounces keep kinetic + potential energy;
//  - a ball-ball contact exchanges an elastic impulse along the line of centres (keeps momentum and
//    kinetic energy) and pushes the pair apart about its centre of mass (keeps sum(m*y), hence the
//    potential energy), except where that push meets a wall and the ball is clamped inside.
// Sub-stepping bounds how far balls travel between contact checks; World does not check it, the
// clip configuration does (PhysicsConfig::validate).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <jepa/core/error.hpp>

namespace jepa::physics {

struct Ball {
  double x = 0, y = 0;    // centre, pixels
  double vx = 0, vy = 0;  // pixels per frame
  double radius = 1;      // pixels
  double mass = 1;
  float grey = 1;         // rendered intensity in [0, 1]
  bool present = true;    // false once removed from the world
};

// A full-height bar over pixel columns [x0, x1), drawn in front of the balls. Its edges lie on
// pixel boundaries, so a ball it hides leaves no anti-aliased fringe.
struct Occluder {
  int64_t x0 = 0, x1 = 0;
  float grey = 0.5f;

  bool enabled() const { return x1 > x0; }
  // The whole disc is behind the bar.
  bool hides(const Ball& b) const { return enabled() && b.x - b.radius >= x0 && b.x + b.radius <= x1; }
  // No part of the disc is behind the bar.
  bool clear_of(const Ball& b) const { return !enabled() || b.x + b.radius <= x0 || b.x - b.radius >= x1; }
};

namespace detail {

// Smallest t in (0, limit] where c + v t + a t^2 / 2 = 0 (c: signed distance to a wall), or +inf.
// The quadratic is solved in the cancellation-free form; a root at t = 0 (a ball that has just
// bounced off this wall) is skipped.
inline double first_hit_time(double c, double v, double a, double limit) {
  double best = std::numeric_limits<double>::infinity();
  const auto consider = [&](double t) {
    if (t > 0 && t <= limit) best = std::min(best, t);
  };
  if (a == 0) {
    if (v != 0) consider(-c / v);
    return best;
  }
  const double discriminant = v * v - 2 * a * c;
  if (discriminant < 0) return best;
  const double q = -0.5 * (v + std::copysign(std::sqrt(discriminant), v));
  if (q != 0) {
    consider(2 * q / a);
    consider(c / q);
  }
  return best;
}

// Moves one coordinate for dt under acceleration a between walls lo and hi, reflecting the
// velocity at each time of impact. Returns whether it touched a wall.
inline bool advance_axis(double& p, double& v, double a, double lo, double hi, double dt) {
  constexpr int kMaxBounces = 8;  // more than one bounce per axis per sub-step means a tiny box
  bool touched = false;
  for (int bounce = 0; bounce <= kMaxBounces; ++bounce) {
    const double t_lo = first_hit_time(p - lo, v, a, dt), t_hi = first_hit_time(p - hi, v, a, dt);
    const double t = std::min(t_lo, t_hi);
    if (!std::isfinite(t) || bounce == kMaxBounces) break;
    p = t_lo < t_hi ? lo : hi;
    v = -(v + a * t);
    dt -= t;
    touched = true;
  }
  p += v * dt + 0.5 * a * dt * dt;
  v += a * dt;
  // Reached only when a ball rests on a wall with zero velocity or after kMaxBounces.
  if (p < lo || p > hi) {
    p = std::clamp(p, lo, hi);
    v = p == lo ? std::abs(v) : -std::abs(v);
    touched = true;
  }
  return touched;
}

// Paints a disc over out (height, width) with coverage clamp(radius + 0.5 - distance, 0, 1) per
// pixel centre: a linear ramp one pixel wide, whose sum over the plane is pi r^2 + pi/12.
inline void draw_disc(double x, double y, double radius, float grey, int64_t height, int64_t width, float* out) {
  const double reach = radius + 0.5;
  const int64_t i0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(y - reach)));
  const int64_t i1 = std::min<int64_t>(height, static_cast<int64_t>(std::ceil(y + reach)) + 1);
  const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(x - reach)));
  const int64_t j1 = std::min<int64_t>(width, static_cast<int64_t>(std::ceil(x + reach)) + 1);
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      const double dx = static_cast<double>(j) + 0.5 - x, dy = static_cast<double>(i) + 0.5 - y;
      const double coverage = std::clamp(reach - std::sqrt(dx * dx + dy * dy), 0.0, 1.0);
      float& pixel = out[i * width + j];
      pixel += (grey - pixel) * static_cast<float>(coverage);
    }
}

// One contact between overlapping discs: an elastic impulse along the line of centres if they
// approach, then a push apart to touching, split by inverse mass so the centre of mass stays put.
// Returns false, changing nothing, when they do not overlap. The masses are arguments so that a
// body nothing moves can take part: mass_a = 1, mass_b = 0 is the limit of an infinitely heavy a
// (b gets the whole impulse and the whole push).
inline bool collide(Ball& a, Ball& b, double mass_a, double mass_b) {
  const double dx = b.x - a.x, dy = b.y - a.y, reach = a.radius + b.radius;
  const double distance2 = dx * dx + dy * dy;
  if (distance2 >= reach * reach) return false;
  const double distance = std::sqrt(distance2);
  const double nx = distance > 0 ? dx / distance : 1.0, ny = distance > 0 ? dy / distance : 0.0;
  const double total_mass = mass_a + mass_b;
  const double approach = (b.vx - a.vx) * nx + (b.vy - a.vy) * ny;  // < 0: closing in
  if (approach < 0) {
    const double ka = 2 * mass_b / total_mass * approach, kb = 2 * mass_a / total_mass * approach;
    a.vx += ka * nx;
    a.vy += ka * ny;
    b.vx -= kb * nx;
    b.vy -= kb * ny;
  }
  const double overlap = reach - distance;
  const double push_a = overlap * mass_b / total_mass, push_b = overlap * mass_a / total_mass;
  a.x -= push_a * nx;
  a.y -= push_a * ny;
  b.x += push_b * nx;
  b.y += push_b * ny;
  return true;
}

}  // namespace detail

class World {
 public:
  World(int64_t height, int64_t width, double gravity, Occluder occluder, std::vector<Ball> balls)
      : height_(height), width_(width), gravity_(gravity), occluder_(occluder), balls_(std::move(balls)) {
    JEPA_CHECK(height > 0 && width > 0, "physics::World", "size must be positive, got ", height, "x", width);
    JEPA_CHECK(gravity >= 0, "physics::World", "gravity must be >= 0, got ", gravity);
    JEPA_CHECK(!occluder.enabled() || (occluder.x0 >= 0 && occluder.x1 <= width), "physics::World", "occluder columns [",
               occluder.x0, ", ", occluder.x1, ") leave the width ", width);
    for (size_t k = 0; k < balls_.size(); ++k) {
      const Ball& b = balls_[k];
      JEPA_CHECK(b.radius > 0 && b.mass > 0, "physics::World", "ball ", k, " needs a positive radius and mass, got ",
                 b.radius, " and ", b.mass);
      JEPA_CHECK(!b.present || fits(b.x, b.y, b.radius, k, 0.0), "physics::World", "ball ", k, " at (", b.x, ", ", b.y,
                 ") with radius ", b.radius, " leaves the walls or overlaps another ball");
    }
  }

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  double gravity() const { return gravity_; }
  const Occluder& occluder() const { return occluder_; }
  const std::vector<Ball>& balls() const { return balls_; }

  // Whether a ball of this radius centred at (x, y) lies inside the walls and at least `gap`
  // pixels from every present ball other than ball `ignore`.
  bool fits(double x, double y, double radius, size_t ignore, double gap) const {
    if (x < radius || x > width_ - radius || y < radius || y > height_ - radius) return false;
    for (size_t j = 0; j < balls_.size(); ++j) {
      if (j == ignore || !balls_[j].present) continue;
      const double reach = radius + balls_[j].radius + gap;
      const double dx = balls_[j].x - x, dy = balls_[j].y - y;
      if (dx * dx + dy * dy < reach * reach) return false;
    }
    return true;
  }

  // Advances `duration` frames in `substeps` equal steps. Returns, per ball, whether it touched a
  // wall or another ball meanwhile.
  std::vector<bool> advance(double duration, int64_t substeps) {
    JEPA_CHECK(duration >= 0 && substeps >= 1, "physics::World::advance", "needs duration >= 0 and substeps >= 1, got ",
               duration, " and ", substeps);
    std::vector<bool> touched(balls_.size(), false);
    const double dt = duration / static_cast<double>(substeps);
    for (int64_t s = 0; s < substeps; ++s) {
      for (size_t k = 0; k < balls_.size(); ++k) {
        Ball& b = balls_[k];
        if (!b.present) continue;
        const bool hit_x = detail::advance_axis(b.x, b.vx, 0.0, b.radius, width_ - b.radius, dt);
        const bool hit_y = detail::advance_axis(b.y, b.vy, gravity_, b.radius, height_ - b.radius, dt);
        if (hit_x || hit_y) touched[k] = true;
      }
      resolve_contacts(touched);
    }
    return touched;
  }

  // The three impossible events of the surprise test.
  void remove(size_t k) {
    check_ball(k, "physics::World::remove");
    balls_[k].present = false;
  }
  void teleport(size_t k, double x, double y) {
    check_ball(k, "physics::World::teleport");
    JEPA_CHECK(fits(x, y, balls_[k].radius, k, 0.0), "physics::World::teleport", "ball ", k, " does not fit at (", x,
               ", ", y, ")");
    balls_[k].x = x;
    balls_[k].y = y;
  }
  void reverse(size_t k) {
    check_ball(k, "physics::World::reverse");
    balls_[k].vx = -balls_[k].vx;
    balls_[k].vy = -balls_[k].vy;
  }

  // Bounces every present ball off `body` as off an infinitely heavy disc that the world does not
  // move (the agent of agent_world.hpp), pushes it out to touching, then keeps it inside the walls,
  // where a ball pinned by the body may still overlap it. Returns, per ball, whether it touched.
  std::vector<bool> shove(const Ball& body) {
    std::vector<bool> touched(balls_.size(), false);
    for (size_t k = 0; k < balls_.size(); ++k) {
      Ball pusher = body;  // collide leaves an unmovable a as it was; the copy keeps body const
      if (balls_[k].present && detail::collide(pusher, balls_[k], 1.0, 0.0)) touched[k] = true;
    }
    keep_inside_walls(touched);
    return touched;
  }

  // Multiplies every velocity by `keep` in [0, 1]: friction, for worlds seen from above.
  void damp(double keep) {
    JEPA_CHECK(keep >= 0 && keep <= 1, "physics::World::damp", "keep must lie in [0, 1], got ", keep);
    for (Ball& b : balls_) {
      b.vx *= keep;
      b.vy *= keep;
    }
  }

  double kinetic_energy() const {
    double e = 0;
    for (const Ball& b : balls_)
      if (b.present) e += 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy);
    return e;
  }
  // Height measured up from the floor.
  double potential_energy() const {
    double e = 0;
    for (const Ball& b : balls_)
      if (b.present) e += b.mass * gravity_ * (static_cast<double>(height_) - b.y);
    return e;
  }
  std::array<double, 2> momentum() const {
    std::array<double, 2> p{0, 0};
    for (const Ball& b : balls_)
      if (b.present) {
        p[0] += b.mass * b.vx;
        p[1] += b.mass * b.vy;
      }
    return p;
  }

  // Draws the frame into out (height, width), values in [0, 1]: background, then each present
  // disc (detail::draw_disc), then the occluder on top.
  void render(float background, float* out) const {
    std::fill(out, out + height_ * width_, background);
    for (const Ball& b : balls_)
      if (b.present) detail::draw_disc(b.x, b.y, b.radius, b.grey, height_, width_, out);
    if (occluder_.enabled())
      for (int64_t i = 0; i < height_; ++i)
        std::fill(out + i * width_ + occluder_.x0, out + i * width_ + occluder_.x1, occluder_.grey);
  }

 private:
  void check_ball(size_t k, const char* op) const {
    JEPA_CHECK(k < balls_.size() && balls_[k].present, op, "no present ball ", k, " among ", balls_.size());
  }

  // Overlapping pairs, each resolved by detail::collide. A few passes settle chains of contacts.
  void resolve_contacts(std::vector<bool>& touched) {
    constexpr int kMaxPasses = 4;
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      bool any_overlap = false;
      for (size_t i = 0; i < balls_.size(); ++i)
        for (size_t j = i + 1; j < balls_.size(); ++j) {
          Ball &a = balls_[i], &b = balls_[j];
          if (!a.present || !b.present) continue;
          if (!detail::collide(a, b, a.mass, b.mass)) continue;
          any_overlap = true;
          touched[i] = touched[j] = true;
        }
      if (!any_overlap) return;
      keep_inside_walls(touched);
    }
  }

  // After a push: clamp into the box and turn an outward velocity inward (an elastic bounce).
  void keep_inside_walls(std::vector<bool>& touched) {
    for (size_t k = 0; k < balls_.size(); ++k) {
      Ball& b = balls_[k];
      if (!b.present) continue;
      const auto clamp_axis = [&](double& p, double& v, double hi) {
        if (p < b.radius) {
          p = b.radius;
          v = std::abs(v);
          touched[k] = true;
        } else if (p > hi) {
          p = hi;
          v = -std::abs(v);
          touched[k] = true;
        }
      };
      clamp_axis(b.x, b.vx, width_ - b.radius);
      clamp_axis(b.y, b.vy, height_ - b.radius);
    }
  }

  int64_t height_, width_;
  double gravity_;
  Occluder occluder_;
  std::vector<Ball> balls_;
};

}  // namespace jepa::physics
