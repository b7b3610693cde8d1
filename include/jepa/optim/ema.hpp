// Exponential moving average of parameters, the JEPA target-encoder update:
//   target = momentum * target + (1 - momentum) * online, one fused pass over flat buffers whose
// layouts match (the same module architecture packed in the same order).
#pragma once
#include <jepa/backends/cpu/optim.hpp>
#include <jepa/optim/flat_params.hpp>

namespace jepa::optim {

inline void ema_update(const FlatParameters& target, const FlatParameters& online, double momentum) {
  JEPA_CHECK(target.numel() == online.numel() && target.values().dtype() == online.values().dtype() &&
                 target.values().device() == online.values().device(),
             "ema_update", "target buffer (", target.numel(), " ", target.values().dtype(), " on ",
             target.values().device(), ") does not match online buffer (", online.numel(), " ",
             online.values().dtype(), " on ", online.values().device(), ")");
  NoGrad no_grad;
  const Tensor& t = target.values();
  const Tensor& o = online.values();
  dispatch_float(t.dtype(), "ema_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    JEPA_ON_DEVICE(t.device(), cpu::ema(t.data<T>(), o.data<T>(), t.numel(), momentum),
                   gpu::ema(t, o, momentum));
  });
}

}  // namespace jepa::optim
