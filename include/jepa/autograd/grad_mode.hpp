// Whether ops record the graph. Off inside NoGrad scopes (inference, EMA, evaluation) and during
// backward itself (no double backward).
#pragma once

namespace jepa {

inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool grad_enabled() { return grad_mode_flag(); }

// RAII guard: no op records a graph while it lives.
class NoGrad {
 public:
  NoGrad() : previous_(grad_mode_flag()) { grad_mode_flag() = false; }
  ~NoGrad() { grad_mode_flag() = previous_; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace jepa
