// The ops the V-JEPA 2-AC predictor adds: RoPE (jepa::rope) against PyTorch's re-implementation
// of the official rotation (tests/ref/make_rope_reference.py, data in tests/data/ac/), a
// hand-computed case of the tiled frequencies, the composite reference and a gradcheck.
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
