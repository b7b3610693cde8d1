// What the 2-D and 3-D multi-block mask samplers share: the emulation of the official collators'
// torch.Generator, Python's rounding, the per-batch position stream, and the collation of ragged
// index lists into [B, K] tensors.
// Invariants:
//  - TorchCpuRand(seed).rand() returns exactly what torch.rand(1, generator=g).item() returns after
//    g.manual_seed(seed) on a CPU generator (torch 1.13, checked by tests/ref/make_mask_reference.py):
//    a std::mt19937 seeded with the low 32 bits, each draw (u32 & 0xFFFFFF) * 2^-24.
//  - Block sizes are computed in double in Python's evaluation order, so they match bit for bit.
//  - Index lists are ascending (as torch.nonzero gives them); collation cuts every list to the
//    shortest, which drops the highest indices, as the official `idx[:min_keep]` does.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <jepa/jepa.hpp>
#include <limits>
#include <random>
#include <vector>

namespace jepa::models {

// A closed interval [min, max] that a scale or aspect ratio is drawn from uniformly.
struct UniformRange {
  double min;
  double max;
};

// The token indices of one mask for each image of a batch: [B][K_b], ascending, K_b may differ.
using RaggedIndices = std::vector<std::vector<int64_t>>;

// Masks ready for the model: int64 index tensors on the CPU, one [B, K] tensor per mask.
struct MaskBatch {
  std::vector<Tensor> context;  // each (B, Kc): tokens the context encoder sees
  std::vector<Tensor> targets;  // each (B, Kp): tokens the predictor must predict
};

namespace detail {

// A CPU torch.Generator after manual_seed(seed), as far as torch.rand(1) draws go.
class TorchCpuRand {
 public:
  explicit TorchCpuRand(uint64_t seed) : engine_(static_cast<uint32_t>(seed)) {}
  // torch.rand(1, generator=g).item(): a float32 in [0, 1) with 24 random bits, widened to double.
  double rand() { return static_cast<double>(engine_() & 0xFFFFFFu) * 0x1.0p-24; }

 private:
  std::mt19937 engine_;
};

// Python's `range.min + r * (range.max - range.min)`. The product is rounded to double before the
// sum, as Python does; without the volatile a compiler may contract the two into one FMA
// (-ffp-contract with an FMA target) and change the last bit, which can move int() by one.
inline double python_lerp(const UniformRange& range, double r) {
  volatile double scaled = r * (range.max - range.min);
  return range.min + scaled;
}

// Python 3's round(x) for x >= 0: halves go to the even neighbour.
inline int64_t python_round(double x) {
  const double floor = std::floor(x), fraction = x - floor;
  double rounded = fraction > 0.5 ? floor + 1 : floor;
  if (fraction == 0.5) rounded = std::fmod(floor, 2.0) == 0 ? floor : floor + 1;
  return static_cast<int64_t>(rounded);
}

// The positions of batch `batch_index` come from its own window of 2^32 Philox blocks, so a batch
// never depends on how many draws earlier batches used (rejection loops vary) and resuming at any
// batch reproduces it. `stream` separates independent samplers sharing a seed and batch.
inline Generator position_generator(uint64_t seed, uint64_t batch_index, uint64_t stream = 0, uint64_t streams = 1) {
  Generator g;
  g.set_state(seed, (batch_index * streams + stream) << 32);
  return g;
}

}  // namespace detail

// Cuts every list of every mask to the shortest list among all of them (and to at most `limit`),
// then stacks each mask into a (B, K) int64 tensor.
inline std::vector<Tensor> collate_to_shortest(const std::vector<RaggedIndices>& masks,
                                               int64_t limit = std::numeric_limits<int64_t>::max()) {
  int64_t keep = limit;
  for (const RaggedIndices& mask : masks)
    for (const std::vector<int64_t>& indices : mask) keep = std::min(keep, static_cast<int64_t>(indices.size()));
  std::vector<Tensor> out;
  out.reserve(masks.size());
  for (const RaggedIndices& mask : masks) {
    const auto batch = static_cast<int64_t>(mask.size());
    std::vector<int64_t> stacked;  // (B, keep) row-major
    stacked.reserve(static_cast<size_t>(batch * keep));
    for (const std::vector<int64_t>& indices : mask)
      stacked.insert(stacked.end(), indices.begin(), indices.begin() + keep);
    out.push_back(from_vector(stacked, {batch, keep}));
  }
  return out;
}

}  // namespace jepa::models
