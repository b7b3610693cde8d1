// The physics-world clips V-JEPA runs train and are evaluated on. The datasets are virtual:
// clip i of a stream is generate_batch's clip for the seed derive_seed(derive_seed(run seed,
// stream), i), so any clip is made on demand, anywhere, identically, and the training, probe and
// surprise clips never share a seed. Frames are normalized with the pixel mean and standard
// deviation of the first training clips, computed the same way for training and evaluation.
#pragma once
#include <cmath>
#include <vector>

#include <jepa/data/loader.hpp>
#include <jepa/data/physics_world.hpp>

namespace jepa {

enum class ClipStream : uint64_t { train = 1, probe_train = 2, probe_test = 3, surprise = 4 };

inline std::vector<uint64_t> clip_seeds(uint64_t run_seed, ClipStream stream, const std::vector<int64_t>& indices) {
  const uint64_t base = derive_seed(run_seed, static_cast<uint64_t>(stream));
  std::vector<uint64_t> seeds;
  seeds.reserve(indices.size());
  for (const int64_t i : indices) seeds.push_back(derive_seed(base, static_cast<uint64_t>(i)));
  return seeds;
}

// Clips first, first + 1, ... of a stream.
inline std::vector<uint64_t> clip_seeds(uint64_t run_seed, ClipStream stream, int64_t first, int64_t count) {
  std::vector<int64_t> indices(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = first + i;
  return clip_seeds(run_seed, stream, indices);
}

struct PixelStats {
  double mean = 0, std = 1;
};

inline PixelStats pixel_stats(const PhysicsConfig& world, uint64_t run_seed) {
  constexpr int64_t kClips = 256;
  NoGrad no_grad;
  const Tensor frames = generate_batch(world, clip_seeds(run_seed, ClipStream::train, 0, kClips)).frames;
  const double m = mean(frames).item();
  return {m, std::sqrt(mean(pow(frames - m, 2.0)).item())};
}

// (B, 1, T, H, W) frames in [0, 1] -> zero mean, unit variance over the training clips.
inline Tensor normalize_clips(const Tensor& frames, const PixelStats& stats) { return (frames - stats.mean) / stats.std; }

}  // namespace jepa
