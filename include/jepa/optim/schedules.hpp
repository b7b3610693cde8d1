// The learning-rate, weight-decay and EMA-momentum schedules of the official JEPA training loops
// (ijepa:src/utils/schedulers.py, jepa:src/utils/schedulers.py, vjepa2:src/utils/schedulers.py and
// the momentum generators in each train.py), as pure functions of the step.
//
// Step convention, shared by all official loops: the lr and wd schedulers are stepped BEFORE each
// forward pass, so optimizer step s = 1, 2, ... uses the value of the s-th scheduler call; the EMA
// momentum generator yields its first value (ema0) for the first update. Every schedule here takes
// that s >= 1, so resuming at step s reproduces the official values exactly, with no state to save.
//
// Step counts come from the configs as the official init_opt computes them (see schedule_steps):
// V-JEPA's ipe_scale 1.25 stretches the horizon past the last step, truncating the cosine.
// The constant schedules of V-JEPA 2 are special cases: lr WarmupCosineSchedule with
// final_lr == ref_lr, CosineWDSchedule with final_wd == ref_wd, LinearMomentumSchedule with
// start == end.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <jepa/core/error.hpp>
#include <numbers>

namespace jepa::optim {

// int(ipe_scale * epochs * iterations_per_epoch), the official step count of a span of epochs
// (warmup: schedule_steps(warmup_epochs, ipe); horizon: schedule_steps(epochs, ipe, ipe_scale)).
inline int64_t schedule_steps(double epochs, int64_t iterations_per_epoch, double ipe_scale = 1.0) {
  JEPA_CHECK(epochs >= 0 && iterations_per_epoch >= 0 && ipe_scale >= 0, "schedule_steps",
             "epochs, iterations_per_epoch and ipe_scale must be >= 0, got ", epochs, ", ", iterations_per_epoch, ", ",
             ipe_scale);
  return static_cast<int64_t>(ipe_scale * epochs * static_cast<double>(iterations_per_epoch));
}

namespace detail {
inline void check_step(const char* schedule, int64_t step) {
  JEPA_CHECK(step >= 1, schedule, "steps count from 1 (the scheduler is stepped before the first forward), got ", step);
}
inline double half_cosine(double progress) { return 0.5 * (1.0 + std::cos(std::numbers::pi * progress)); }
}  // namespace detail

// Linear warmup from start_lr to ref_lr over warmup_steps, then a cosine from ref_lr down to
// final_lr reached at total_steps (never below final_lr). I-JEPA, V-JEPA, V-JEPA 2 pretraining.
struct WarmupCosineSchedule {
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;  // T_max, including the warmup
  double start_lr = 0, ref_lr = 0, final_lr = 0;

  double operator()(int64_t step) const {
    detail::check_step("WarmupCosineSchedule", step);
    const auto s = static_cast<double>(step);
    if (step < warmup_steps)
      return start_lr + s / static_cast<double>(std::max<int64_t>(1, warmup_steps)) * (ref_lr - start_lr);
    const double progress =
        (s - static_cast<double>(warmup_steps)) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    return std::max(final_lr, final_lr + (ref_lr - final_lr) * detail::half_cosine(progress));
  }
};

// Cosine from ref_wd at step 0 to final_wd at total_steps, clamped so it never passes final_wd
// (max when decaying, min when rising: the JEPA configs raise wd from 0.04 to 0.4).
struct CosineWDSchedule {
  double ref_wd = 0, final_wd = 0;
  int64_t total_steps = 1;

  double operator()(int64_t step) const {
    detail::check_step("CosineWDSchedule", step);
    JEPA_CHECK(total_steps >= 1, "CosineWDSchedule", "total_steps must be >= 1, got ", total_steps);
    const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
    const double wd = final_wd + (ref_wd - final_wd) * detail::half_cosine(progress);
    return final_wd <= ref_wd ? std::max(final_wd, wd) : std::min(final_wd, wd);
  }
};

// EMA momentum rising linearly from `start` (first update) by (end - start) / horizon per update.
// horizon is the official float ipe * epochs * ipe_scale; like the official generator, the schedule
// has int(horizon) + 1 values, and asking past them is an error rather than a momentum beyond `end`.
struct LinearMomentumSchedule {
  double start = 0.996, end = 1.0;
  double horizon = 1;

  double operator()(int64_t step) const {
    detail::check_step("LinearMomentumSchedule", step);
    JEPA_CHECK(horizon > 0, "LinearMomentumSchedule", "horizon must be > 0, got ", horizon);
    const int64_t last = static_cast<int64_t>(horizon) + 1;
    JEPA_CHECK(step <= last, "LinearMomentumSchedule", "step ", step, " is past the schedule's ", last,
               " values (horizon ", horizon, ")");
    return start + static_cast<double>(step - 1) * (end - start) / horizon;
  }
};

// Warmup-stable-decay (V-JEPA 2-AC): linear warmup from start_lr to ref_lr over warmup_steps,
// ref_lr until the last anneal_steps of total_steps, then linear to final_lr at total_steps.
struct WSDSchedule {
  int64_t warmup_steps = 0, anneal_steps = 0;
  int64_t total_steps = 1;  // T_max, including warmup and anneal
  double start_lr = 0, ref_lr = 0, final_lr = 0;

  double operator()(int64_t step) const {
    detail::check_step("WSDSchedule", step);
    const auto s = static_cast<double>(step);
    const int64_t anneal_start = total_steps - anneal_steps;
    if (step < warmup_steps)
      return start_lr + s / static_cast<double>(std::max<int64_t>(1, warmup_steps)) * (ref_lr - start_lr);
    if (step < anneal_start) return ref_lr;
    const double progress =
        (s - static_cast<double>(anneal_start)) / static_cast<double>(std::max<int64_t>(1, anneal_steps));
    return ref_lr + progress * (final_lr - ref_lr);
  }
};

// Linear from ref_lr toward final_lr, reaching it at total_steps (V-JEPA 2 cooldown, is_anneal).
struct LinearDecaySchedule {
  double ref_lr = 0, final_lr = 0;
  int64_t total_steps = 1;

  double operator()(int64_t step) const {
    detail::check_step("LinearDecaySchedule", step);
    const double progress = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total_steps));
    return ref_lr + progress * (final_lr - ref_lr);
  }
};

}  // namespace jepa::optim
