// The CUDA backend against the CPU: every op's forward and gradients on the same inputs, dtype
// conversions, the caching allocator, and error messages. Without a usable device each case
// prints "SKIPPED: ..." and returns (CTest reports it as skipped), except the cases that check
// what happens when there is no device.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include <jepa/jepa.hpp>

using namespace jepa;

namespace {

const Device kGpu = Device::cuda();

#define SKIP_WITHOUT_DEVICE()                                                                           \
  do {                                                                                                  \
    if (!gpu::available()) {                                                                            \
      std::printf("SKIPPED: no usable CUDA device (%s)\n", gpu::unavailable_reason().c_str());          \
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

TEST_CASE("cuda: without a device, tensors on it fail with a clear message") {
  if (gpu::available()) {
    const int n = gpu::device_count();
    CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, Device::cuda(n)),
                         doctest::Contains(detail::concat("[cuda] device cuda:", n, " does not exist").c_str()), Error);
    return;
  }
  CHECK(gpu::device_count() == 0);
  CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, kGpu), doctest::Contains("[cuda] no cuda device is available: cudaGetDeviceCount failed"), Error);
  CHECK_THROWS_WITH_AS(tensor({1, 2}).to(kGpu), doctest::Contains("[cuda] no cuda device is available"), Error);
}

TEST_CASE("cuda: runtime errors name the call, the error and the place") {
  SKIP_WITHOUT_DEVICE();
  const size_t too_much = size_t{1} << 62;
  CHECK_THROWS_WITH_AS(Tensor::empty({static_cast<int64_t>(too_much / 4)}, DType::f32, kGpu),
                       doctest::Contains("[allocate] out of memory on cuda:0 allocating"), Error);
  CHECK_THROWS_WITH_AS(gpu::synchronize(gpu::device_count()), doctest::Contains("does not exist"), Error);
}

TEST_CASE("cuda: copies to, from and on the device keep every dtype's bits") {
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

TEST_CASE("cuda: dtype conversions round like the CPU, subnormals, infinities and NaN included") {
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

TEST_CASE("cuda: strided copies, fills and in-place updates match the CPU") {
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

TEST_CASE("cuda: unary ops, forward and gradient, f32 and f64") {
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
    for (const auto& [name, f] : ops) {
      CAPTURE(name);
      CAPTURE(dt);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return f(in[0]); }, tol, tol);
      compare_op({x}, [&](const std::vector<Tensor>& in) { return f(in[0].transpose(0, 1)); }, tol, tol);
    }
  }
}

TEST_CASE("cuda: binary ops broadcast, forward and gradient") {
  SKIP_WITHOUT_DEVICE();
  using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / (abs(b) + 0.5); }},
  };
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{7, 9}, {7, 9}}, {{4, 7, 9}, {9}}, {{4, 1, 9}, {7, 1}}, {{1}, {3, 5}}, {{2, 3, 4, 5, 6}, {3, 1, 5, 1}}, {{}, {}}};
  for (const auto& [sa, sb] : shapes)
    for (const auto& [name, f] : ops) {
      CAPTURE(name);
      CAPTURE(sa);
      CAPTURE(sb);
      compare_op({random(sa, 4), random(sb, 5)}, [&](const std::vector<Tensor>& in) { return f(in[0], in[1]); }, 2e-6,
                 2e-6);
    }
  const Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {4}), b = from_vector(std::vector<double>{1, 0, 3, 5}, {4});
  check_close(eq(a.to(kGpu), b.to(kGpu)), eq(a, b), 0, 0, "eq");
}

TEST_CASE("cuda: reductions over any dims, long axes and NaN") {
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

TEST_CASE("cuda: a small graph mixing views, broadcasting and reductions gives the CPU's gradients") {
  SKIP_WITHOUT_DEVICE();
  compare_op({random({5, 8}, 10), random({8}, 11), random({5, 1}, 12)},
             [](const std::vector<Tensor>& in) {
               const Tensor h = tanh(in[0] * in[1] + in[2]);
               return mean(sum(h.transpose(0, 1).slice(0, 1, 7, 2) * h.narrow(1, 0, 5).transpose(0, 1), {0}) /
                           max(exp(h), {1}));
             },
             1e-5, 1e-6);
}

TEST_CASE("cuda: bf16 elementwise kernels compute in f32 and round once") {
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
  gpu::map1(g, a16.to(kGpu), detail::ForwardFn<detail::GeluOp>{});
  check_close(g, gelu(a16.to(DType::f32)).to(DType::bf16), 0, 0.0079, "bf16 gelu");  // one bf16 ulp near 1
}

TEST_CASE("cuda: the caching allocator reuses freed blocks and returns them on empty_cache") {
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
  step();
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
// q, k, v are CPU tensors of `dtype`, possibly strided views.
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
  const gpu::AttentionResult r = gpu::attention_forward(qg, kg, vg, scale);
  check_close(r.out, expected, rtol, atol_fraction * max_abs(expected), "attention out");
  check_close(r.lse, expected_lse, 1e-5, 1e-5, "attention lse");
  const gpu::AttentionGrads g = gpu::attention_backward(qg, kg, vg, r.out, r.lse, dout.to(kGpu), scale);
  check_close(g.dq, q64.grad(), rtol, atol_fraction * max_abs(q64.grad()), "attention dq");
  check_close(g.dk, k64.grad(), rtol, atol_fraction * max_abs(k64.grad()), "attention dk");
  check_close(g.dv, v64.grad(), rtol, atol_fraction * max_abs(v64.grad()), "attention dv");
}

}  // namespace

TEST_CASE("cuda: fused attention matches the composition, forward and backward, f32 and bf16") {
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

TEST_CASE("cuda: fused attention reads q, k, v as head views of one qkv projection") {
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
