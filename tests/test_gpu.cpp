// The GPU backend against the CPU: every op's forward and gradients on the same inputs, dtype
// conversions, the caching allocator, both GEMM implementations, and error messages. Plain C++,
// compiled like any file of a user's program; it reaches the GPU through gpu/api.hpp, served by the
// implementation file linked beside it: CUDA (jepa_cuda_tests), HIP (jepa_hip_tests) or the
// emulated GPU (jepa_emu32_tests, jepa_emu64_tests). Without a usable device each case prints "SKIPPED: ..." and returns (CTest
// reports it as skipped), except the cases that check what happens when there is no device.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include <jepa/jepa.hpp>
#include <jepa/models/checkpoint.hpp>
#include <jepa/models/ijepa.hpp>
#include <jepa/models/trainer.hpp>
#include <jepa/optim/adamw.hpp>
#include <jepa/optim/clip.hpp>
#include <jepa/optim/ema.hpp>

using namespace jepa;

namespace {

const Device kGpu{gpu::device_type(), 0};

#define SKIP_WITHOUT_DEVICE()                                                                           \
  do {                                                                                                  \
    if (!gpu::available()) {                                                                            \
      std::printf("SKIPPED: no usable %s device (%s)\n", gpu::backend().name, gpu::unavailable_reason().c_str()); \
      return;                                                                                           \
    }                                                                                                   \
  } while (0)

Tensor random(const Shape& shape, uint64_t seed, DType dtype = DType::f32, double lo = -1, double hi = 1) {
  Generator g(seed);
  return uniform(shape, lo, hi, g, dtype);
}

// |gpu - cpu| <= atol + rtol * |cpu| elementwise (NaNs must match), reporting the worst element.
void check_close(const Tensor& gpu_result, const Tensor& cpu_result, double rtol, double atol, const char* what = "") {
  REQUIRE(gpu_result.shape() == cpu_result.shape());
  const std::vector<double> g = gpu_result.to_vector<double>(), c = cpu_result.to_vector<double>();
  size_t worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(c[i]) || std::isnan(g[i])) {
      if (std::isnan(c[i]) != std::isnan(g[i])) {
        worst = i;
        worst_excess = INFINITY;
        break;
      }
      continue;
    }
    const double excess = std::abs(g[i] - c[i]) - (atol + rtol * std::abs(c[i]));
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO(what, ": worst element ", worst, " of shape ", cpu_result.shape(), ": gpu ", (g.empty() ? 0.0 : g[worst]),
       " cpu ", (c.empty() ? 0.0 : c[worst]));
  CHECK(worst_excess <= 0);
}

// Runs f on CPU leaves and on their GPU copies; compares the outputs, then the gradients of every
// input after backward with the same upstream gradient.
void compare_op(const std::vector<Tensor>& cpu_inputs, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                double rtol, double atol, bool gradients = true) {
  std::vector<Tensor> cpu_leaves, gpu_leaves;
  for (const Tensor& t : cpu_inputs) {
    Tensor c = t.clone().detach();
    Tensor g = t.to(kGpu).detach();
    if (gradients && is_floating(t.dtype())) {
      c.requires_grad_();
      g.requires_grad_();
    }
    cpu_leaves.push_back(c);
    gpu_leaves.push_back(g);
  }
  Tensor cpu_out = f(cpu_leaves), gpu_out = f(gpu_leaves);
  CHECK(gpu_out.device() == kGpu);
  CHECK(gpu_out.dtype() == cpu_out.dtype());
  check_close(gpu_out, cpu_out, rtol, atol, "forward");
  if (!gradients || !cpu_out.requires_grad()) return;
  const Tensor upstream = random(cpu_out.shape(), 977, cpu_out.dtype());
  cpu_out.backward(upstream);
  gpu_out.backward(upstream.to(kGpu));
  for (size_t i = 0; i < cpu_leaves.size(); ++i) {
    if (!cpu_leaves[i].requires_grad()) continue;
    const Tensor cg = cpu_leaves[i].grad(), gg = gpu_leaves[i].grad();
    REQUIRE(cg.defined() == gg.defined());
    if (!cg.defined()) continue;
    CHECK(gg.device() == kGpu);
    check_close(gg, cg, rtol, atol, "gradient");
  }
}

}  // namespace

TEST_CASE("gpu: without a device, tensors on it fail with a clear message") {
  const char* name = gpu::backend().name;
  if (gpu::available()) {
    const int n = gpu::device_count();
    CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, Device{gpu::device_type(), n}),
                         doctest::Contains(detail::concat("[", name, "] device ", name, ":", n, " does not exist").c_str()),
                         Error);
    return;
  }
  CHECK(gpu::device_count() == 0);
  const std::string reason = gpu::unavailable_reason();
  CHECK((reason == "no device found" || reason.rfind(detail::concat(gpu::backend().runtime_prefix, "GetDeviceCount failed with "), 0) == 0));
  const std::string message = detail::concat("[", name, "] no ", name, " device is available: ", reason);
  CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, kGpu), doctest::Contains(message.c_str()), Error);
  CHECK_THROWS_WITH_AS(tensor({1, 2}).to(kGpu), doctest::Contains(message.c_str()), Error);
}

TEST_CASE("gpu: runtime errors name the call, the error and the place") {
  SKIP_WITHOUT_DEVICE();
  const size_t too_much = size_t{1} << 62;
  CHECK_THROWS_WITH_AS(Tensor::empty({static_cast<int64_t>(too_much / 4)}, DType::f32, kGpu),
                       doctest::Contains(detail::concat("[allocate] out of memory on ", gpu::backend().name, ":0 allocating").c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(gpu::synchronize(gpu::device_count()), doctest::Contains("does not exist"), Error);
}

TEST_CASE("gpu: copies to, from and on the device keep every dtype's bits") {
  SKIP_WITHOUT_DEVICE();
  for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i64}) {
    CAPTURE(dt);
    const Tensor host = random({3, 5, 7}, 1, DType::f64, -100, 100).to(dt);
    const Tensor dev = host.to(kGpu);
    CHECK(dev.device() == kGpu);
    CHECK(dev.to_vector<double>() == host.to_vector<double>());
    const Tensor copy = dev.clone();  // device to device
    CHECK(copy.to(Device::cpu()).to_vector<double>() == host.to_vector<double>());
  }
}

TEST_CASE("gpu: dtype conversions round like the CPU, subnormals, infinities and NaN included") {
  SKIP_WITHOUT_DEVICE();
  std::vector<double> values = {0.0, -0.0, 1.0, -2.5, 1e-40, -1e-45, 6e-8, 3e-5, 65504.0, 65520.0, 1e6, -3e38,
                                INFINITY, -INFINITY, NAN, 1.0 / 3.0, 0.1, 123456.789};
  const Tensor extra = random({64}, 9, DType::f64, -1e4, 1e4);
  for (double v : extra.to_vector<double>()) values.push_back(v);
  const Tensor src = from_vector(values, {static_cast<int64_t>(values.size())});
  for (DType from : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    for (DType to : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i64}) {
      if (to == DType::i64 && from != DType::f64) continue;  // float -> int of inf/NaN is undefined
      CAPTURE(from);
      CAPTURE(to);
      Tensor s = src.to(from);
      if (to == DType::i64) s = from_vector(std::vector<double>{0, -3, 7.9, -7.9, 1e12}, {5}).to(from);
      const Tensor on_cpu = s.to(to);
      const Tensor on_gpu = s.to(kGpu).to(to);
      check_close(on_gpu, on_cpu, 0, 0, "conversion");
    }
  }
  const Tensor ints = from_vector(std::vector<int64_t>{-5, 0, 1 << 20, (int64_t{1} << 40) + 1}, {4});
  for (DType to : {DType::f32, DType::f64, DType::bf16, DType::f16})
    check_close(ints.to(kGpu).to(to), ints.to(to), 0, 0, "from i64");
}

TEST_CASE("gpu: strided copies, fills and in-place updates match the CPU") {
  SKIP_WITHOUT_DEVICE();
  const Tensor x = random({4, 6, 5}, 2);
  const Tensor xg = x.to(kGpu);
  check_close(xg.permute({2, 0, 1}).contiguous(), x.permute({2, 0, 1}).contiguous(), 0, 0, "permute");
  check_close(xg.slice(1, 1, 6, 2).contiguous(), x.slice(1, 1, 6, 2).contiguous(), 0, 0, "slice");
  check_close(xg.select(2, 3).unsqueeze(0).expand({3, 4, 6}).contiguous(),
              x.select(2, 3).unsqueeze(0).expand({3, 4, 6}).contiguous(), 0, 0, "expand");
  check_close(xg.transpose(0, 2).to(DType::bf16).to(DType::f32), x.transpose(0, 2).to(DType::bf16).to(DType::f32), 0, 0,
              "strided conversion");

  Tensor a = x.clone(), ag = xg.clone();
  a.slice(1, 0, 6, 3).fill_(7.5);
  ag.slice(1, 0, 6, 3).fill_(7.5);
  check_close(ag, a, 0, 0, "strided fill");
  a.narrow(0, 1, 2).copy_(tensor({1, 2, 3, 4, 5}));
  ag.narrow(0, 1, 2).copy_(tensor({1, 2, 3, 4, 5}));  // from the host, broadcast
  check_close(ag, a, 0, 0, "copy_ broadcast");
  a.add_(x.select(0, 1), -0.5);
  ag.add_(xg.select(0, 1), -0.5);
  a.mul_(3.0);
  ag.mul_(3.0);
  check_close(ag, a, 1e-6, 0, "add_ mul_");
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::i64}) {
    CAPTURE(dt);
    check_close(full({3, 3}, -2.75, dt, kGpu), full({3, 3}, -2.75, dt), 0, 0, "full");
  }
}

TEST_CASE("gpu: unary ops, forward and gradient, f32 and f64") {
  SKIP_WITHOUT_DEVICE();
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(abs(x) + 0.1); }},
      {"sqrt", [](const Tensor& x) { return sqrt(abs(x) + 0.1); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(abs(x) + 0.1); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }},
      {"pow 1.5", [](const Tensor& x) { return pow(abs(x) + 0.1, 1.5); }},
      {"scalar arithmetic", [](const Tensor& x) { return 2.0 - (x * 3.0 + 1.0) / 4.0; }},
      {"rdiv", [](const Tensor& x) { return 1.5 / (abs(x) + 0.5); }},
  };
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 2e-6 : 1e-13;
    const Tensor x = random({33, 65}, 3, dt, -3, 3);
    for (const auto& op : ops) {  // plain references: clang 15 cannot capture structured bindings
      const auto& name = op.first;
      const auto& f = op.second;
      CAPTURE(name);
      CAPTURE(dt);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return f(in[0]); }, tol, tol);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return f(in[0].transpose(0, 1)); }, tol, tol);
    }
  }
}

TEST_CASE("gpu: binary ops broadcast, forward and gradient") {
  SKIP_WITHOUT_DEVICE();
  using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / (abs(b) + 0.5); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{7, 9}, {7, 9}}, {{4, 7, 9}, {9}}, {{4, 1, 9}, {7, 1}}, {{1}, {3, 5}}, {{2, 3, 4, 5, 6}, {3, 1, 5, 1}}, {{}, {}}};
  for (const auto& shape_pair : shapes)
    for (const auto& op : ops) {  // plain references: clang 15 cannot capture structured bindings
      const Shape& sa = shape_pair.first;
      const Shape& sb = shape_pair.second;
      const auto& name = op.first;
      const auto& f = op.second;
      CAPTURE(name);
      CAPTURE(sa);
      CAPTURE(sb);
      compare_op({random(sa, 4), random(sb, 5)}, [&](const std::vector<Tensor>& in) { return f(in[0], in[1]); }, 2e-6,
                 2e-6);
    }
  const Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {4}), b = from_vector(std::vector<double>{1, 0, 3, 5}, {4});
  check_close(eq(a.to(kGpu), b.to(kGpu)), eq(a, b), 0, 0, "eq");
}

TEST_CASE("gpu: reductions over any dims, long axes and NaN") {
  SKIP_WITHOUT_DEVICE();
  const Tensor x = random({6, 50, 33}, 6);
  const std::vector<Shape> dims_list = {{}, {0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1}, {-1}};
  for (const Shape& dims : dims_list)
    for (bool keepdim : {false, true}) {
      CAPTURE(dims);
      CAPTURE(keepdim);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return sum(in[0], dims, keepdim); }, 1e-6, 1e-6);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return mean(in[0], dims, keepdim); }, 1e-6, 1e-6);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return max(in[0], dims, keepdim); }, 0, 0);
    }
  // Long reduced axes take the split path (partial sums, then a second pass).
  for (const Shape& shape : std::vector<Shape>{{1 << 20}, {3, 100000}, {70000, 2, 5}, {1, 300000, 3}}) {
    CAPTURE(shape);
    const Tensor big = random(shape, 7);
    const Tensor bg = big.to(kGpu);
    check_close(sum(bg, {shape.ndim() == 3 ? 1 : -1}), sum(big, {shape.ndim() == 3 ? 1 : -1}), 1e-6, 1e-6, "long sum");
    check_close(max(bg, {0}), max(big, {0}), 0, 0, "long max");
    check_close(sum(bg), sum(big), 1e-6, 1e-6, "sum all");
  }
  const Tensor with_nan = from_vector(std::vector<double>{1, NAN, 3, -1, 2, 0}, {2, 3});
  check_close(max(with_nan.to(kGpu), {1}), max(with_nan, {1}), 0, 0, "max with NaN");
  check_close(max(with_nan.to(kGpu), {0}), max(with_nan, {0}), 0, 0, "max with NaN (columns)");
  check_close(argmax(x.to(kGpu), 1), argmax(x, 1), 0, 0, "argmax");
  check_close(sum(zeros({0, 3}, DType::f32, kGpu), {0}), sum(zeros({0, 3}), {0}), 0, 0, "empty sum");
}

TEST_CASE("gpu: a small graph mixing views, broadcasting and reductions gives the CPU's gradients") {
  SKIP_WITHOUT_DEVICE();
  compare_op({random({5, 8}, 10), random({8}, 11), random({5, 1}, 12)},
             [](const std::vector<Tensor>& in) {
               const Tensor h = tanh(in[0] * in[1] + in[2]);
               return mean(sum(h.transpose(0, 1).slice(0, 1, 7, 2) * h.narrow(1, 0, 3).transpose(0, 1), {0}) /
                           max(exp(h), {1}));
             },
             1e-5, 1e-6);
}

TEST_CASE("gpu: bf16 elementwise kernels compute in f32 and round once") {
  SKIP_WITHOUT_DEVICE();
  const Tensor a = random({37, 41}, 13), b = random({41}, 14);
  const Tensor a16 = a.to(DType::bf16), b16 = b.to(DType::bf16);
  Tensor out = Tensor::empty(a.shape(), DType::bf16, kGpu);
  gpu::map2(out, a16.to(kGpu), a16.strides(), b16.to(kGpu), broadcast_strides(b.shape(), b.strides(), a.shape()),
            detail::MulFn{});
  // Expected: the product of the bf16 inputs in f32, rounded to bf16 once.
  const Tensor expected = (a16.to(DType::f32) * b16.to(DType::f32)).to(DType::bf16);
  check_close(out, expected, 0, 0, "bf16 map2");
  Tensor g = Tensor::empty(a.shape(), DType::bf16, kGpu);
  gpu::map1(g, a16.to(kGpu), detail::GeluFn{});
  check_close(g, gelu(a16.to(DType::f32)).to(DType::bf16), 0, 0.0079, "bf16 gelu");  // one bf16 ulp near 1
}

TEST_CASE("gpu: the caching allocator reuses freed blocks and returns them on empty_cache") {
  SKIP_WITHOUT_DEVICE();
  gpu::synchronize();
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000, 1000}, DType::f32, kGpu);
    first = t.raw_data();
  }
  const gpu::MemoryStats before = gpu::memory_stats(0);
  CHECK(before.cached_bytes >= size_t{4000000});
  {
    Tensor t = Tensor::empty({999, 1001}, DType::f32, kGpu);  // same size bin
    CHECK(t.raw_data() == first);
    CHECK(gpu::memory_stats(0).device_allocations == before.device_allocations);
    CHECK(gpu::memory_stats(0).in_use_bytes >= size_t{4000000});
  }
  // A training-like loop allocates nothing new after its first iteration.
  const Tensor w = random({64, 64}, 15).to(kGpu).requires_grad_();
  auto step = [&] {
    Tensor loss = sum(tanh(w * 2.0 + 1.0));
    loss.backward();
    w.grad().zero_();
  };
  step();  // creates the gradient buffer
  step();  // accumulates into it
  const int64_t warm = gpu::memory_stats(0).device_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(gpu::memory_stats(0).device_allocations == warm);
  gpu::empty_cache();
  CHECK(gpu::memory_stats(0).cached_bytes == 0);
}

namespace {

// softmax(scale * q k^T) v composed from elementwise ops and reductions, differentiable.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const Tensor s = sum(q.unsqueeze(3) * k.unsqueeze(2), {-1}) * scale;  // (B, H, N, M)
  const Tensor e = exp(s - max(s.detach(), {-1}, true));
  const Tensor p = e / sum(e, {-1}, true);
  return sum(p.unsqueeze(-1) * v.unsqueeze(2), {3});  // (B, H, N, D)
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double x : t.to_vector<double>()) m = std::max(m, std::abs(x));
  return m;
}

// The fused kernels against the composition in f64 on the CPU, from the same (rounded) inputs.
// q, k, v are CPU tensors of `dtype`, possibly strided views. Absolute tolerances scale with the
// largest expected value, at least 0.01: with one key, dq and dk are exactly zero, and the kernel's
// (dp - delta) difference leaves f32 rounding noise there.
void check_fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, double rtol, double atol_fraction) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  Tensor q64 = q.to(DType::f64).detach().requires_grad_(), k64 = k.to(DType::f64).detach().requires_grad_(),
         v64 = v.to(DType::f64).detach().requires_grad_();
  const Tensor expected = composed_attention(q64, k64, v64, scale);
  const Tensor dout = random(expected.shape(), 31, DType::f64).to(q.dtype());
  expected.backward(dout.to(DType::f64));
  const Tensor s = sum(q64.detach().unsqueeze(3) * k64.detach().unsqueeze(2), {-1}) * scale;
  const Tensor smax = max(s, {-1}, true);
  const Tensor expected_lse = (log(sum(exp(s - smax), {-1}, true)) + smax).squeeze(-1);

  const Tensor qg = q.to(kGpu), kg = k.to(kGpu), vg = v.to(kGpu);
  REQUIRE(gpu::attention_supported(qg, kg, vg));
  const Tensor out = Tensor::empty(qg.shape(), qg.dtype(), kGpu);
  const Tensor lse = Tensor::empty({q.size(0), q.size(1), q.size(2)}, DType::f32, kGpu);
  gpu::attention_forward(qg, kg, vg, out, lse, scale);
  check_close(out, expected, rtol, atol_fraction * max_abs(expected), "attention out");
  check_close(lse, expected_lse, 1e-5, 1e-5, "attention lse");
  const Tensor dq = Tensor::empty(qg.shape(), qg.dtype(), kGpu), dk = Tensor::empty(kg.shape(), kg.dtype(), kGpu),
               dv = Tensor::empty(vg.shape(), vg.dtype(), kGpu);
  gpu::attention_backward(dout.to(kGpu).contiguous(), qg, kg, vg, out, lse, dq, dk, dv, scale);
  auto atol = [&](const Tensor& t) { return atol_fraction * std::max(max_abs(t), 0.01); };
  check_close(dq, q64.grad(), rtol, atol(q64.grad()), "attention dq");
  check_close(dk, k64.grad(), rtol, atol(k64.grad()), "attention dk");
  check_close(dv, v64.grad(), rtol, atol(v64.grad()), "attention dv");
}

}  // namespace

TEST_CASE("gpu: fused attention matches the composition, forward and backward, f32 and bf16") {
  SKIP_WITHOUT_DEVICE();
  // Tolerances: f32 accumulates in f32 (relative error ~1e-6 per op); bf16 inputs are compared
  // with the reference computed from the same bf16 values, so the error is the rounding of each
  // result to bf16 (2^-8 relative) plus f32 accumulation.
  struct Case {
    int64_t B, H, N, M, D;
  };
  for (const Case& c : {Case{2, 3, 50, 37, 32}, Case{1, 2, 130, 97, 64}, Case{2, 2, 70, 45, 128}, Case{1, 1, 1, 1, 64},
                        Case{3, 1, 16, 64, 32}}) {
    for (DType dt : {DType::f32, DType::bf16}) {
      CAPTURE(c.N);
      CAPTURE(c.M);
      CAPTURE(c.D);
      CAPTURE(dt);
      const double rtol = dt == DType::f32 ? 1e-5 : 1.0 / 128, atol = dt == DType::f32 ? 1e-5 : 1.0 / 128;
      check_fused_attention(random({c.B, c.H, c.N, c.D}, 21, dt, -2, 2), random({c.B, c.H, c.M, c.D}, 22, dt, -2, 2),
                            random({c.B, c.H, c.M, c.D}, 23, dt), rtol, atol);
    }
  }
}

TEST_CASE("gpu: fused attention reads q, k, v as head views of one qkv projection") {
  SKIP_WITHOUT_DEVICE();
  const int64_t B = 2, N = 41, H = 3, D = 64;
  const Tensor qkv = random({B, N, 3 * H * D}, 24).reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});  // (3, B, H, N, D)
  check_fused_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2), 1e-5, 1e-5);
  const Tensor k = qkv.select(0, 1).to(kGpu), v = qkv.select(0, 2).to(kGpu);
  const Tensor strided_q = random({B, H, D, N}, 25).to(kGpu).transpose(2, 3);  // (B, H, N, D), head dim strided
  CHECK(!gpu::attention_supported(strided_q, k, v));
  CHECK(gpu::attention_supported(strided_q.contiguous(), k, v));
  CHECK(!gpu::attention_supported(strided_q.to(DType::f64), k.to(DType::f64), v.to(DType::f64)));
  CHECK(!gpu::attention_supported(random({1, 1, 4, 48}, 1).to(kGpu), random({1, 1, 4, 48}, 2).to(kGpu),
                                  random({1, 1, 4, 48}, 3).to(kGpu)));  // head dim 48
}

TEST_CASE("gpu: softmax and log_softmax along any dim, short and long rows") {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    Shape shape;
    int64_t dim;
  };
  for (const Case& c : {Case{{7, 300}, -1}, Case{{5, 3000}, 1}, Case{{4, 9, 6}, 1}, Case{{3, 2, 5}, 0}, Case{{6}, 0}}) {
    for (bool log_form : {false, true}) {
      CAPTURE(c.shape);
      CAPTURE(log_form);
      compare_op({random(c.shape, 40, DType::f32, -5, 5)},
                 [&](const std::vector<Tensor>& in) { return log_form ? log_softmax(in[0], c.dim) : softmax(in[0], c.dim); },
                 1e-5, 1e-6);
    }
  }
  const Tensor masked = from_vector(std::vector<double>{-INFINITY, -INFINITY, 1, -INFINITY}, {2, 2});
  check_close(softmax(masked.to(kGpu), 1), softmax(masked, 1), 0, 0, "all -inf row gives NaN");
  check_close(log_softmax(masked.to(kGpu), 1), log_softmax(masked, 1), 0, 0, "log_softmax with -inf");
}

TEST_CASE("gpu: layer_norm with and without affine parameters, gradients of all inputs") {
  SKIP_WITHOUT_DEVICE();
  for (const Shape& shape : std::vector<Shape>{{10, 192}, {2, 3, 64}, {3, 5000}, {4, 1}, {300, 8}}) {
    const int64_t D = shape.back();
    CAPTURE(shape);
    const Tensor x = random(shape, 41, DType::f32, -2, 3), w = random({D}, 42), b = random({D}, 43);
    compare_op({x, w, b}, [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {D}, in[1], in[2]); }, 2e-5, 2e-5);
    compare_op({x}, [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {D}); }, 2e-5, 2e-5);
    compare_op({x, w}, [&](const std::vector<Tensor>& in) { return layer_norm(in[0], {D}, in[1]); }, 2e-5, 2e-5);
  }
  compare_op({random({3, 4, 5}, 44, DType::f64), random({4, 5}, 45, DType::f64), random({4, 5}, 46, DType::f64)},
             [](const std::vector<Tensor>& in) { return layer_norm(in[0], {4, 5}, in[1], in[2], 1e-3); }, 1e-12, 1e-12);
}

namespace {

// The GEMM implementations this build has: the own kernel, and the vendor BLAS where compiled in.
std::vector<gpu::GemmImpl> gemm_impls() {
  if (gpu::backend().has_blas) return {gpu::GemmImpl::blas, gpu::GemmImpl::own};
  return {gpu::GemmImpl::own};
}

const char* impl_name(gpu::GemmImpl impl) { return impl == gpu::GemmImpl::own ? "own" : gpu::backend().blas_name; }

// Selects a GEMM implementation for its lifetime.
class UseGemm {
 public:
  explicit UseGemm(gpu::GemmImpl impl) : previous_(gpu::gemm_impl()) { gpu::set_gemm_impl(impl); }
  ~UseGemm() { gpu::set_gemm_impl(previous_); }
  UseGemm(const UseGemm&) = delete;
  UseGemm& operator=(const UseGemm&) = delete;

 private:
  gpu::GemmImpl previous_;
};

}  // namespace

TEST_CASE("gpu: the GEMM implementation is chosen at run time, the vendor BLAS only where compiled in") {
  const gpu::GemmImpl initial = gpu::gemm_impl();
  {
    UseGemm own(gpu::GemmImpl::own);
    CHECK(gpu::gemm_impl() == gpu::GemmImpl::own);
  }
  CHECK(gpu::gemm_impl() == initial);
  if (gpu::backend().has_blas) {
    UseGemm blas(gpu::GemmImpl::blas);
    CHECK(gpu::gemm_impl() == gpu::GemmImpl::blas);
  } else {
    CHECK(initial == gpu::GemmImpl::own);
    CHECK_THROWS_WITH_AS(gpu::set_gemm_impl(gpu::GemmImpl::blas), doctest::Contains("has none"), Error);
  }
}

TEST_CASE("gpu: matmul and linear over layouts, batches and broadcasts, on every GEMM implementation") {
  SKIP_WITHOUT_DEVICE();
  using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
  struct Case {
    const char* name;
    Shape a, b;
    Fn f;
  };
  const Fn mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  const std::vector<Case> cases = {
      {"2-D", {33, 17}, {17, 29}, mm},
      {"vector-matrix", {17}, {17, 5}, mm},
      {"matrix-vector", {6, 17}, {17}, mm},
      {"batched", {3, 8, 5}, {3, 5, 7}, mm},
      {"broadcast batch", {2, 1, 4, 5}, {3, 5, 6}, mm},
      {"batch folded into rows", {2, 7, 5}, {5, 3}, mm},
      {"transposed operands", {9, 4}, {6, 9},
       [](const std::vector<Tensor>& in) { return matmul(in[0].transpose(0, 1), in[1].transpose(0, 1)); }},
      {"strided batch views", {2, 4, 4, 5}, {5, 3},  // offsets not evenly spaced: pointer arrays
       [](const std::vector<Tensor>& in) { return matmul(in[0].slice(1, 0, 3), in[1].unsqueeze(0).expand({3, 5, 3})); }},
      {"linear", {2, 5, 12}, {7, 12}, [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }},
  };
  for (gpu::GemmImpl impl : gemm_impls()) {
    UseGemm use(impl);
    CAPTURE(impl_name(impl));
    for (const Case& c : cases)
      for (DType dt : {DType::f32, DType::f64}) {
        CAPTURE(c.name);
        CAPTURE(dt);
        const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
        compare_op({random(c.a, 50, dt), random(c.b, 51, dt)}, c.f, tol, tol);
      }
    compare_op({random({4, 3, 12}, 52), random({7, 12}, 53), random({7}, 54)},
               [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, 1e-5, 1e-5);
  }
  if (gpu::backend().has_blas) {  // TF32 keeps 10 mantissa bits of each product's inputs: about 1e-3 relative.
    UseGemm blas(gpu::GemmImpl::blas);
    gpu::set_allow_tf32(true);
    compare_op({random({64, 256}, 55), random({256, 48}, 56)}, mm, 5e-3, 5e-3);
    gpu::set_allow_tf32(false);
    CHECK(!gpu::allow_tf32());
  }
}

namespace {

// One GEMM problem on raw storage, as gpu::gemm takes it: `count` matrices per operand at chosen
// element offsets in padded row-major storage (leading dims wider than the rows), so that the
// kernel's addressing, not only its arithmetic, is checked.
struct GemmProblem {
  bool trans_a, trans_b;
  int64_t M, N, K;
  double alpha, beta;
  enum class Batch { one, strided, broadcast_a, irregular } batch;
  int64_t count;
};

// The stored shape (rows, cols) of an operand whose op() is (rows, cols) before transposition.
std::pair<int64_t, int64_t> stored(bool trans, int64_t rows, int64_t cols) {
  return trans ? std::pair{cols, rows} : std::pair{rows, cols};
}

// Runs p on `impl` in `dtype` and compares the whole C storage (padding included, which must be
// left alone) with the same product computed on the CPU in f64 from the same rounded inputs.
void check_gemm(const GemmProblem& p, DType dtype, gpu::GemmImpl impl, double rtol, double atol) {
  const auto [a_rows, a_cols] = stored(p.trans_a, p.M, p.K);
  const auto [b_rows, b_cols] = stored(p.trans_b, p.K, p.N);
  const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = p.N + 1;
  const int64_t a_size = std::max<int64_t>(a_rows, 1) * lda, b_size = std::max<int64_t>(b_rows, 1) * ldb,
                c_size = p.M * ldc;
  GemmPlan plan;
  plan.trans_a = p.trans_a;
  plan.trans_b = p.trans_b;
  plan.M = p.M;
  plan.N = p.N;
  plan.K = p.K;
  plan.lda = lda;
  plan.ldb = ldb;
  plan.ldc = ldc;
  for (int64_t i = 0; i < p.count; ++i) {
    const int64_t shuffled = (i * 3 + 1) % p.count;  // for count 4: 1, 0, 3, 2, not evenly spaced
    const bool irregular = p.batch == GemmProblem::Batch::irregular;
    plan.a_offsets.push_back(p.batch == GemmProblem::Batch::broadcast_a ? 0 : (irregular ? shuffled : i) * a_size);
    plan.b_offsets.push_back(i * b_size);
    plan.c_offsets.push_back((irregular ? shuffled : i) * c_size);
  }
  // Rounded to dtype first, so that the reference sees the GPU's inputs.
  const Tensor a = random({p.count * a_size}, 101, DType::f64).to(dtype).to(DType::f64);
  const Tensor b = random({p.count * b_size}, 102, DType::f64).to(dtype).to(DType::f64);
  Tensor c0 = random({p.count * c_size}, 103, DType::f64).to(dtype).to(DType::f64);
  if (p.beta == 0) c0.fill_(NAN);  // must not be read
  Tensor expected = c0.clone();
  for (int64_t i = 0; i < p.count; ++i) {
    Tensor op_a = a.view_as_strided({a_rows, a_cols}, {lda, 1}, plan.a_offsets[i]);
    Tensor op_b = b.view_as_strided({b_rows, b_cols}, {ldb, 1}, plan.b_offsets[i]);
    if (p.trans_a) op_a = op_a.transpose(0, 1);
    if (p.trans_b) op_b = op_b.transpose(0, 1);
    Tensor c_i = expected.view_as_strided({p.M, p.N}, {ldc, 1}, plan.c_offsets[i]);
    Tensor product = matmul(op_a, op_b) * p.alpha;
    if (p.beta != 0) product = product + c_i * p.beta;
    c_i.copy_(product);
  }
  const Tensor c = c0.to(dtype).to(kGpu);
  gpu::gemm(impl, plan, a.to(dtype).to(kGpu), b.to(dtype).to(kGpu), c, p.alpha, p.beta);
  check_close(c, expected.to(dtype), rtol, atol, "C storage");
}

}  // namespace

TEST_CASE("gpu: every GEMM implementation over shapes, transpositions, batch layouts, alpha and beta") {
  SKIP_WITHOUT_DEVICE();
  using Batch = GemmProblem::Batch;
  struct Size {
    int64_t M, N, K;
  };
  // Edges of the 64 x 64 x 16 tiles of the own kernel, single rows and columns, and K = 0.
  const std::vector<Size> sizes = {{1, 1, 1},   {1, 37, 5},   {37, 1, 64},   {64, 64, 16}, {65, 63, 17},
                                   {130, 70, 200}, {7, 300, 33}, {5, 6, 0}};
  const std::vector<std::pair<Batch, int64_t>> batches = {
      {Batch::one, 1}, {Batch::strided, 3}, {Batch::broadcast_a, 3}, {Batch::irregular, 4}};
  for (gpu::GemmImpl impl : gemm_impls()) {
    CAPTURE(impl_name(impl));
    for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
      // bf16 and f16 results are rounded once (2^-8 and 2^-11 relative); f32 and f64 accumulate.
      const double rtol = dt == DType::bf16 ? 1.0 / 128 : dt == DType::f16 ? 2e-3 : dt == DType::f32 ? 1e-5 : 1e-12;
      const double atol = dt == DType::f64 ? 1e-12 : dt == DType::f32 ? 2e-5 : rtol;
      for (const Size& s : sizes)
        for (bool trans_a : {false, true})
          for (bool trans_b : {false, true})
            for (const auto& layout : batches)
              for (const auto& scalars : {std::pair{1.0, 0.0}, std::pair{-0.5, 1.5}}) {
                const Batch batch = layout.first;
                const int64_t count = layout.second;
                const double alpha = scalars.first, beta = scalars.second;
                if ((dt == DType::bf16 || dt == DType::f16) && batch != Batch::strided) continue;  // layouts: f32, f64
                CAPTURE(dt);
                CAPTURE(s.M);
                CAPTURE(s.N);
                CAPTURE(s.K);
                CAPTURE(trans_a);
                CAPTURE(trans_b);
                CAPTURE(static_cast<int>(batch));
                CAPTURE(alpha);
                check_gemm({trans_a, trans_b, s.M, s.N, s.K, alpha, beta, batch, count}, dt, impl, rtol, atol);
              }
    }
    // More batch entries than a grid dimension holds (65535): the own kernel walks them grid-stride.
    check_gemm({false, true, 2, 3, 5, 1.0, 0.0, Batch::strided, 70000}, DType::f32, impl, 1e-5, 2e-5);
  }
}

TEST_CASE("gpu: gather, index_select, their scatter-add gradients, and bad indices") {
  SKIP_WITHOUT_DEVICE();
  const Tensor x = random({3, 7, 5}, 60);
  const Tensor idx = from_vector(std::vector<int64_t>{6, 0, 2, 2, 5, 1}, {3, 2});  // repeats: gradients add
  const Tensor expanded = idx.unsqueeze(-1).expand({3, 2, 5});                  // the apply_masks pattern
  compare_op({x}, [&](const std::vector<Tensor>& in) { return gather(in[0], 1, expanded.to(in[0].device())); }, 0, 0);
  const Tensor full_idx = from_vector(std::vector<int64_t>{0, 2, 1, 1, 0, 2, 2, 2, 0, 1, 1, 0, 2, 0, 1}, {1, 3, 5});
  compare_op({x}, [&](const std::vector<Tensor>& in) { return gather(in[0], 0, full_idx.to(in[0].device())); }, 0, 0);
  const Tensor sel = from_vector(std::vector<int64_t>{4, 4, 0}, {3});
  compare_op({x}, [&](const std::vector<Tensor>& in) { return index_select(in[0], 2, sel.to(in[0].device())); }, 0, 0);
  for (DType dt : {DType::bf16, DType::i64}) {  // gather copies any dtype
    const Tensor xd = x.to(dt);
    check_close(gather(xd.to(kGpu), 1, expanded.to(kGpu)), gather(xd, 1, expanded), 0, 0, "gather dtype");
  }
  const Tensor bad = from_vector(std::vector<int64_t>{0, 9}, {1, 2, 1}).expand({1, 2, 5});
  CHECK_THROWS_WITH_AS(gather(x.to(kGpu), 1, bad.to(kGpu)).to_vector<double>(),
                       doctest::Contains("[gather] index 9 is out of bounds for dim 1 with size 7"), Error);
  check_close(gather(x.to(kGpu), 1, expanded.to(kGpu)), gather(x, 1, expanded), 0, 0, "after a reported fault");
}

TEST_CASE("gpu: cat, stack, split and repeat") {
  SKIP_WITHOUT_DEVICE();
  compare_op({random({2, 3, 4}, 61), random({2, 4, 5}, 62)},
             [](const std::vector<Tensor>& in) { return cat({in[0], in[1].transpose(1, 2)}, 1) * 2.0; }, 0, 0);
  compare_op({random({3, 4}, 63), random({3, 4}, 64)}, [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); },
             0, 0);
  compare_op({random({6, 4}, 65)},
             [](const std::vector<Tensor>& in) {
               const auto parts = split(in[0], {2, 4}, 0);
               return sum(parts[1], {0}) + parts[0].select(0, 1);
             },
             1e-6, 1e-6);
  compare_op({random({2, 3}, 66)}, [](const std::vector<Tensor>& in) { return repeat(in[0], {2, 1, 3}); }, 0, 0);
}

TEST_CASE("gpu: losses, forward and gradient") {
  SKIP_WITHOUT_DEVICE();
  const Tensor a = random({9, 13}, 70, DType::f32, -3, 3), b = random({9, 13}, 71, DType::f32, -3, 3);
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    compare_op({a, b}, [&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); }, 1e-5, 1e-5);
    compare_op({a, b}, [&](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], r); }, 1e-5, 1e-5);
    compare_op({a, b}, [&](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], in[1], 0.5, r); }, 1e-5, 1e-5);
  }
  const Tensor labels = from_vector(std::vector<int64_t>{0, 12, 5, 5, 3, 1, 0, 7, 11}, {9});
  compare_op({a}, [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels.to(in[0].device())); }, 1e-5,
             1e-6);
}

TEST_CASE("gpu: scaled_dot_product_attention matches the CPU, forward and gradient") {
  SKIP_WITHOUT_DEVICE();
  for (const Shape& qs : std::vector<Shape>{{2, 3, 17, 32}, {1, 2, 50, 64}, {5, 8, 16}}) {
    CAPTURE(qs);
    Shape ks = qs;
    ks[ks.size() - 2] = 23;
    compare_op({random(qs, 80), random(ks, 81), random(ks, 82)},
               [](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); }, 2e-5,
               2e-5);
  }
}

TEST_CASE("gpu: rope and the block-causal attention mask refuse GPU tensors until their kernels exist") {
  SKIP_WITHOUT_DEVICE();
  const Tensor x = random({1, 2, 4, 8}, 90).to(kGpu);
  CHECK_THROWS_WITH_AS(rope(x, zeros({4, 1}), 2), doctest::Contains("rope has no GPU kernel yet"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(x, x, x, std::nullopt, BlockCausalMask{2}),
                       doctest::Contains("the GPU masked attention kernel is not there yet"), Error);
  CHECK(scaled_dot_product_attention(x, x, x).device() == kGpu);  // the unmasked path is unchanged
}

TEST_CASE("gpu: AdamW, EMA and gradient clipping on flat buffers match the CPU") {
  SKIP_WITHOUT_DEVICE();
  struct Replica {
    std::shared_ptr<nn::Linear> online, target;
    std::shared_ptr<optim::FlatParameters> online_flat, target_flat;
    std::unique_ptr<optim::AdamW> adamw;
  };
  auto make = [](Device device) {
    Generator gen(90);
    Replica r;
    r.online = std::make_shared<nn::Linear>(37, 29, true, gen);
    r.target = std::make_shared<nn::Linear>(37, 29, true, gen);
    r.online->to(device);
    r.target->to(device);
    r.online_flat = std::make_shared<optim::FlatParameters>(r.online->named_parameters());
    r.target_flat = std::make_shared<optim::FlatParameters>(r.target->named_parameters(), false);
    r.adamw = std::make_unique<optim::AdamW>(std::vector<std::shared_ptr<optim::FlatParameters>>{r.online_flat});
    return r;
  };
  Replica cpu = make(Device::cpu()), gpu_r = make(kGpu);
  const Tensor x = random({11, 37}, 91);
  for (int step = 0; step < 3; ++step) {
    for (Replica* r : {&cpu, &gpu_r}) {
      r->adamw->zero_grad();
      sum(tanh(r->online->forward(x.to(r->online->weight.device())))).backward();
      const double norm = optim::clip_grad_norm({r->online_flat}, 0.5);
      CHECK(norm > 0.5);
      r->adamw->step(1e-2, 0.05);
      optim::ema_update(*r->target_flat, *r->online_flat, 0.9);
    }
    check_close(gpu_r.online_flat->grads(), cpu.online_flat->grads(), 1e-5, 1e-6, "clipped gradients");
    check_close(gpu_r.online_flat->values(), cpu.online_flat->values(), 1e-5, 1e-6, "AdamW parameters");
    check_close(gpu_r.target_flat->values(), cpu.target_flat->values(), 1e-5, 1e-6, "EMA parameters");
  }
}

namespace {

// A two-block I-JEPA on 16 x 16 images of 4 x 4 patches, initialised from `seed`, on `device`.
std::shared_ptr<models::IJEPA> tiny_ijepa(Device device, uint64_t seed) {
  Generator gen(seed);
  models::IJEPAConfig cfg;
  cfg.encoder = models::vit_config("vit_tiny", 16, 4, 1);
  cfg.encoder.depth = 2;
  cfg.predictor = models::predictor_for(cfg.encoder, 96, 2);
  auto model = std::make_shared<models::IJEPA>(cfg, gen);
  model->encoder->to(device);
  model->predictor->to(device);
  model->target_encoder->to(device);
  return model;
}

}  // namespace

TEST_CASE("gpu: an I-JEPA loss and its gradients match the CPU") {
  SKIP_WITHOUT_DEVICE();
  auto cpu_model = tiny_ijepa(Device::cpu(), 3), gpu_model = tiny_ijepa(kGpu, 3);
  Generator gen(4);
  const Tensor images = uniform({2, 1, 16, 16}, 0, 1, gen);
  const Tensor ctx = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9}, {2, 6});
  const Tensor t1 = from_vector(std::vector<int64_t>{10, 11, 14, 15}, {2, 2});
  const Tensor t2 = from_vector(std::vector<int64_t>{12, 13, 0, 1}, {2, 2});
  const Tensor cpu_loss = cpu_model->loss(images, {ctx}, {t1, t2});
  const Tensor gpu_loss = gpu_model->loss(images.to(kGpu), {ctx.to(kGpu)}, {t1.to(kGpu), t2.to(kGpu)});
  CHECK(gpu_loss.item() == doctest::Approx(cpu_loss.item()).epsilon(1e-5));
  cpu_loss.backward();
  gpu_loss.backward();
  const auto cpu_params = cpu_model->encoder->named_parameters(), gpu_params = gpu_model->encoder->named_parameters();
  REQUIRE(cpu_params.size() == gpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    CAPTURE(cpu_params[i].first);
    check_close(gpu_params[i].second.grad(), cpu_params[i].second.grad(), 1e-3, 1e-3 * max_abs(cpu_params[i].second.grad()),
                "encoder gradient");
  }
}

TEST_CASE("gpu: two I-JEPA training steps (AdamW, EMA) match the CPU's to 1e-5 relative") {
  SKIP_WITHOUT_DEVICE();
  struct Run {
    std::shared_ptr<models::IJEPA> model;
    std::unique_ptr<models::JepaTrainer> trainer;
  };
  auto build = [](Device device) {
    Run run{tiny_ijepa(device, 5), nullptr};
    models::TrainRecipe recipe;
    recipe.iterations_per_epoch = 10;
    run.trainer = std::make_unique<models::JepaTrainer>(run.model->encoder, run.model->predictor,
                                                        run.model->target_encoder, recipe);
    return run;
  };
  Run cpu = build(Device::cpu()), gpu = build(kGpu);
  Generator gen(6);
  const Tensor ctx = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9}, {2, 6});
  const Tensor t1 = from_vector(std::vector<int64_t>{10, 11, 14, 15}, {2, 2});
  const Tensor t2 = from_vector(std::vector<int64_t>{12, 13, 0, 1}, {2, 2});
  for (int step = 0; step < 2; ++step) {
    const Tensor images = uniform({2, 1, 16, 16}, 0, 1, gen);
    const models::StepStats c = cpu.trainer->step([&] { return cpu.model->loss(images, {ctx}, {t1, t2}); });
    const models::StepStats g = gpu.trainer->step(
        [&] { return gpu.model->loss(images.to(kGpu), {ctx.to(kGpu)}, {t1.to(kGpu), t2.to(kGpu)}); });
    CHECK(g.loss == doctest::Approx(c.loss).epsilon(1e-5));
  }
  // Relative to the norm of each module's parameters (and of the optimizer state): Adam's first
  // updates are lr * sign(g), so an element whose gradient is rounding noise may move the other
  // way; a bias that started at zero has too few elements for a norm of its own to absorb that.
  const auto cpu_state = models::training_state(*cpu.trainer), gpu_state = models::training_state(*gpu.trainer);
  REQUIRE(cpu_state.size() == gpu_state.size());
  std::map<std::string, std::pair<double, double>> groups;  // module -> (squared difference, squared norm)
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    REQUIRE(cpu_state[i].first == gpu_state[i].first);
    auto& [diff, norm] = groups[cpu_state[i].first.substr(0, cpu_state[i].first.find('.'))];
    const std::vector<double> c = cpu_state[i].second.to_vector<double>(), g = gpu_state[i].second.to_vector<double>();
    for (size_t k = 0; k < c.size(); ++k) {
      diff += (g[k] - c[k]) * (g[k] - c[k]);
      norm += c[k] * c[k];
    }
  }
  CHECK(groups.size() == 4);  // encoder, predictor, target_encoder, optimizer
  for (const auto& group : groups) {  // no structured binding: clang 15 cannot capture one (CAPTURE)
    const std::string& module = group.first;
    CAPTURE(module);
    CHECK(std::sqrt(group.second.first) <= 1e-5 * std::sqrt(group.second.second));
  }
}
