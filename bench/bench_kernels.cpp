// The fused CPU kernels against the same math written as separate ops (the composite), in one
// process: layer_norm, softmax, log_softmax, GELU+bias, AdamW and EMA in GB/s (the bytes a single
// pass must move: inputs read once, outputs written once), attention forward+backward in GFLOP/s
// (12 N M d per head: the four products of the forward and backward, as written), at the I-JEPA
// quick-start shapes and at a long sequence, plus attention's peak memory against the sequence
// length. Each figure is the median of kRuns runs, ours and the composite alternating, at 1 and 2
// threads (`--isa avx2` or `--isa scalar` caps the SIMD path); one JSON line per case:
//   {"bench":"kernels","kernel":..,"threads":..,"ours":..,"composite":..,"unit":..,"speedup":..}
// (for memory lines "speedup" is the composite's peak over ours).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <jepa/io/json.hpp>
#include <jepa/jepa.hpp>
#include <jepa/optim/adamw.hpp>
#include <string>
#include <vector>

using namespace jepa;

namespace {

constexpr int kRuns = 5;

struct Case {
  std::string kernel, unit;
  double work;  // bytes or flops per run
  std::function<void()> ours, composite;
};

double seconds(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void print(const std::string& kernel, int threads, double ours, double composite, const std::string& unit,
           double speedup) {
  std::printf("%s\n", json::ObjectWriter()
                          .add("bench", "kernels")
                          .add("kernel", kernel)
                          .add("threads", threads)
                          .add("ours", ours)
                          .add("composite", composite)
                          .add("unit", unit)
                          .add("speedup", speedup)
                          .str()
                          .c_str());
  std::fflush(stdout);
}

void run(const Case& c, int threads) {
  omp_set_num_threads(threads);
  c.ours();  // warm the allocator cache and the threads
  c.composite();
  std::vector<double> ours, composite;
  for (int r = 0; r < kRuns; ++r) {
    ours.push_back(seconds(c.ours));
    composite.push_back(seconds(c.composite));
  }
  const double a = c.work / median(ours) * 1e-9, b = c.work / median(composite) * 1e-9;
  print(c.kernel, threads, a, b, c.unit, a / b);
}

// Forward, then backward with a fixed upstream gradient, dropping the input gradients first so
// that both sides write them fresh.
std::function<void()> fwd_bwd(std::function<Tensor()> forward, std::vector<Tensor> leaves, Tensor upstream) {
  return [=] {
    for (const Tensor& t : leaves) t.impl().grad = nullptr;
    forward().backward(upstream);
  };
}

Tensor leaf(const Shape& shape, uint64_t seed, double lo = -2, double hi = 2) {
  Generator g(seed);
  return uniform(shape, lo, hi, g).requires_grad_();
}

Tensor like(const Tensor& t, uint64_t seed) {
  Generator g(seed);
  return normal(t.shape(), 0, 1, g);
}

// The unfused forms.
Tensor softmax_composite(const Tensor& x, bool log) {
  Tensor shifted = x - max(x, {-1}, true).detach();
  Tensor e = exp(shifted), total = sum(e, {-1}, true);
  return log ? shifted - jepa::log(total) : e / total;
}

Tensor layer_norm_composite(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor centered = x - mean(x, {-1}, true);
  return centered * rsqrt(mean(centered * centered, {-1}, true) + 1e-6) * w + b;
}

struct ScalarGelu {  // GELU as a per-element functor with std::erf, as an unfused op applies it
  static constexpr const char* name = "gelu";
  static constexpr detail::Saves saves = detail::Saves::input;
  template <class T> T forward(T x) const { return detail::GeluFn{}(x); }
  template <class T> T backward(T g, T x) const { return detail::GeluGradFn{}(g, x); }
};

std::vector<Case> elementwise_cases() {
  std::vector<Case> cases;
  {
    Tensor x = leaf({64 * 49, 192}, 1), w = leaf({192}, 2, 0.5, 1.5), b = leaf({192}, 3);
    Tensor dy = like(x, 4);
    cases.push_back({"layer_norm_fwd_bwd", "GB/s", 5.0 * 4 * x.numel(),
                     fwd_bwd([=] { return layer_norm(x, {192}, w, b, 1e-6); }, {x, w, b}, dy),
                     fwd_bwd([=] { return layer_norm_composite(x, w, b); }, {x, w, b}, dy)});
  }
  {
    Tensor x = leaf({64 * 3 * 49, 49}, 5, -8, 8), dy = like(x, 6);
    cases.push_back({"softmax_fwd_bwd", "GB/s", 5.0 * 4 * x.numel(), fwd_bwd([=] { return softmax(x, -1); }, {x}, dy),
                     fwd_bwd([=] { return softmax_composite(x, false); }, {x}, dy)});
  }
  {
    Tensor x = leaf({1024, 1000}, 7, -8, 8), dy = like(x, 8);
    cases.push_back({"log_softmax_fwd_bwd", "GB/s", 5.0 * 4 * x.numel(),
                     fwd_bwd([=] { return log_softmax(x, -1); }, {x}, dy),
                     fwd_bwd([=] { return softmax_composite(x, true); }, {x}, dy)});
  }
  {
    Tensor x = leaf({64 * 49, 768}, 9, -3, 3), b = leaf({768}, 10), dy = like(x, 11);
    cases.push_back({"gelu_bias_fwd_bwd", "GB/s", 5.0 * 4 * x.numel(),
                     fwd_bwd([=] { return bias_gelu(x, b); }, {x, b}, dy),
                     fwd_bwd([=] { return detail::unary(x + b, ScalarGelu{}); }, {x, b}, dy)});
  }
  {
    const int64_t n = 5'500'000;  // about the quick-start's encoder and predictor together
    Generator g(12);
    Tensor p = uniform({n}, -1, 1, g), grad = uniform({n}, -1, 1, g), m = zeros({n}), v = zeros({n});
    const std::vector<cpu::DecaySegment> segments{{0, n, true}};
    const cpu::AdamWStep s{1e-3, 0.05, 0.9, 0.999, 1e-8, 1};
    const float keep = 1 - 1e-3f * 0.05f, step_size = 1e-3f / (1 - 0.9f), inv_sqrt_bc2 = 1 / std::sqrt(1 - 0.999f);
    cases.push_back({"adamw", "GB/s", 7.0 * 4 * n,
                     [=] {
                       cpu::adamw(p.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(), segments, s);
                     },
                     [=]() mutable {
                       NoGrad no_grad;
                       m.copy_(m * 0.9 + grad * 0.1);
                       v.copy_(v * 0.999 + grad * grad * 0.001);
                       p.copy_(p * keep - m * step_size / (sqrt(v) * inv_sqrt_bc2 + 1e-8));
                     }});
    Tensor target = uniform({n}, -1, 1, g);
    cases.push_back({"ema", "GB/s", 3.0 * 4 * n, [=] { cpu::ema(target.data<float>(), p.data<float>(), n, 0.996); },
                     [=]() mutable {
                       NoGrad no_grad;
                       target.copy_(target * 0.996 + p * 0.004);
                     }});
  }
  return cases;
}

// q, k, v (B, H, N, d) as the ViT makes them: heads selected from a (B, N, 3, H, d) projection.
Case attention_case(const std::string& name, int64_t B, int64_t H, int64_t N, int64_t d) {
  Tensor base = leaf({B, N, 3, H, d}, 13, -1, 1);
  Tensor dy = like(zeros({B, H, N, d}), 14);
  auto heads = [base] {
    Tensor p = base.permute({2, 0, 3, 1, 4});
    return std::vector<Tensor>{p.select(0, 0), p.select(0, 1), p.select(0, 2)};
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  return {name, "GFLOP/s", 12.0 * B * H * N * N * d, fwd_bwd([=] {
            const auto t = heads();
            return scaled_dot_product_attention(t[0], t[1], t[2]);
          }, {base}, dy),
          fwd_bwd([=] {
            const auto t = heads();
            return detail::attention_reference(t[0], t[1], t[2], scale);
          }, {base}, dy)};
}

// Peak host memory (MiB) of one forward+backward above what was in use before it.
double peak_mib(const std::function<void()>& f) {
  const size_t before = cpu_memory_in_use();
  reset_cpu_memory_peak();
  f();
  return static_cast<double>(cpu_memory_peak() - before) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  cpu::Isa limit = cpu::Isa::avx512;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--isa")
      for (cpu::Isa isa : {cpu::Isa::avx512, cpu::Isa::avx2, cpu::Isa::scalar})
        if (argv[i + 1] == std::string(cpu::isa_name(isa))) limit = isa;
  cpu::ScopedIsaLimit isa_limit(limit);
  std::fprintf(stderr, "fused kernels use %s\n", cpu::isa_name(cpu::simd_isa()));
  std::vector<Case> cases = elementwise_cases();
  cases.push_back(attention_case("attention_fwd_bwd_B64_H3_N49_d64", 64, 3, 49, 64));
  cases.push_back(attention_case("attention_fwd_bwd_B1_H2_N4096_d64", 1, 2, 4096, 64));
  for (int threads : {1, 2})
    for (const Case& c : cases) run(c, threads);
  for (int64_t N : {1024, 2048, 4096}) {
    const Case c = attention_case("attention_peak_memory_B1_H2_N" + std::to_string(N) + "_d64", 1, 2, N, 64);
    const double ours = peak_mib(c.ours), composite = peak_mib(c.composite);
    print(c.kernel, omp_get_max_threads(), ours, composite, "MiB", composite / ours);
  }
}
