// The fused CPU kernels against their composite references (the same math written with separate
// ops), forward and backward, on every SIMD path this machine runs (AVX-512, AVX2, portable):
// f32 to a tight tolerance, f64 near-exactly; finite-difference gradchecks of the fused attention
// and GELU+bias; the accuracy of the f32 SIMD exp and normal CDF/PDF; AdamW and EMA against their
// scalar formulas.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <jepa/jepa.hpp>
#include <jepa/optim/adamw.hpp>

#include "kernel_checks.hpp"

using namespace jepa;
using namespace jepa::test;

namespace {

Tensor softmax_reference(const Tensor& x, int64_t dim, bool log) {
  Tensor shifted = x - max(x, {dim}, true).detach();
  Tensor e = exp(shifted), total = sum(e, {dim}, true);
  return log ? shifted - jepa::log(total) : e / total;
}

Tensor layer_norm_reference(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Tensor centered = x - mean(x, {-1}, true);
  Tensor y = centered * rsqrt(mean(centered * centered, {-1}, true) + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

// erf as an elementwise op, for writing GELU out of separate ops.
struct ErfOp {
  static constexpr const char* name = "erf";
  static constexpr detail::Saves saves = detail::Saves::input;
  template <class T> T forward(T x) const { return std::erf(x); }
  template <class T> T backward(T g, T x) const { return g * T(M_2_SQRTPI) * std::exp(-x * x); }
};

Tensor gelu_reference(const Tensor& h) { return h * (0.5 * (1.0 + detail::unary(h * M_SQRT1_2, ErfOp{}))); }

}  // namespace

TEST_CASE("f32 SIMD exp and normal CDF/PDF are accurate on their whole range") {
  std::vector<float> x;
  for (double v = -103.0; v < 88.7; v += 0.00731) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, -87.3f}) x.push_back(v);
  std::vector<float> h;
  for (double v = -14.0; v < 14.0; v += 0.000731) h.push_back(static_cast<float>(v));
  for_each_isa([&] {
    std::vector<float> e(x.size()), cdf(h.size()), pdf(h.size());
    cpu::dispatch_simd<float>([&](auto tag) {
      using V = typename decltype(tag)::type;
      for (size_t i = 0; i < x.size(); i += V::width) {
        const int64_t n = static_cast<int64_t>(x.size() - i);
        cpu::simd::exp(V::load(&x[i], n)).store(&e[i], n);
      }
      for (size_t i = 0; i < h.size(); i += V::width) {
        const int64_t n = static_cast<int64_t>(h.size() - i);
        const auto r = cpu::simd::normal_cdf_pdf(V::load(&h[i], n));
        r.cdf.store(&cdf[i], n);
        r.pdf.store(&pdf[i], n);
      }
    });
    double exp_error = 0, cdf_error = 0, pdf_error = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = std::exp(static_cast<double>(x[i]));
      if (ref > 1.2e-38) exp_error = std::max(exp_error, std::abs(e[i] - ref) / ref);
    }
    for (size_t i = 0; i < h.size(); ++i) {
      const double z = h[i] * M_SQRT1_2;
      const double ref_cdf = 0.5 * std::erfc(-z), ref_pdf = std::exp(-z * z) / std::sqrt(2 * M_PI);
      if (ref_cdf > 1.2e-38) cdf_error = std::max(cdf_error, std::abs(cdf[i] - ref_cdf) / ref_cdf);
      if (ref_pdf > 1.2e-38) pdf_error = std::max(pdf_error, std::abs(pdf[i] - ref_pdf) / ref_pdf);
    }
    CHECK(exp_error < 1.2e-7);  // 2 ulp
    CHECK(cdf_error < 5e-7);
    CHECK(pdf_error < 3e-7);
    float special[4] = {-INFINITY, INFINITY, NAN, 100.0f}, out[4];
    cpu::dispatch_simd<float>([&](auto tag) {
      using V = typename decltype(tag)::type;
      for (int i = 0; i < 4; i += static_cast<int>(V::width))
        cpu::simd::exp(V::load(special + i, 4 - i)).store(out + i, 4 - i);
    });
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == INFINITY);
    CHECK(std::isnan(out[2]));
    CHECK(out[3] == INFINITY);
  });
}

TEST_CASE("softmax and log_softmax match the composite of max, exp, sum and div") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (const Shape& shape : {Shape{3, 1}, Shape{4, 7}, Shape{2, 49}, Shape{3, 100}, Shape{2, 1000}}) {
        CAPTURE(shape);
        Tensor x = random(shape, 1, dtype, -8, 8);
        for (bool log : {false, true}) {
          check_against([log](auto& t) { return log ? log_softmax(t[0], -1) : softmax(t[0], -1); },
                        [log](auto& t) { return softmax_reference(t[0], -1, log); }, {x}, tolerance(dtype));
          check_against([log](auto& t) { return log ? log_softmax(t[0], 0) : softmax(t[0], 0); },
                        [log](auto& t) { return softmax_reference(t[0], 0, log); }, {x}, tolerance(dtype));
        }
      }
      Tensor y = random({2, 5, 37}, 2, dtype, -8, 8);  // the middle dim, 37 lanes per row group
      check_against([](auto& t) { return softmax(t[0], 1); }, [](auto& t) { return softmax_reference(t[0], 1, false); },
                    {y}, tolerance(dtype));
      check_against([](auto& t) { return log_softmax(t[0], 1); },
                    [](auto& t) { return softmax_reference(t[0], 1, true); }, {y}, tolerance(dtype));
    });
  }
}

TEST_CASE("softmax keeps PyTorch's answers for -inf, large and NaN inputs") {
  for_each_isa([] {
    const std::vector<float> rows{-INFINITY, 0,         -INFINITY,  // one finite value
                                  1000,      1000,      -1000,      // exp would overflow without the max
                                  -INFINITY, -INFINITY, -INFINITY,  // NaN, as in PyTorch
                                  NAN,       1,         2};
    Tensor x = from_vector(rows, {4, 3});
    const auto y = softmax(x, 1).to_vector<double>(), l = log_softmax(x, 1).to_vector<double>();
    CHECK(y[0] == 0);
    CHECK(y[1] == 1);
    CHECK(y[3] == doctest::Approx(0.5));
    CHECK(y[5] == 0);
    CHECK(l[0] == -INFINITY);
    CHECK(l[1] == 0);
    for (int i = 6; i < 12; ++i) {
      CHECK(std::isnan(y[i]));
      CHECK(std::isnan(l[i]));
    }
  });
}

TEST_CASE("layer_norm matches the composite of mean, sub, mul and rsqrt") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (int64_t D : {3, 5, 16, 192, 1000}) {
        CAPTURE(D);
        Tensor x = random({3, 11, D}, 3, dtype, -3, 5);
        Tensor w = random({D}, 4, dtype, 0.5, 1.5), b = random({D}, 5, dtype);
        check_against([D](auto& t) { return layer_norm(t[0], {D}, t[1], t[2], 1e-5); },
                      [](auto& t) { return layer_norm_reference(t[0], t[1], t[2], 1e-5); }, {x, w, b},
                      tolerance(dtype) * 4);
        check_against([D](auto& t) { return layer_norm(t[0], {D}); },
                      [](auto& t) { return layer_norm_reference(t[0], Tensor(), Tensor(), 1e-5); }, {x},
                      tolerance(dtype) * 4);
      }
      Tensor offset = random({4, 64}, 6, dtype, 1000, 1001);  // a large mean: the variance must not cancel
      check_against([](auto& t) { return layer_norm(t[0], {64}); },
                    [](auto& t) { return layer_norm_reference(t[0], Tensor(), Tensor(), 1e-5); }, {offset},
                    dtype == DType::f32 ? 2e-3 : 1e-9);
    });
  }
}

TEST_CASE("gelu and bias_gelu match the erf composite") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (const Shape& shape : {Shape{1, 1}, Shape{7, 13}, Shape{64, 49, 24}, Shape{3, 1000}}) {
        CAPTURE(shape);
        Tensor x = random(shape, 8, dtype, -9, 9);
        Tensor b = random({shape.back()}, 9, dtype, -1, 1);
        check_against([](auto& t) { return gelu(t[0]); }, [](auto& t) { return gelu_reference(t[0]); }, {x},
                      tolerance(dtype));
        check_against([](auto& t) { return bias_gelu(t[0], t[1]); },
                      [](auto& t) { return gelu_reference(t[0] + t[1]); }, {x, b}, tolerance(dtype) * 4);
      }
    });
  }
  Tensor x = random({3, 4}, 10, DType::f32);
  CHECK_THROWS_WITH_AS(bias_gelu(x, zeros({3})),
                       "[bias_gelu] bias of shape [3] does not match the last dim of input shape [3, 4]", Error);
}

TEST_CASE("gradcheck: gelu and bias_gelu") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  Tensor x = random({3, 5, 4}, 11, DType::f64, -4, 4).requires_grad_();
  Tensor b = random({4}, 12, DType::f64).requires_grad_();
  check([](auto& t) { return gelu(t[0]); }, {x});
  check([](auto& t) { return bias_gelu(t[0], t[1]); }, {x, b});
  check([](auto& t) { return bias_gelu(t[0].transpose(0, 1), t[1]); }, {x, b});
}

namespace {

// q, k, v of shape (B, H, N, dh) as the ViT makes them: heads selected out of one (B, N, 3, H, dh)
// projection, so their strides are (N 3D, dh, 3D, 1).
std::vector<Tensor> packed_qkv(int64_t B, int64_t H, int64_t N, int64_t dh, uint64_t seed, DType dtype) {
  Tensor qkv = random({B, N, 3, H, dh}, seed, dtype).permute({2, 0, 3, 1, 4});
  return {qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)};
}

Tensor attention_fused(const std::vector<Tensor>& t) { return scaled_dot_product_attention(t[0], t[1], t[2]); }
Tensor attention_composite(const std::vector<Tensor>& t) {
  return detail::attention_reference(t[0], t[1], t[2], 1.0 / std::sqrt(static_cast<double>(t[0].size(-1))));
}

}  // namespace

TEST_CASE("attention matches the matmul-softmax composite across block boundaries") {
  struct Case {
    int64_t batch, heads, N, M, dh, dv;
  };
  const std::vector<Case> cases = {{2, 3, 1, 1, 8, 8},   {1, 2, 7, 7, 16, 16},  {2, 1, 65, 7, 33, 17},
                                   {1, 1, 130, 65, 64, 64}, {1, 2, 7, 130, 32, 40}, {3, 3, 49, 49, 64, 64}};
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (const Case& c : cases) {
        CAPTURE(c.N);
        CAPTURE(c.M);
        CAPTURE(c.dh);
        Tensor q = random({c.batch, c.heads, c.N, c.dh}, 13, dtype);
        Tensor k = random({c.batch, c.heads, c.M, c.dh}, 14, dtype);
        Tensor v = random({c.batch, c.heads, c.M, c.dv}, 15, dtype);
        check_against(attention_fused, attention_composite, {q, k, v}, tolerance(dtype) * 4);
      }
    });
  }
}

TEST_CASE("attention reads strided and broadcast q, k, v in place") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      for (int64_t N : {7, 49, 65}) {
        const auto qkv = packed_qkv(2, 3, N, 16, 16, dtype);
        // gradients through the strided views, against the composite on the same views
        Tensor base = random({2, N, 3, 3, 16}, 17, dtype);
        check_against([](auto& t) {
                        Tensor p = t[0].permute({2, 0, 3, 1, 4});
                        return attention_fused({p.select(0, 0), p.select(0, 1), p.select(0, 2)});
                      },
                      [](auto& t) {
                        Tensor p = t[0].permute({2, 0, 3, 1, 4});
                        return attention_composite({p.select(0, 0), p.select(0, 1), p.select(0, 2)});
                      },
                      {base}, tolerance(dtype) * 4);
        CHECK(difference(attention_fused(qkv), attention_composite(qkv)) <= tolerance(dtype) * 4);
      }
      Tensor q = random({2, 3, 9, 8}, 18, dtype), k = random({1, 11, 8}, 19, dtype), v = random({3, 11, 5}, 20, dtype);
      check_against(attention_fused, attention_composite, {q, k, v}, tolerance(dtype) * 4);  // broadcast batch dims
      Tensor qt = random({2, 8, 9}, 21, dtype);  // last dim not contiguous: copied once
      check_against([](auto& t) { return attention_fused({t[0].transpose(1, 2), t[1], t[2]}); },
                    [](auto& t) { return attention_composite({t[0].transpose(1, 2), t[1], t[2]}); },
                    {qt, k.select(0, 0), v.select(0, 0)}, tolerance(dtype) * 4);
    });
  }
}

TEST_CASE("gradcheck: fused attention") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  auto leaf = [](const Shape& s, uint64_t seed) { return random(s, seed, DType::f64, -1, 1).requires_grad_(); };
  check(attention_fused, {leaf({2, 2, 7, 4}, 22), leaf({2, 2, 5, 4}, 23), leaf({2, 2, 5, 3}, 24)});
  check(attention_fused, {leaf({1, 1, 4}, 25), leaf({1, 1, 4}, 26), leaf({1, 1, 2}, 27)});  // N = M = 1
  check(attention_fused, {leaf({1, 65, 2}, 28), leaf({1, 130, 2}, 29), leaf({1, 130, 3}, 30)});  // blocks of 64
  check([](auto& t) { return scaled_dot_product_attention(t[0], t[1], t[2], 0.7); },
        {leaf({130, 2}, 31), leaf({7, 2}, 32), leaf({7, 1}, 33)});
  Tensor base = leaf({2, 7, 3, 2, 4}, 34);  // strided q/k/v views of one packed projection
  check([](auto& t) {
    Tensor p = t[0].permute({2, 0, 3, 1, 4});
    return attention_fused({p.select(0, 0), p.select(0, 1), p.select(0, 2)});
  }, {base});
}

TEST_CASE("AdamW and EMA kernels follow their formulas on every path") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    for_each_isa([&] {
      const int64_t n = 1000 + 13;
      Tensor p = random({n}, 40, dtype), g = random({n}, 41, dtype), m = random({n}, 42, dtype, -0.1, 0.1);
      Tensor v = random({n}, 43, dtype, 0, 0.1);
      const auto p0 = p.to_vector<double>(), g0 = g.to_vector<double>(), m0 = m.to_vector<double>(),
                 v0 = v.to_vector<double>();
      const cpu::AdamWStep s{1e-2, 0.05, 0.9, 0.999, 1e-8, 3};
      const std::vector<cpu::DecaySegment> segments{{0, 500, true}, {500, n, false}};
      dispatch_float(dtype, "test", [&](auto tag) {
        using T = typename decltype(tag)::type;
        cpu::adamw(p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), segments, s);
      });
      const auto p1 = p.to_vector<double>(), m1 = m.to_vector<double>(), v1 = v.to_vector<double>();
      double worst = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double mi = 0.9 * m0[i] + 0.1 * g0[i], vi = 0.999 * v0[i] + 0.001 * g0[i] * g0[i];
        const double keep = i < 500 ? 1 - 1e-2 * 0.05 : 1.0;
        const double step = 1e-2 / (1 - std::pow(0.9, 3)), v_hat = vi / (1 - std::pow(0.999, 3));
        const double pi = p0[i] * keep - step * mi / (std::sqrt(v_hat) + 1e-8);
        worst = std::max({worst, std::abs(mi - m1[i]), std::abs(vi - v1[i]), std::abs(pi - p1[i])});
      }
      CHECK(worst <= tolerance(dtype) * 2);
      Tensor target = random({n}, 44, dtype), online = random({n}, 45, dtype);
      const auto t0 = target.to_vector<double>(), o0 = online.to_vector<double>();
      dispatch_float(dtype, "test", [&](auto tag) {
        using T = typename decltype(tag)::type;
        cpu::ema(target.data<T>(), online.data<T>(), n, 0.996);
      });
      const auto t1 = target.to_vector<double>();
      double ema_worst = 0;
      for (int64_t i = 0; i < n; ++i) ema_worst = std::max(ema_worst, std::abs(0.996 * t0[i] + 0.004 * o0[i] - t1[i]));
      CHECK(ema_worst <= tolerance(dtype));
    });
  }
}

TEST_CASE("self_attention on a packed qkv equals attention over its head views, with gradients") {
  Generator gen(91);
  for (int64_t N : {1, 7, 49, 70}) {
    CAPTURE(N);
    const int64_t B = 2, H = 3, dh = 8, D = H * dh;
    Tensor qkv = uniform({B, N, 3 * D}, -1, 1, gen, DType::f64).requires_grad_();
    Tensor views = qkv.reshape({B, N, 3, H, dh}).permute({2, 0, 3, 1, 4});
    Tensor expected = detail::attention_reference(views.select(0, 0), views.select(0, 1), views.select(0, 2),
                                                  1.0 / std::sqrt(8.0))
                          .transpose(1, 2)
                          .reshape({B, N, D});
    Tensor w = uniform({B, N, D}, -1, 1, gen, DType::f64);
    sum(expected * w).backward();
    const auto expected_grad = qkv.grad().to_vector<double>();
    qkv.zero_grad();
    Tensor out = self_attention(qkv, H);
    sum(out * w).backward();
    const auto a = out.to_vector<double>(), b = expected.to_vector<double>(), g = qkv.grad().to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == doctest::Approx(b[i]).epsilon(1e-12));
    for (size_t i = 0; i < g.size(); ++i) REQUIRE(g[i] == doctest::Approx(expected_grad[i]).epsilon(1e-10));
  }
  Tensor x = uniform({1, 3, 12}, -1, 1, gen, DType::f64).requires_grad_();
  CHECK_MESSAGE(gradcheck([](auto& v) { return self_attention(v[0], 2); }, {x}), gradcheck([](auto& v) { return self_attention(v[0], 2); }, {x}));
  CHECK_THROWS_WITH_AS(self_attention(zeros({1, 3, 10}), 2),
                       "[self_attention] expected qkv (B, N, 3 * D) with D divisible by 2 heads, got shape [1, 3, 10]",
                       Error);
}
