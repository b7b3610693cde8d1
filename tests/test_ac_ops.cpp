// The two ops the V-JEPA 2-AC predictor adds: RoPE (jepa::rope) against PyTorch's
// re-implementation of the official rotation (tests/ref/make_rope_reference.py, data in
// tests/data/ac/), a hand-computed case of the tiled frequencies, the composite reference and a
// gradcheck; and block-causal masked fused attention against the composite with a materialised
// -inf mask, forward and backward, on every SIMD path, with block sizes across the kernel's tiles,
// plus a gradcheck and the causality itself.
#include <doctest/doctest.h>

#include <cmath>
#include <jepa/io/safetensors.hpp>
#include <jepa/jepa.hpp>

#include "kernel_checks.hpp"
#include "test_files.hpp"

using namespace jepa;
using namespace jepa::test;

namespace {

// (B, H, N, dh) head views of one packed (B, N, 3, H, dh) projection, as the predictor makes them.
Tensor packed_heads(const Tensor& packed, int64_t which) { return packed.permute({2, 0, 3, 1, 4}).select(0, which); }

// (N, 3) positions of frame tokens on a T x H x W grid: (t, row * grid / H, col * grid / W).
Tensor frame_positions(int64_t T, int64_t H, int64_t W, double grid) {
  std::vector<double> pos;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c) pos.insert(pos.end(), {double(t), r * grid / H, c * grid / W});
  return from_vector(pos, {T * H * W, 3});
}

Tensor rope_fused(const Tensor& x, const Tensor& positions, int64_t section) { return rope(x, positions, section); }

}  // namespace

TEST_CASE("rope equals PyTorch's V-JEPA 2-AC rotation: frames, context subsets, conditioning tokens") {
  const SafeTensors ref = load_safetensors(data_path("ac/rope.safetensors"));
  const std::vector<std::string> cases = {"frames_dh22", "frames_dh64", "context_dh22", "cond_dh22"};
  REQUIRE(ref.tensors.size() == 5 * cases.size());
  for (const std::string& name : cases) {
    CAPTURE(name);
    const Tensor& x64 = ref.at(name + ".x");
    const int64_t section = std::stoll(ref.metadata.at(name + ".section"));
    CHECK(section == rope_axis_dims(x64.size(3)));
    for (DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(dtype);
      Tensor x = x64.to(dtype).detach().clone().requires_grad_();
      Tensor out = rope(x, ref.at(name + ".positions"), section);
      sum(out * ref.at(name + ".weight").to(dtype)).backward();
      const double tol = dtype == DType::f64 ? 1e-13 : 1e-6;
      CHECK(difference(out, ref.at(name + ".out")) <= tol);
      CHECK(difference(x.grad(), ref.at(name + ".grad")) <= tol);
    }
  }
}

TEST_CASE("rope tiles the frequencies over each section instead of repeating them per pair") {
  // section 4: frequencies 1 and 10000^-0.5 = 0.01, dims turned by [p, 0.01 p, p, 0.01 p] (tiled),
  // not [p, p, 0.01 p, 0.01 p]: each pair mixes two angles.
  const double p = 3;
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5}, {1, 1, 1, 5});
  const auto out = rope(x, from_vector(std::vector<double>{p}, {1, 1}), 4).to_vector<double>();
  const double a = p, b = 0.01 * p;
  CHECK(out[0] == doctest::Approx(1 * std::cos(a) - 2 * std::sin(a)).epsilon(1e-14));
  CHECK(out[1] == doctest::Approx(1 * std::sin(b) + 2 * std::cos(b)).epsilon(1e-14));
  CHECK(out[2] == doctest::Approx(3 * std::cos(a) - 4 * std::sin(a)).epsilon(1e-14));
  CHECK(out[3] == doctest::Approx(3 * std::sin(b) + 4 * std::cos(b)).epsilon(1e-14));
  CHECK(out[4] == 5);  // past A * section: unrotated
}

TEST_CASE("rope's kernel equals its composite reference on strided views, per-sample positions included") {
  struct Case {
    int64_t B, H, N, dh, axes, section;
    bool per_sample;
  };
  const std::vector<Case> cases = {{2, 3, 7, 22, 3, 6, false}, {1, 2, 12, 64, 3, 20, true}, {2, 1, 5, 16, 1, 4, false},
                                   {1, 2, 9, 12, 2, 6, true},  {3, 2, 4, 8, 1, 8, false}};
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for (const Case& c : cases) {
      CAPTURE(c.dh);
      CAPTURE(c.axes);
      const Shape pos_shape = c.per_sample ? Shape{c.B, c.N, c.axes} : Shape{c.N, c.axes};
      const Tensor positions = random(pos_shape, 50, DType::f64, 0, 16);
      auto fused = [&](auto& t) { return rope_fused(packed_heads(t[0], 1), positions, c.section); };
      auto composite = [&](auto& t) { return detail::rope_reference(packed_heads(t[0], 1), positions, c.section); };
      check_against(fused, composite, {random({c.B, c.N, 3, c.H, c.dh}, 51, dtype)}, tolerance(dtype) * 4);
      check_against([&](auto& t) { return rope_fused(t[0], positions, c.section); },
                    [&](auto& t) { return detail::rope_reference(t[0], positions, c.section); },
                    {random({c.B, c.H, c.N, c.dh}, 52, dtype)}, tolerance(dtype) * 4);
    }
  }
}

TEST_CASE("rope of conditioning tokens: the time-only form equals positions (t, 0, 0)") {
  const int64_t T = 4, dh = 64, section = rope_axis_dims(dh);
  const Tensor x = random({2, 3, T, dh}, 53, DType::f32);
  const Tensor t = arange(0.0, double(T), 1.0, DType::f64).unsqueeze(1);         // (T, 1)
  const Tensor t00 = cat({t, zeros({T, 2}, DType::f64)}, 1);                     // (T, 3)
  CHECK(difference(rope(x, t, section), rope(x, t00, section)) == 0);
  CHECK(difference(rope(x, t, section), x) > 0.1);  // frames after the first do turn
  // frame tokens: the row and column axes turn their own dims only
  const Tensor frames = random({1, 2, 8, dh}, 54, DType::f64);
  const Tensor turned = rope(frames, frame_positions(2, 2, 2, 16), section);
  const int64_t rotated = 3 * section;
  CHECK(difference(turned.narrow(-1, rotated, dh - rotated), frames.narrow(-1, rotated, dh - rotated)) == 0);
  CHECK(difference(turned.narrow(-1, 0, rotated), frames.narrow(-1, 0, rotated)) > 0.1);
}

TEST_CASE("gradcheck: rope") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  auto leaf = [](const Shape& s, uint64_t seed) { return random(s, seed, DType::f64, -1, 1).requires_grad_(); };
  const Tensor shared = frame_positions(2, 2, 2, 16), per_sample = random({2, 5, 1}, 55, DType::f64, 0, 4);
  check([&](auto& t) { return rope(t[0], shared, 4); }, {leaf({1, 2, 8, 14}, 56)});
  check([&](auto& t) { return rope(t[0], per_sample, 6); }, {leaf({2, 1, 5, 7}, 57)});
  check([&](auto& t) { return rope(packed_heads(t[0], 0), shared, 2); }, {leaf({1, 8, 3, 2, 6}, 58)});
}

TEST_CASE("rope refuses shapes, sections and positions that do not fit, naming them") {
  const Tensor x = zeros({2, 3, 5, 22}), pos = zeros({5, 3});
  CHECK(error_of([&] { rope(zeros({3, 5, 22}), pos, 6); }) ==
        "[rope] expected x (B, H, N, dh), got shape [3, 5, 22]");
  const std::string bad_positions =
      "[rope] positions must be (N, A) or (B, N, A) with A >= 1 for x (B, H, N, dh) = [2, 3, 5, 22], got shape ";
  CHECK(error_of([&] { rope(x, zeros({4, 3}), 6); }) == bad_positions + "[4, 3]");
  CHECK(error_of([&] { rope(x, zeros({3, 5, 3}), 6); }) == bad_positions + "[3, 5, 3]");
  CHECK(error_of([&] { rope(x, zeros({5, 0}), 6); }) == bad_positions + "[5, 0]");
  CHECK(error_of([&] { rope(x, pos, 7); }) ==
        "[rope] section must be even, positive and fit 3 axes into head dim 22, got 7");
  CHECK(error_of([&] { rope(x, pos, 8); }) ==
        "[rope] section must be even, positive and fit 3 axes into head dim 22, got 8");
  CHECK(error_of([&] { rope(zeros({1, 1, 5, 22}, DType::bf16), pos, 6); }) ==
        "[rope] expected a tensor of dtype f32 or f64, got bf16");
}

namespace {

Tensor masked_fused(const std::vector<Tensor>& t, int64_t block) {
  return scaled_dot_product_attention(t[0], t[1], t[2], std::nullopt, BlockCausalMask{block});
}
Tensor masked_composite(const std::vector<Tensor>& t, int64_t block) {
  return detail::attention_reference(t[0], t[1], t[2], 1.0 / std::sqrt(double(t[0].size(-1))), BlockCausalMask{block});
}

}  // namespace

TEST_CASE("block-causal attention matches the masked composite, forward and backward, across tiles") {
  struct Case {
    int64_t batch, heads, N, M, dh, dv, block;
  };
  // Tiles are 64 queries x 64 keys. Blocks of 1 (causal), inside a tile, straddling tiles (7, 66 =
  // 2 cond + 64 patch tokens, 100), as big as the sequence, and N != M both ways: with M > N the
  // last keys are seen by no query and get zero gradients.
  const std::vector<Case> cases = {{2, 2, 9, 9, 8, 8, 1},        {1, 2, 130, 130, 16, 16, 7},
                                   {1, 1, 198, 198, 32, 24, 66}, {2, 1, 150, 150, 20, 20, 100},
                                   {1, 2, 40, 40, 8, 8, 40},     {1, 1, 70, 200, 16, 8, 20},
                                   {1, 1, 150, 70, 16, 8, 20}};
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (const Case& c : cases) {
        CAPTURE(c.N);
        CAPTURE(c.M);
        CAPTURE(c.block);
        const Tensor q = random({c.batch, c.heads, c.N, c.dh}, 60, dtype);
        const Tensor k = random({c.batch, c.heads, c.M, c.dh}, 61, dtype);
        const Tensor v = random({c.batch, c.heads, c.M, c.dv}, 62, dtype);
        check_against([&](auto& t) { return masked_fused(t, c.block); },
                      [&](auto& t) { return masked_composite(t, c.block); }, {q, k, v}, tolerance(dtype) * 4);
      }
      // q, k, v as strided head views of one packed projection, read in place
      Tensor packed = random({2, 75, 3, 2, 16}, 63, dtype);
      auto views = [](const Tensor& p) {
        return std::vector<Tensor>{packed_heads(p, 0), packed_heads(p, 1), packed_heads(p, 2)};
      };
      check_against([&](auto& t) { return masked_fused(views(t[0]), 25); },
                    [&](auto& t) { return masked_composite(views(t[0]), 25); }, {packed}, tolerance(dtype) * 4);
    });
  }
}

TEST_CASE("block-causal attention: no query sees a later block, and a block sees all earlier ones") {
  const int64_t block = 10, N = 3 * block;
  const Tensor q = random({2, N, 8}, 64, DType::f64), k = random({2, N, 8}, 65, DType::f64);
  const Tensor v = random({2, N, 8}, 66, DType::f64);
  const Tensor out = masked_fused({q, k, v}, block);  // (2, N, 8)
  // Changing the last block's keys and values leaves the first two blocks' outputs as they were.
  const Tensor k2 = cat({k.narrow(1, 0, 2 * block), random({2, block, 8}, 67, DType::f64)}, 1);
  const Tensor v2 = cat({v.narrow(1, 0, 2 * block), random({2, block, 8}, 68, DType::f64)}, 1);
  const Tensor out2 = masked_fused({q, k2, v2}, block);
  CHECK(difference(out2.narrow(1, 0, 2 * block), out.narrow(1, 0, 2 * block)) == 0);
  CHECK(difference(out2.narrow(1, 2 * block, block), out.narrow(1, 2 * block, block)) > 1e-3);
  // Block 1 attends exactly keys [0, 2 block): unmasked attention over that prefix.
  const Tensor prefix = scaled_dot_product_attention(q.narrow(1, block, block), k.narrow(1, 0, 2 * block),
                                                     v.narrow(1, 0, 2 * block));
  CHECK(difference(out.narrow(1, block, block), prefix) <= 1e-14);
  CHECK(difference(out, scaled_dot_product_attention(q, k, v)) > 1e-3);  // the mask does change the result
}

TEST_CASE("gradcheck: block-causal fused attention") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  auto leaf = [](const Shape& s, uint64_t seed) { return random(s, seed, DType::f64, -1, 1).requires_grad_(); };
  auto masked = [](int64_t block) { return [block](auto& t) { return masked_fused(t, block); }; };
  check(masked(4), {leaf({2, 2, 9, 4}, 70), leaf({2, 2, 9, 4}, 71), leaf({2, 2, 9, 3}, 72)});
  check(masked(3), {leaf({1, 7, 3}, 73), leaf({1, 12, 3}, 74), leaf({1, 12, 2}, 75)});  // M > N
  check(masked(33), {leaf({1, 70, 2}, 76), leaf({1, 70, 2}, 77), leaf({1, 70, 2}, 78)});  // blocks across tiles
}

TEST_CASE("block-causal attention refuses a block size below 1") {
  const Tensor q = zeros({1, 4, 8});
  CHECK(error_of([&] { masked_fused({q, q, q}, 0); }) ==
        "[scaled_dot_product_attention] the block-causal mask needs block_size >= 1, got 0");
}
