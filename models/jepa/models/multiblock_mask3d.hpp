// V-JEPA's 3-D multi-block mask sampler (jepa:src/masks/multiblock3d.py; unchanged in
// vjepa2:src/masks/multiseq_multiblock3d.py with its default flags), producing token indices on a
// frames x height x width tubelet grid (token = t * height * width + row * width + column).
//
// For each mask spec (one entry of the config's `mask:` list) and batch k:
//  - One block size (t, h, w) for the whole batch from a torch.Generator seeded with k (each spec's
//    official generator has its own counter, so every spec sees seed k): three independent
//    torch.rand draws for the temporal scale, the spatial scale and the aspect ratio. These sizes
//    match the official sampler bit for bit.
//  - Per image: num_blocks blocks with corners drawn from inclusive bounds; the target is the union
//    of the blocks (plus every frame at or after max_temporal_keep * frames), the context is the
//    complement. An image whose context comes out empty is drawn again.
//  - The spec's target lists are cut to their shortest over the batch, its context lists likewise
//    (and to max_keep if set), dropping the highest indices.
// Positions: the official sampler draws them from the worker's global torch RNG; here they come from
// a Philox stream keyed by `seed` and reserved for (batch k, spec), so a batch is a pure function of
// (config, batch size, k). Their distribution matches the official one.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <jepa/models/mask_sampling.hpp>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace jepa::models {

// One entry of the official `mask:` config list.
struct MaskSpec3D {
  UniformRange spatial_scale{0.2, 0.8};
  UniformRange temporal_scale{1.0, 1.0};
  UniformRange aspect_ratio{0.3, 3.0};
  int64_t num_blocks = 1;
  double max_temporal_keep = 1.0;   // the context spans at most this fraction of the frames
  std::optional<int64_t> max_keep;  // cap on context tokens
  // Not official: > 0 draws the context's span per batch, from this fraction of the frames up to
  // max_temporal_keep, so that a forecasting mask trains every context length a test may ask for.
  double min_temporal_keep = 0;

  // The two specs of every V-JEPA and V-JEPA 2 pretraining config.
  static MaskSpec3D short_range() { return {{0.15, 0.15}, {1.0, 1.0}, {0.75, 1.5}, 8, 1.0, std::nullopt}; }
  static MaskSpec3D long_range() { return {{0.7, 0.7}, {1.0, 1.0}, {0.75, 1.5}, 2, 1.0, std::nullopt}; }
};

struct MultiBlockMask3DConfig {
  // Defaults: 16 frames with tubelet 2, 224 px with patch 16, the official pair of specs.
  int64_t frames = 8, height = 14, width = 14;  // token grid: num_frames / tubelet, crop / patch
  std::vector<MaskSpec3D> masks{MaskSpec3D::short_range(), MaskSpec3D::long_range()};
  uint64_t seed = 0;  // positions only; block sizes depend on the batch index alone
};

struct BlockSize3D {
  int64_t frames, height, width;
};

// The masks of one batch before collation, one entry per spec.
struct MultiBlock3DIndices {
  std::vector<RaggedIndices> context;  // [spec][B][Kc_b]
  std::vector<RaggedIndices> targets;  // [spec][B][Kp_b]
};

class MultiBlockMask3D {
 public:
  explicit MultiBlockMask3D(MultiBlockMask3DConfig config) : config_(std::move(config)) {
    const MultiBlockMask3DConfig& c = config_;
    JEPA_CHECK(c.frames >= 1 && c.height >= 1 && c.width >= 1, "MultiBlockMask3D", "grid must be at least 1x1x1, got ",
               c.frames, "x", c.height, "x", c.width);
    JEPA_CHECK(!c.masks.empty(), "MultiBlockMask3D", "needs at least one mask spec");
    for (const MaskSpec3D& m : c.masks) {
      for (const UniformRange& r : {m.spatial_scale, m.temporal_scale})
        JEPA_CHECK(0 <= r.min && r.min <= r.max, "MultiBlockMask3D",
                   "a mask scale range must satisfy 0 <= min <= max, got (", r.min, ", ", r.max, ")");
      JEPA_CHECK(0 < m.aspect_ratio.min && m.aspect_ratio.min <= m.aspect_ratio.max, "MultiBlockMask3D",
                 "aspect_ratio must satisfy 0 < min <= max, got (", m.aspect_ratio.min, ", ", m.aspect_ratio.max, ")");
      JEPA_CHECK(m.temporal_scale.max <= 1, "MultiBlockMask3D", "temporal_scale must not exceed 1, got (",
                 m.temporal_scale.min, ", ", m.temporal_scale.max, ")");
      JEPA_CHECK(m.num_blocks >= 1, "MultiBlockMask3D", "num_blocks must be >= 1, got ", m.num_blocks);
      JEPA_CHECK(m.max_temporal_keep > 0, "MultiBlockMask3D", "max_temporal_keep must be > 0, got ",
                 m.max_temporal_keep);
      JEPA_CHECK(m.min_temporal_keep >= 0 && m.min_temporal_keep <= m.max_temporal_keep, "MultiBlockMask3D",
                 "min_temporal_keep must be in [0, max_temporal_keep = ", m.max_temporal_keep, "], got ",
                 m.min_temporal_keep);
      JEPA_CHECK(!m.max_keep || *m.max_keep >= 1, "MultiBlockMask3D", "max_keep must be >= 1, got ",
                 m.max_keep.value_or(0));
    }
  }

  const MultiBlockMask3DConfig& config() const { return config_; }

  // The block size of spec `spec` in batch `batch_index` (official _sample_block_size).
  BlockSize3D block_size(size_t spec, uint64_t batch_index) const {
    const MaskSpec3D& m = config_.masks.at(spec);
    detail::TorchCpuRand rng(batch_index);
    const double temporal = detail::python_lerp(m.temporal_scale, rng.rand());
    const int64_t t = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(config_.frames) * temporal));
    const double spatial = detail::python_lerp(m.spatial_scale, rng.rand());
    const auto keep =
        static_cast<double>(static_cast<int64_t>(static_cast<double>(config_.height * config_.width) * spatial));
    const double ar = detail::python_lerp(m.aspect_ratio, rng.rand());
    return {t, std::min(detail::python_round(std::sqrt(keep * ar)), config_.height),
            std::min(detail::python_round(std::sqrt(keep / ar)), config_.width)};
  }

  // The masks of batch `batch_index` for `batch_size` clips, before cutting to the shortest.
  MultiBlock3DIndices sample_indices(int64_t batch_size, uint64_t batch_index) const {
    JEPA_CHECK(batch_size >= 1, "MultiBlockMask3D", "batch_size must be >= 1, got ", batch_size);
    MultiBlock3DIndices out;
    for (size_t spec = 0; spec < config_.masks.size(); ++spec) {
      const BlockSize3D size = block_size(spec, batch_index);
      check_size(size, spec, batch_index);
      Generator g = detail::position_generator(config_.seed, batch_index, spec, config_.masks.size());
      const int64_t context_frames = context_span(config_.masks[spec], g);
      RaggedIndices context(batch_size), targets(batch_size);
      for (int64_t b = 0; b < batch_size; ++b)
        while (context[b].empty()) sample_clip(config_.masks[spec], size, context_frames, g, context[b], targets[b]);
      out.context.push_back(std::move(context));
      out.targets.push_back(std::move(targets));
    }
    return out;
  }

  // context and targets: one (B, K) int64 CPU tensor per spec, in spec order.
  MaskBatch sample(int64_t batch_size, uint64_t batch_index) const {
    const MultiBlock3DIndices indices = sample_indices(batch_size, batch_index);
    MaskBatch out;
    for (size_t spec = 0; spec < config_.masks.size(); ++spec) {
      const int64_t limit = config_.masks[spec].max_keep.value_or(std::numeric_limits<int64_t>::max());
      out.context.push_back(collate_to_shortest({indices.context[spec]}, limit).front());
      out.targets.push_back(collate_to_shortest({indices.targets[spec]}).front());
    }
    return out;
  }

 private:
  // An empty block predicts nothing; a block covering the grid leaves no context, and the official
  // sampler would redraw it forever.
  void check_size(BlockSize3D size, size_t spec, uint64_t batch_index) const {
    JEPA_CHECK(size.height >= 1 && size.width >= 1, "MultiBlockMask3D", "spec ", spec, " drew an empty ", size.frames,
               "x", size.height, "x", size.width, " block in batch ", batch_index, ": raise spatial_scale");
    JEPA_CHECK(size.frames < config_.frames || size.height < config_.height || size.width < config_.width,
               "MultiBlockMask3D", "spec ", spec, " drew a block covering the whole ", config_.frames, "x",
               config_.height, "x", config_.width, " grid in batch ", batch_index,
               ", which leaves no context: lower spatial_scale or temporal_scale");
  }

  // The frames the context may span in one batch: max_temporal_keep of them, or a number drawn
  // uniformly from min_temporal_keep's to max_temporal_keep's (the same for every clip, since
  // collation cuts a batch's context lists to the shortest).
  int64_t context_span(const MaskSpec3D& spec, Generator& g) const {
    const auto frames_of = [&](double fraction) {
      return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(config_.frames) * fraction));
    };
    const int64_t most = frames_of(spec.max_temporal_keep);
    return spec.min_temporal_keep > 0 ? g.randint(frames_of(spec.min_temporal_keep), most + 1) : most;
  }

  // One draw of the clip's blocks: the union goes to `targets`, the rest to `context`.
  void sample_clip(const MaskSpec3D& spec, BlockSize3D size, int64_t context_frames, Generator& g,
                   std::vector<int64_t>& context, std::vector<int64_t>& targets) const {
    const int64_t plane = config_.height * config_.width;
    std::vector<uint8_t> in_target(static_cast<size_t>(config_.frames * plane), 0);  // (T, H, W)
    if (context_frames < config_.frames) std::fill(in_target.begin() + context_frames * plane, in_target.end(), 1);
    for (int64_t n = 0; n < spec.num_blocks; ++n) {
      const int64_t top = g.randint(0, config_.height - size.height + 1);
      const int64_t left = g.randint(0, config_.width - size.width + 1);
      const int64_t start = g.randint(0, config_.frames - size.frames + 1);
      for (int64_t t = start; t < start + size.frames; ++t)
        for (int64_t row = top; row < top + size.height; ++row)
          std::fill_n(in_target.begin() + t * plane + row * config_.width + left, size.width, 1);
    }
    context.clear();
    targets.clear();
    for (int64_t i = 0; i < static_cast<int64_t>(in_target.size()); ++i)
      (in_target[i] ? targets : context).push_back(i);
  }

  MultiBlockMask3DConfig config_;
};

}  // namespace jepa::models
