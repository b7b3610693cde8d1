// I-JEPA's multi-block mask sampler (ijepa:src/masks/multiblock.py, MaskCollator), producing token
// indices on a height x width patch grid (token = row * width + column).
//
// Per batch k (the official collator's shared counter, starting at 0):
//  - One target block size and one context block size for the whole batch, drawn from a
//    torch.Generator seeded with k. Each size takes a single torch.rand draw used for both the scale
//    and the aspect ratio (an official quirk kept for parity); the context aspect is fixed at 1.
//    These sizes match the official collator bit for bit.
//  - Per image: npred target rectangles, then nenc context rectangles that avoid every target
//    (unless allow_overlap). A draw is valid when it keeps more than min_keep tokens; after 20
//    invalid draws in a row the last remaining target constraint is dropped (the official
//    "decreasing acceptable-regions" relaxation), so sampling always ends.
//  - Every list is cut to the shortest of its kind over the batch (context lists together, target
//    lists together), dropping the highest indices.
// Positions: the official collator draws them from the DataLoader worker's global torch RNG, which
// cannot be reproduced; here they come from a Philox stream keyed by `seed` and reserved for batch k,
// so a batch is a pure function of (config, batch size, k), whatever the thread count or resume
// point. Their distribution matches the official one.
//
// inclusive_bounds (default false = official): the official corner draw `randint(0, grid - h)` has an
// exclusive upper bound, so blocks never touch the last row or column (ijepa PR #40, issue #60), and
// the `while h >= grid` clamp exists only to keep that bound positive. With inclusive_bounds the
// corner is drawn from [0, grid - h] and a block may span the whole grid (clamp h <= grid), which
// removes the bias; block sizes then differ from the official ones whenever the clamp bites.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <jepa/models/mask_sampling.hpp>
#include <utility>
#include <vector>

namespace jepa::models {

struct MultiBlockMaskConfig {
  // Defaults are the official MaskCollator's (224 px, patch 16).
  int64_t height = 14, width = 14;  // patch grid
  UniformRange enc_mask_scale{0.2, 0.8};
  UniformRange pred_mask_scale{0.2, 0.8};
  UniformRange aspect_ratio{0.3, 3.0};  // height / width of target blocks
  int64_t nenc = 1, npred = 2;
  int64_t min_keep = 4;  // a block is valid when it keeps MORE than this many tokens
  bool allow_overlap = false;
  bool inclusive_bounds = false;  // see the file comment
  uint64_t seed = 0;              // positions only; block sizes depend on the batch index alone

  // The mask section every official I-JEPA config shares (configs/*.yaml), on a grid x grid patch
  // grid: 16 for 224 px / patch 14 (ViT-H/14), 28 for 448 px / patch 16, 14 for 224 px / patch 16.
  static MultiBlockMaskConfig ijepa_pretrain(int64_t grid = 16) {
    return {.height = grid,
            .width = grid,
            .enc_mask_scale = {0.85, 1.0},
            .pred_mask_scale = {0.15, 0.2},
            .aspect_ratio = {0.75, 1.5},
            .nenc = 1,
            .npred = 4,
            .min_keep = 10};
  }
};

struct BlockSize {
  int64_t height, width;
};

// Masks of one batch before collation.
struct MultiBlockIndices {
  std::vector<RaggedIndices> context;             // [nenc][B][Kc_b]
  std::vector<RaggedIndices> targets;             // [npred][B][Kp_b]
  std::vector<std::vector<int64_t>> relaxations;  // [nenc][B]: target constraints that context mask dropped
};

class MultiBlockMask {
 public:
  explicit MultiBlockMask(MultiBlockMaskConfig config) : config_(config) {
    const MultiBlockMaskConfig& c = config_;
    JEPA_CHECK(c.height >= 1 && c.width >= 1, "MultiBlockMask", "grid must be at least 1x1, got ", c.height, "x",
               c.width);
    JEPA_CHECK(c.nenc >= 1 && c.npred >= 1, "MultiBlockMask", "need nenc >= 1 and npred >= 1, got nenc ", c.nenc,
               ", npred ", c.npred);
    JEPA_CHECK(c.min_keep >= 0, "MultiBlockMask", "min_keep must be >= 0, got ", c.min_keep);
    for (const UniformRange& r : {c.enc_mask_scale, c.pred_mask_scale})
      JEPA_CHECK(0 <= r.min && r.min <= r.max, "MultiBlockMask",
                 "a mask scale range must satisfy 0 <= min <= max, got (", r.min, ", ", r.max, ")");
    JEPA_CHECK(0 < c.aspect_ratio.min && c.aspect_ratio.min <= c.aspect_ratio.max, "MultiBlockMask",
               "aspect_ratio must satisfy 0 < min <= max, got (", c.aspect_ratio.min, ", ", c.aspect_ratio.max, ")");
  }

  const MultiBlockMaskConfig& config() const { return config_; }

  // The target and context block sizes of batch `batch_index` (official _sample_block_size, twice).
  struct BlockSizes {
    BlockSize target, context;
  };
  BlockSizes block_sizes(uint64_t batch_index) const {
    detail::TorchCpuRand rng(batch_index);
    const BlockSize target = block_size(rng, config_.pred_mask_scale, config_.aspect_ratio);
    const BlockSize context = block_size(rng, config_.enc_mask_scale, {1.0, 1.0});
    return {target, context};
  }

  // The masks of batch `batch_index` for `batch_size` images, before cutting to the shortest.
  MultiBlockIndices sample_indices(int64_t batch_size, uint64_t batch_index) const {
    JEPA_CHECK(batch_size >= 1, "MultiBlockMask", "batch_size must be >= 1, got ", batch_size);
    const BlockSizes sizes = block_sizes(batch_index);
    check_can_be_valid(sizes.target, "target", batch_index);
    check_can_be_valid(sizes.context, "context", batch_index);
    Generator g = detail::position_generator(config_.seed, batch_index);
    MultiBlockIndices out{std::vector<RaggedIndices>(config_.nenc, RaggedIndices(batch_size)),
                          std::vector<RaggedIndices>(config_.npred, RaggedIndices(batch_size)),
                          std::vector<std::vector<int64_t>>(config_.nenc, std::vector<int64_t>(batch_size))};
    std::vector<Rect> targets(config_.npred);
    for (int64_t b = 0; b < batch_size; ++b) {
      for (int64_t p = 0; p < config_.npred; ++p) {
        Block block = sample_block(sizes.target, {}, g);
        targets[p] = block.rect;
        out.targets[p][b] = std::move(block.kept);
      }
      const std::vector<Rect> avoid = config_.allow_overlap ? std::vector<Rect>{} : targets;
      for (int64_t e = 0; e < config_.nenc; ++e) {
        Block block = sample_block(sizes.context, avoid, g);
        out.relaxations[e][b] = block.relaxed;
        out.context[e][b] = std::move(block.kept);
      }
    }
    return out;
  }

  // context: nenc tensors (B, Kc); targets: npred tensors (B, Kp); int64 on the CPU.
  MaskBatch sample(int64_t batch_size, uint64_t batch_index) const {
    const MultiBlockIndices indices = sample_indices(batch_size, batch_index);
    return {collate_to_shortest(indices.context), collate_to_shortest(indices.targets)};
  }

 private:
  struct Rect {
    int64_t top = 0, left = 0, height = 0, width = 0;
    bool contains(int64_t row, int64_t col) const {
      return row >= top && row < top + height && col >= left && col < left + width;
    }
  };
  static constexpr int kFailuresBeforeRelaxing = 20;

  BlockSize block_size(detail::TorchCpuRand& rng, const UniformRange& scale, const UniformRange& aspect) const {
    const double r = rng.rand();  // one draw for both scale and aspect: the official quirk
    const auto max_keep =
        static_cast<int64_t>(static_cast<double>(config_.height * config_.width) * detail::python_lerp(scale, r));
    const double ar = detail::python_lerp(aspect, r);
    const int64_t limit_h = config_.inclusive_bounds ? config_.height : config_.height - 1;
    const int64_t limit_w = config_.inclusive_bounds ? config_.width : config_.width - 1;
    return {std::min(detail::python_round(std::sqrt(static_cast<double>(max_keep) * ar)), limit_h),
            std::min(detail::python_round(std::sqrt(static_cast<double>(max_keep) / ar)), limit_w)};
  }

  // The official sampler would loop forever on a block that can never keep more than min_keep.
  void check_can_be_valid(BlockSize size, const char* kind, uint64_t batch_index) const {
    JEPA_CHECK(size.height * size.width > config_.min_keep, "MultiBlockMask", "batch ", batch_index, " drew a ",
               size.height, "x", size.width, " ", kind, " block on the ", config_.height, "x", config_.width,
               " grid; it can never keep more than min_keep = ", config_.min_keep,
               " tokens: raise the mask scale or lower min_keep");
  }

  struct Block {
    std::vector<int64_t> kept;  // ascending token indices
    Rect rect;
    int64_t relaxed = 0;  // constraints of `avoid` dropped, counted from the last
  };

  // Draws rectangles until one keeps more than min_keep tokens outside the first
  // (avoid.size() - relaxed) rectangles of `avoid`.
  Block sample_block(BlockSize size, const std::vector<Rect>& avoid, Generator& g) const {
    const int64_t shift = config_.inclusive_bounds ? 1 : 0;
    Block block;
    block.rect.height = size.height;
    block.rect.width = size.width;
    for (int64_t failures = 0;;) {
      block.rect.top = g.randint(0, config_.height - size.height + shift);
      block.rect.left = g.randint(0, config_.width - size.width + shift);
      const auto active = static_cast<size_t>(std::max<int64_t>(static_cast<int64_t>(avoid.size()) - block.relaxed, 0));
      block.kept.clear();
      for (int64_t row = block.rect.top; row < block.rect.top + size.height; ++row)
        for (int64_t col = block.rect.left; col < block.rect.left + size.width; ++col) {
          bool allowed = true;
          for (size_t k = 0; k < active && allowed; ++k) allowed = !avoid[k].contains(row, col);
          if (allowed) block.kept.push_back(row * config_.width + col);
        }
      if (static_cast<int64_t>(block.kept.size()) > config_.min_keep) return block;
      if (++failures == kFailuresBeforeRelaxing) {
        ++block.relaxed;
        failures = 0;
      }
    }
  }

  MultiBlockMaskConfig config_;
};

}  // namespace jepa::models
