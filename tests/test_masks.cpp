// Mask samplers (I-JEPA 2-D, V-JEPA 3-D) and training schedules: bit-exact block sizes and schedule
// values against tests/ref/*.py, mask invariants, and mask statistics against the official collators'.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <jepa/models/multiblock_mask.hpp>
#include <jepa/models/multiblock_mask3d.hpp>
#include <jepa/optim/schedules.hpp>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>

using namespace jepa;
using namespace jepa::models;

namespace {

// The non-comment lines of a file in tests/data, split into whitespace-separated fields.
std::vector<std::vector<std::string>> read_records(const std::string& name) {
  std::ifstream in(std::string(JEPA_TEST_DATA_DIR) + "/" + name);
  REQUIRE_MESSAGE(in.good(), "missing tests/data/", name);
  std::vector<std::vector<std::string>> records;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    records.emplace_back(std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>());
  }
  return records;
}

bool ascending_in_range(const std::vector<int64_t>& indices, int64_t tokens) {
  for (size_t i = 0; i < indices.size(); ++i)
    if (indices[i] < 0 || indices[i] >= tokens || (i > 0 && indices[i] <= indices[i - 1])) return false;
  return true;
}

bool disjoint(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {  // both ascending
  std::vector<int64_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  return common.empty();
}

// The I-JEPA configs of tests/ref/make_mask_reference.py, by name.
MultiBlockMaskConfig ijepa_reference_config(const std::string& name) {
  if (name == "ijepa_default") return MultiBlockMaskConfig{};
  MultiBlockMaskConfig c = MultiBlockMaskConfig::ijepa_pretrain();
  if (name == "ijepa_rect") {
    c.height = 12;
    c.width = 20;
  } else {
    REQUIRE(name == "ijepa_vith14");
  }
  return c;
}

// The V-JEPA configs of tests/ref/make_mask_reference.py, by name: one spec each.
MultiBlockMask3DConfig vjepa_reference_config(const std::string& name) {
  MultiBlockMask3DConfig c;
  if (name == "vjepa_short_224") {
    c.masks = {MaskSpec3D::short_range()};
  } else if (name == "vjepa_long_224") {
    c.masks = {MaskSpec3D::long_range()};
  } else if (name == "vjepa_long_256") {
    c.height = c.width = 16;
    c.masks = {MaskSpec3D::long_range()};
  } else {
    REQUIRE(name == "vjepa_wide");
    c.height = 12;
    c.width = 20;
    c.masks = {MaskSpec3D{{0.1, 0.9}, {0.25, 1.0}, {0.3, 3.0}, 1, 1.0, std::nullopt}};
  }
  return c;
}

// |value - expected| <= relative * |expected|: exact when expected is 0.
bool close(double value, double expected, double relative) {
  return std::abs(value - expected) <= relative * std::abs(expected);
}

std::vector<int64_t> row(const Tensor& t, int64_t b) {
  const std::vector<int64_t> all = t.to_vector<int64_t>();
  return {all.begin() + b * t.size(1), all.begin() + (b + 1) * t.size(1)};
}

}  // namespace

TEST_CASE("the torch.Generator emulation draws what torch.rand draws") {
  int checked = 0;
  for (const auto& r : read_records("mask_block_sizes.txt")) {
    if (r[0] != "rand") continue;
    models::detail::TorchCpuRand rng(std::stoull(r[1]));
    for (size_t k = 2; k < r.size(); ++k) CHECK(rng.rand() * 0x1.0p24 == std::stod(r[k]));
    ++checked;
  }
  CHECK(checked == 256);
}

TEST_CASE("block sizes match the official collators bit for bit") {
  int checked = 0;
  for (const auto& r : read_records("mask_block_sizes.txt")) {
    const uint64_t seed = std::stoull(r[2]);
    if (r[0] == "ijepa") {
      const auto sizes = MultiBlockMask(ijepa_reference_config(r[1])).block_sizes(seed);
      INFO(r[1], " seed ", seed);
      CHECK(sizes.target.height == std::stoll(r[3]));
      CHECK(sizes.target.width == std::stoll(r[4]));
      CHECK(sizes.context.height == std::stoll(r[5]));
      CHECK(sizes.context.width == std::stoll(r[6]));
      ++checked;
    } else if (r[0] == "vjepa") {
      const BlockSize3D size = MultiBlockMask3D(vjepa_reference_config(r[1])).block_size(0, seed);
      INFO(r[1], " seed ", seed);
      CHECK(size.frames == std::stoll(r[3]));
      CHECK(size.height == std::stoll(r[4]));
      CHECK(size.width == std::stoll(r[5]));
      ++checked;
    }
  }
  CHECK(checked == 7 * 256);
}

TEST_CASE("python_round rounds halves to even, like Python 3") {
  CHECK(models::detail::python_round(2.5) == 2);
  CHECK(models::detail::python_round(3.5) == 4);
  CHECK(models::detail::python_round(2.4999999999999996) == 2);
  CHECK(models::detail::python_round(2.5000000000000004) == 3);
  CHECK(models::detail::python_round(0.5) == 0);
  CHECK(models::detail::python_round(7.0) == 7);
}

TEST_CASE("I-JEPA masks: ascending, in range, targets avoided, cut to the batch minimum") {
  const MultiBlockMaskConfig config = MultiBlockMaskConfig::ijepa_pretrain();
  const MultiBlockMask sampler(config);
  const int64_t B = 8, tokens = 256;
  for (uint64_t k = 0; k < 30; ++k) {
    INFO("batch ", k);
    const MultiBlockIndices idx = sampler.sample_indices(B, k);
    const auto sizes = sampler.block_sizes(k);
    REQUIRE(idx.targets.size() == 4);
    REQUIRE(idx.context.size() == 1);
    for (int64_t b = 0; b < B; ++b) {
      for (const RaggedIndices& target : idx.targets) {
        CHECK(ascending_in_range(target[b], tokens));
        CHECK(static_cast<int64_t>(target[b].size()) == sizes.target.height * sizes.target.width);
      }
      const std::vector<int64_t>& context = idx.context[0][b];
      CHECK(ascending_in_range(context, tokens));
      CHECK(static_cast<int64_t>(context.size()) > config.min_keep);
      CHECK(static_cast<int64_t>(context.size()) <= sizes.context.height * sizes.context.width);
      // Only the constraints that were relaxed (the last ones) may be violated.
      const int64_t kept_constraints = 4 - idx.relaxations[0][b];
      for (int64_t p = 0; p < kept_constraints; ++p) CHECK(disjoint(context, idx.targets[p][b]));
    }
    const MaskBatch batch = sampler.sample(B, k);
    REQUIRE(batch.context.size() == 1);
    REQUIRE(batch.targets.size() == 4);
    int64_t shortest_context = tokens;
    for (int64_t b = 0; b < B; ++b) shortest_context = std::min<int64_t>(shortest_context, idx.context[0][b].size());
    CHECK(batch.context[0].shape() == Shape{B, shortest_context});
    CHECK(batch.context[0].dtype() == DType::i64);
    for (const Tensor& t : batch.targets) CHECK(t.shape() == Shape{B, sizes.target.height * sizes.target.width});
    for (int64_t b = 0; b < B; ++b) {
      const std::vector<int64_t> context = row(batch.context[0], b);
      CHECK(std::equal(context.begin(), context.end(), idx.context[0][b].begin()));  // a prefix: highest dropped
      for (int64_t p = 0; p < 4 - idx.relaxations[0][b]; ++p) CHECK(disjoint(context, row(batch.targets[p], b)));
    }
  }
}

TEST_CASE("I-JEPA with several context masks: all context lists share one length, all target lists another") {
  MultiBlockMaskConfig config;  // official class defaults: 14x14, scales (0.2, 0.8), aspect (0.3, 3)
  config.nenc = 2;
  config.npred = 3;
  const MultiBlockMask sampler(config);
  for (uint64_t k = 0; k < 10; ++k) {
    const MultiBlockIndices idx = sampler.sample_indices(5, k);
    size_t shortest = 196;
    for (const RaggedIndices& mask : idx.context)
      for (const auto& indices : mask) shortest = std::min(shortest, indices.size());
    const MaskBatch batch = sampler.sample(5, k);
    REQUIRE(batch.context.size() == 2);
    REQUIRE(batch.targets.size() == 3);
    for (const Tensor& t : batch.context) CHECK(t.shape() == Shape{5, static_cast<int64_t>(shortest)});
    for (const Tensor& t : batch.targets) CHECK(t.shape() == batch.targets[0].shape());
  }
}

TEST_CASE("I-JEPA masks are a pure function of (seed, batch index)") {
  MultiBlockMaskConfig config = MultiBlockMaskConfig::ijepa_pretrain();
  const MultiBlockMask sampler(config);
  const MultiBlockIndices later = sampler.sample_indices(8, 5);  // drawn before batch 3: order must not matter
  const MultiBlockIndices first = sampler.sample_indices(8, 3);
  CHECK(MultiBlockMask(config).sample_indices(8, 3).context == first.context);
  CHECK(MultiBlockMask(config).sample_indices(8, 5).targets == later.targets);
  CHECK(first.targets != later.targets);
  config.seed = 1;
  const MultiBlockIndices reseeded = MultiBlockMask(config).sample_indices(8, 3);
  CHECK(reseeded.targets != first.targets);
  CHECK(MultiBlockMask(config).block_sizes(3).target.height ==
        sampler.block_sizes(3).target.height);  // sizes ignore seed
}

TEST_CASE("I-JEPA relaxes the overlap constraint after 20 failures and still honours min_keep") {
  // Four large targets leave little room for the context: the sampler must drop constraints.
  MultiBlockMaskConfig config;
  config.height = config.width = 8;
  config.pred_mask_scale = {0.3, 0.3};
  config.enc_mask_scale = {0.5, 0.5};
  config.aspect_ratio = {1.0, 1.0};
  config.npred = 4;
  config.min_keep = 12;
  const MultiBlockMask sampler(config);
  int64_t relaxed = 0;
  for (uint64_t k = 0; k < 20; ++k) {
    const MultiBlockIndices idx = sampler.sample_indices(16, k);
    for (int64_t b = 0; b < 16; ++b) {
      relaxed += idx.relaxations[0][b];
      CHECK(static_cast<int64_t>(idx.context[0][b].size()) > config.min_keep);
      for (int64_t p = 0; p < 4 - idx.relaxations[0][b]; ++p) CHECK(disjoint(idx.context[0][b], idx.targets[p][b]));
    }
  }
  CHECK(relaxed > 0);
}

TEST_CASE("I-JEPA exclusive bounds never reach the last row or column; inclusive_bounds does") {
  MultiBlockMaskConfig config = MultiBlockMaskConfig::ijepa_pretrain();
  auto edge_hits = [&](const MultiBlockMaskConfig& c) {
    const MultiBlockMask sampler(c);
    int64_t hits = 0;
    for (uint64_t k = 0; k < 100; ++k) {
      const MultiBlockIndices idx = sampler.sample_indices(8, k);
      for (const auto* kind : {&idx.context, &idx.targets})
        for (const RaggedIndices& mask : *kind)
          for (const auto& indices : mask)
            for (int64_t i : indices) hits += (i / c.width == c.height - 1 || i % c.width == c.width - 1);
    }
    return hits;
  };
  CHECK(edge_hits(config) == 0);
  config.inclusive_bounds = true;
  CHECK(edge_hits(config) > 0);
  CHECK(MultiBlockMask(config).block_sizes(0).context.height == 16);  // a block may now span the grid
}

TEST_CASE("I-JEPA mask sizes match the official collator's statistics (ViT-H/14, B=8, 200 batches)") {
  // Official figures (spec section 3 and our runs of ijepa:src/masks/multiblock.py over 4 global
  // seeds): Kp 35..54 with mean 44.21 exactly (block sizes are seeded by the batch index), Kc
  // between 44 and 121 with means 85.96 to 87.28.
  const MultiBlockMask sampler(MultiBlockMaskConfig::ijepa_pretrain());
  int64_t kp_min = 1 << 30, kp_max = 0, kc_min = 1 << 30, kc_max = 0;
  double kp_sum = 0, kc_sum = 0;
  for (uint64_t k = 0; k < 200; ++k) {
    const MaskBatch batch = sampler.sample(8, k);
    const int64_t kp = batch.targets[0].size(1), kc = batch.context[0].size(1);
    kp_min = std::min(kp_min, kp);
    kp_max = std::max(kp_max, kp);
    kc_min = std::min(kc_min, kc);
    kc_max = std::max(kc_max, kc);
    kp_sum += static_cast<double>(kp);
    kc_sum += static_cast<double>(kc);
  }
  CHECK(kp_min == 35);
  CHECK(kp_max == 54);
  CHECK(kp_sum / 200 == doctest::Approx(44.21).epsilon(1e-12));
  MESSAGE("Kc ", kc_min, "..", kc_max, " mean ", kc_sum / 200);
  CHECK(kc_min >= 30);
  CHECK(kc_max <= 135);
  CHECK(kc_sum / 200 > 80);
  CHECK(kc_sum / 200 < 93);
}

TEST_CASE("I-JEPA configuration errors") {
  MultiBlockMaskConfig config;
  config.aspect_ratio = {2.0, 1.0};
  CHECK_THROWS_WITH_AS(MultiBlockMask{config}, "[MultiBlockMask] aspect_ratio must satisfy 0 < min <= max, got (2, 1)",
                       Error);
  config = {};
  config.npred = 0;
  CHECK_THROWS_AS(MultiBlockMask{config}, Error);
  config = {};
  config.pred_mask_scale = {0.0, 0.0};  // 0x0 targets can never keep more than min_keep: the official loops forever
  CHECK_THROWS_WITH_AS(
      MultiBlockMask(config).sample(2, 0),
      "[MultiBlockMask] batch 0 drew a 0x0 target block on the 14x14 grid; it can never keep more than "
      "min_keep = 4 tokens: raise the mask scale or lower min_keep",
      Error);
  CHECK_THROWS_AS(MultiBlockMask(MultiBlockMaskConfig{}).sample(0, 0), Error);
}

TEST_CASE("V-JEPA 3-D masks: context and target partition the clip, temporal extent, cut to the minimum") {
  const MultiBlockMask3D sampler(MultiBlockMask3DConfig{});  // 8x14x14, short- and long-range specs
  const int64_t B = 4, plane = 14 * 14, tokens = 8 * plane;
  for (uint64_t k = 0; k < 10; ++k) {
    INFO("batch ", k);
    const MultiBlock3DIndices idx = sampler.sample_indices(B, k);
    REQUIRE(idx.context.size() == 2);
    for (size_t spec = 0; spec < 2; ++spec) {
      const BlockSize3D size = sampler.block_size(spec, k);
      CHECK(size.frames == 8);  // temporal_scale 1: blocks span every frame
      for (int64_t b = 0; b < B; ++b) {
        const std::vector<int64_t>& context = idx.context[spec][b];
        const std::vector<int64_t>& targets = idx.targets[spec][b];
        CHECK(!context.empty());
        CHECK(ascending_in_range(context, tokens));
        CHECK(ascending_in_range(targets, tokens));
        CHECK(disjoint(context, targets));
        CHECK(static_cast<int64_t>(context.size() + targets.size()) == tokens);
        const auto blocks = static_cast<size_t>(sampler.config().masks[spec].num_blocks);
        CHECK(targets.size() >= static_cast<size_t>(size.frames * size.height * size.width));
        CHECK(targets.size() <= blocks * static_cast<size_t>(size.frames * size.height * size.width));
        // Blocks span all frames, so every frame has the same target pattern.
        const std::set<int64_t> target_set(targets.begin(), targets.end());
        for (int64_t i : targets) CHECK(target_set.count(i % plane + 7 * plane) == 1);
      }
    }
    const MaskBatch batch = sampler.sample(B, k);
    REQUIRE(batch.context.size() == 2);
    for (size_t spec = 0; spec < 2; ++spec) {
      size_t shortest_context = tokens, shortest_target = tokens;
      for (int64_t b = 0; b < B; ++b) {
        shortest_context = std::min(shortest_context, idx.context[spec][b].size());
        shortest_target = std::min(shortest_target, idx.targets[spec][b].size());
      }
      CHECK(batch.context[spec].shape() == Shape{B, static_cast<int64_t>(shortest_context)});
      CHECK(batch.targets[spec].shape() == Shape{B, static_cast<int64_t>(shortest_target)});
      for (int64_t b = 0; b < B; ++b) {
        const std::vector<int64_t> context = row(batch.context[spec], b), targets = row(batch.targets[spec], b);
        CHECK(std::equal(context.begin(), context.end(), idx.context[spec][b].begin()));
        CHECK(std::equal(targets.begin(), targets.end(), idx.targets[spec][b].begin()));
      }
    }
  }
}

TEST_CASE("V-JEPA 3-D: short blocks, the temporal context limit and max_keep") {
  MultiBlockMask3DConfig config;
  // One 2-frame block (temporal_scale 0.25 of 8 frames); the context may only use the first half.
  config.masks = {MaskSpec3D{{0.2, 0.2}, {0.25, 0.25}, {1.0, 1.0}, 1, 0.5, 50}};
  const MultiBlockMask3D sampler(config);
  const int64_t plane = 14 * 14;
  for (uint64_t k = 0; k < 10; ++k) {
    const BlockSize3D size = sampler.block_size(0, k);
    CHECK(size.frames == 2);
    const MultiBlock3DIndices idx = sampler.sample_indices(3, k);
    for (int64_t b = 0; b < 3; ++b) {
      std::set<int64_t> block_frames;
      int64_t in_early_frames = 0;
      for (int64_t i : idx.targets[0][b])
        if (i < 4 * plane) {
          block_frames.insert(i / plane);
          ++in_early_frames;
        }
      for (int64_t i : idx.context[0][b]) CHECK(i < 4 * plane);  // frames 4.. always belong to the target
      CHECK(static_cast<int64_t>(idx.targets[0][b].size()) - in_early_frames == 4 * plane);
      // The block's part in frames 0..3: either both of its frames, or one if it starts at frame 3 or later.
      CHECK(in_early_frames == static_cast<int64_t>(block_frames.size()) * size.height * size.width);
      if (!block_frames.empty())
        CHECK(*block_frames.rbegin() - *block_frames.begin() == int64_t(block_frames.size()) - 1);
    }
    CHECK(sampler.sample(3, k).context[0].size(1) == 50);
  }
}

TEST_CASE("V-JEPA 3-D: min_temporal_keep draws one context span per batch, every span of the range") {
  MultiBlockMask3DConfig config;
  // Blocks of 0.2 of a frame never cover one, so the context reaches the last frame it may span.
  config.masks = {MaskSpec3D{{0.2, 0.2}, {1.0, 1.0}, {1.0, 1.0}, 1, 0.75, std::nullopt, 0.25}};
  const int64_t plane = 14 * 14;
  const auto spans = [&](const MultiBlock3DIndices& idx) {
    std::set<int64_t> out;
    for (int64_t b = 0; b < 4; ++b) {
      const int64_t span = idx.context[0][b].back() / plane + 1;
      const auto later = std::count_if(idx.targets[0][b].begin(), idx.targets[0][b].end(),
                                       [&](int64_t i) { return i >= span * plane; });
      CHECK(later == (8 - span) * plane);  // every frame after the span belongs to the target
      out.insert(span);
    }
    return out;
  };
  std::set<int64_t> seen;
  for (uint64_t k = 0; k < 100; ++k) {
    const std::set<int64_t> batch = spans(MultiBlockMask3D(config).sample_indices(4, k));
    CHECK(batch.size() == 1);  // the same span for the whole batch
    seen.insert(batch.begin(), batch.end());
  }
  CHECK(seen == std::set<int64_t>{2, 3, 4, 5, 6});  // 0.25 and 0.75 of 8 frames, and all between
  config.masks[0].min_temporal_keep = 0;             // off: always max_temporal_keep
  for (uint64_t k = 0; k < 20; ++k) CHECK(spans(MultiBlockMask3D(config).sample_indices(4, k)) == std::set<int64_t>{6});
  config.masks[0].min_temporal_keep = 0.8;
  CHECK_THROWS_WITH_AS(MultiBlockMask3D{config},
                       "[MultiBlockMask3D] min_temporal_keep must be in [0, max_temporal_keep = 0.75], got 0.8", Error);
}

TEST_CASE("V-JEPA 3-D masks are a pure function of (seed, batch index), with independent specs") {
  MultiBlockMask3DConfig config;
  const MultiBlock3DIndices a = MultiBlockMask3D(config).sample_indices(4, 7);
  const MultiBlock3DIndices again = MultiBlockMask3D(config).sample_indices(4, 7);
  CHECK(a.targets == again.targets);
  CHECK(a.context == again.context);
  CHECK(MultiBlockMask3D(config).sample_indices(4, 8).targets != a.targets);
  config.seed = 99;
  CHECK(MultiBlockMask3D(config).sample_indices(4, 7).targets != a.targets);
}

TEST_CASE("V-JEPA 3-D mask sizes match the official collator's statistics (B=24, 100 batches)") {
  // Official means from jepa:src/masks/multiblock3d.py over 2 global seeds (spec section 5.4):
  // 224 px: short ctx 363-368 / tgt 751-753, long ctx 106-114 / tgt 1100-1105;
  // 256 px: short ctx 503-513 / tgt 957-966, long ctx 130-132 / tgt 1437-1442.
  struct Expect {
    int64_t grid;
    double context[2], targets[2];  // per spec
  };
  for (const Expect& e : {Expect{14, {365, 110}, {752, 1102}}, Expect{16, {508, 131}, {961, 1440}}}) {
    MultiBlockMask3DConfig config;
    config.height = config.width = e.grid;
    const MultiBlockMask3D sampler(config);
    double context[2] = {0, 0}, targets[2] = {0, 0};
    for (uint64_t k = 0; k < 100; ++k) {
      const MaskBatch batch = sampler.sample(24, k);
      for (int spec = 0; spec < 2; ++spec) {
        context[spec] += static_cast<double>(batch.context[spec].size(1)) / 100;
        targets[spec] += static_cast<double>(batch.targets[spec].size(1)) / 100;
      }
    }
    for (int spec = 0; spec < 2; ++spec) {
      MESSAGE("grid ", e.grid, " spec ", spec, ": context ", context[spec], ", targets ", targets[spec]);
      CHECK(close(context[spec], e.context[spec], 0.12));
      CHECK(close(targets[spec], e.targets[spec], 0.05));
    }
  }
}

TEST_CASE("V-JEPA 3-D configuration errors") {
  MultiBlockMask3DConfig config;
  config.masks = {MaskSpec3D{{1.0, 1.0}, {1.0, 1.0}, {1.0, 1.0}, 1, 1.0, std::nullopt}};
  CHECK_THROWS_WITH_AS(
      MultiBlockMask3D(config).sample(1, 0),
      "[MultiBlockMask3D] spec 0 drew a block covering the whole 8x14x14 grid in batch 0, which leaves "
      "no context: lower spatial_scale or temporal_scale",
      Error);
  config.masks = {MaskSpec3D{{0.2, 0.2}, {1.0, 1.5}, {1.0, 1.0}, 1, 1.0, std::nullopt}};
  CHECK_THROWS_AS(MultiBlockMask3D{config}, Error);
  config.masks.clear();
  CHECK_THROWS_AS(MultiBlockMask3D{config}, Error);
}

TEST_CASE("schedules match the official schedulers at anchor steps") {
  using namespace jepa::optim;
  struct Recipe {
    WarmupCosineSchedule lr;
    CosineWDSchedule wd;
    LinearMomentumSchedule momentum;
  };
  // The recipes of tests/ref/make_schedule_reference.py, from the official configs.
  auto pretrain = [](int64_t ipe, double epochs, double warmup, double ipe_scale, double start_lr, double lr,
                     double final_lr, double wd, double final_wd, double ema0, double ema1) {
    const int64_t total = schedule_steps(epochs, ipe, ipe_scale);
    return Recipe{{schedule_steps(warmup, ipe), total, start_lr, lr, final_lr},
                  {wd, final_wd, total},
                  {ema0, ema1, static_cast<double>(ipe) * epochs * ipe_scale}};
  };
  const std::map<std::string, Recipe> recipes = {
      {"ijepa_vith14", pretrain(625, 300, 40, 1.0, 2e-4, 1e-3, 1e-6, 0.04, 0.4, 0.996, 1.0)},
      {"vjepa_vitl16", pretrain(300, 300, 40, 1.25, 2e-4, 6.25e-4, 1e-6, 0.04, 0.4, 0.998, 1.0)},
      {"vjepa2_vitg16", pretrain(300, 800, 40, 1.25, 1e-4, 5.25e-4, 5.25e-4, 0.04, 0.04, 0.99925, 0.99925)},
      {"wd_decay", pretrain(100, 10, 1, 1.0, 0.0, 1e-3, 0.0, 0.4, 0.05, 0.9, 0.99)}};
  const WSDSchedule wsd{
      schedule_steps(15, 300), schedule_steps(15, 300), schedule_steps(315, 300), 7.5e-5, 4.25e-4, 0.0};
  const LinearDecaySchedule cooldown{5.25e-4, 1e-6, schedule_steps(40, 300, 1.25)};
  int checked = 0;
  for (const auto& r : read_records("schedule_anchors.txt")) {
    const int64_t step = std::stoll(r[1]);
    INFO(r[0], " step ", step);
    // Same formulas in the same order: agreement to the last bit or two (libm's cos may differ).
    auto same = [](double value, const std::string& expected) { CHECK(close(value, std::stod(expected), 1e-13)); };
    if (r[0] == "vjepa2_ac_wsd") {
      same(wsd(step), r[2]);
    } else if (r[0] == "vjepa2_cooldown") {
      same(cooldown(step), r[2]);
    } else {
      const Recipe& recipe = recipes.at(r[0]);
      same(recipe.lr(step), r[2]);
      same(recipe.wd(step), r[3]);
      same(recipe.momentum(step), r[4]);
    }
    ++checked;
  }
  CHECK(checked == 56);

  // The spec's anchors (section 4 and 5.5), rounded as the spec prints them.
  const Recipe& ijepa = recipes.at("ijepa_vith14");
  CHECK(close(ijepa.lr(1), 2.0003e-4, 2e-5));
  CHECK(close(ijepa.lr(106250), 5.005e-4, 1e-12));
  CHECK(close(ijepa.wd(106250), 0.2574, 2e-4));
  CHECK(close(ijepa.momentum(106250), 0.998267, 1e-6));
  CHECK(ijepa.momentum(1) == 0.996);
  const Recipe& vjepa = recipes.at("vjepa_vitl16");
  CHECK(close(vjepa.lr(90000), 7.5e-5, 1e-3));
  CHECK(close(vjepa.wd(90000), 0.366, 2e-3));
  CHECK(close(vjepa.momentum(90000), 0.9996, 1e-6));
}

TEST_CASE("schedule edge cases: step counting, clamps, the end of the momentum schedule") {
  using namespace jepa::optim;
  const WarmupCosineSchedule lr{10, 100, 0.0, 1.0, 0.1};
  CHECK_THROWS_WITH_AS(
      lr(0), "[WarmupCosineSchedule] steps count from 1 (the scheduler is stepped before the first forward), got 0",
      Error);
  CHECK(close(lr(5), 0.5, 1e-15));
  CHECK(lr(10) == 1.0);
  CHECK(close(lr(100), 0.1, 1e-15));
  CHECK(close(lr(190), 1.0, 1e-15));  // like the official one, the cosine turns back up past total_steps
  const CosineWDSchedule rising{0.04, 0.4, 100}, falling{0.4, 0.04, 100};
  CHECK(rising(100) == 0.4);
  CHECK(falling(100) == 0.04);
  CHECK(close(rising(150), 0.22, 1e-15));  // and so does wd: the clamp only stops overshoot of final_wd
  const LinearMomentumSchedule momentum{0.996, 1.0, 100};
  CHECK(momentum(1) == 0.996);
  CHECK(close(momentum(101), 1.0, 1e-15));
  CHECK_THROWS_AS(momentum(102), Error);  // the official generator is exhausted here
  CHECK(schedule_steps(300, 300, 1.25) == 112500);
  CHECK(schedule_steps(40, 625) == 25000);
}
