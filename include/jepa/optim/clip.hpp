// Gradient clipping by global L2 norm over a set of flat gradient buffers (torch's
// clip_grad_norm_): scale every gradient by max_norm / (norm + 1e-6) when the norm exceeds
// max_norm. Returns the norm before clipping.
#pragma once
#include <cmath>
#include <memory>

#include <jepa/optim/flat_params.hpp>

namespace jepa::optim {

inline double clip_grad_norm(const std::vector<std::shared_ptr<FlatParameters>>& buffers, double max_norm) {
  NoGrad no_grad;
  double sq = 0;
  for (const auto& b : buffers) sq += sum(mul(b->grads(), b->grads())).item();
  const double norm = std::sqrt(sq);
  if (norm > max_norm)
    for (const auto& b : buffers) Tensor(b->grads()).mul_(max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace jepa::optim
