// Autodiff engine behaviour and a finite-difference gradient check for every op.
#include <doctest/doctest.h>

#include <jepa/jepa.hpp>

using namespace jepa;

namespace {
Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return uniform(shape, lo, hi, g, DType::f64).requires_grad_();
}
}  // namespace

TEST_CASE("backward accumulates into leaves and frees the graph") {
  Tensor x = tensor({1, 2, 3}).requires_grad_();
  Tensor y = sum(x * x);
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  sum(x).backward();  // a new graph adds into the same grad
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 5, 7});
  CHECK_THROWS_WITH_AS(y.backward(),
                       "[backward] trying to run backward through the graph a second time (at SumBackward); its saved "
                       "tensors were freed after the first backward",
                       Error);
  x.zero_grad();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK_THROWS_WITH_AS((x * 2.0).backward(),
                       "[backward] a gradient can be created implicitly only for a one-element tensor; got shape [3] "
                       "(pass the gradient: t.backward(grad))",
                       Error);
  (x * 2.0).backward(tensor({1, 0, -1}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 0, -2});
  CHECK_THROWS_AS(tensor({1.0}).backward(), Error);
}

TEST_CASE("detach and NoGrad stop the graph") {
  Tensor x = tensor({1, 2}).requires_grad_();
  CHECK(!x.detach().requires_grad());
  {
    NoGrad ng;
    CHECK(!(x * 3.0).requires_grad());
  }
  Tensor y = sum(x * x.detach());
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2});
}

TEST_CASE("deep graphs need no recursion") {
  Tensor x = tensor({1.0}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 200000; ++i) y = y + 0.0;
  sum(y).backward();
  CHECK(x.grad().item() == 1.0);
  Tensor z = x;
  for (int i = 0; i < 200000; ++i) z = z * 1.0;
  z = Tensor();  // destroying a long chain must not overflow the stack
}

TEST_CASE("gradcheck: elementwise ops with broadcasting and strides") {
  Tensor a = leaf({3, 4}, 1), b = leaf({4}, 2, 0.5, 1.5), c = leaf({4, 3}, 3);
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  check([](auto& v) { return add(v[0], v[1]); }, {a, b});
  check([](auto& v) { return sub(v[1], v[0]); }, {a, b});
  check([](auto& v) { return mul(v[0], v[1]); }, {a, b});
  check([](auto& v) { return div(v[0], v[1]); }, {a, b});
  check([](auto& v) { return mul(v[0], v[1].transpose(0, 1)); }, {a, c});        // non-contiguous operand
  check([](auto& v) { return div(v[0].slice(1, 0, 4, 2), v[1].slice(0, 1, 3)); }, {a, b});
  check([](auto& v) { return v[0] * 3.0 + 1.0 - 2.0 / (v[1] + 2.0); }, {a, b});
  check([](auto& v) { return 1.0 - v[0] / 4.0; }, {a});
}

TEST_CASE("gradcheck: unary ops") {
  Tensor x = leaf({2, 5}, 4);
  Tensor p = leaf({2, 5}, 5, 0.2, 2.0);
  auto check = [](auto f, Tensor in) { CHECK_MESSAGE(gradcheck(f, {in}), gradcheck(f, {in})); };
  check([](auto& v) { return neg(v[0]); }, x);
  check([](auto& v) { return exp(v[0]); }, x);
  check([](auto& v) { return log(v[0]); }, p);
  check([](auto& v) { return sqrt(v[0]); }, p);
  check([](auto& v) { return rsqrt(v[0]); }, p);
  check([](auto& v) { return abs(v[0]); }, x);
  check([](auto& v) { return tanh(v[0]); }, x);
  check([](auto& v) { return relu(v[0]); }, x);
  check([](auto& v) { return gelu(v[0]); }, x);
  check([](auto& v) { return pow(v[0], 3.0); }, x);
  check([](auto& v) { return pow(v[0], -1.5); }, p);
  check([](auto& v) { return gelu(v[0].transpose(0, 1)); }, x);
}

TEST_CASE("gradcheck: reductions and views") {
  Tensor x = leaf({2, 3, 4}, 6);
  auto check = [](auto f, Tensor in) { CHECK_MESSAGE(gradcheck(f, {in}), gradcheck(f, {in})); };
  check([](auto& v) { return sum(v[0]); }, x);
  check([](auto& v) { return sum(v[0], {0, 2}); }, x);
  check([](auto& v) { return mean(v[0], {1}, true); }, x);
  check([](auto& v) { return max(v[0], {2}); }, x);
  check([](auto& v) { return max(v[0].transpose(0, 2), {0, 1}); }, x);
  check([](auto& v) { return v[0].permute({2, 0, 1}).reshape({4, 6}); }, x);
  check([](auto& v) { return v[0].slice(2, 1, 4, 2).select(1, 2); }, x);
  check([](auto& v) { return v[0].narrow(0, 1, 1).unsqueeze(0).squeeze(1); }, x);
  check([](auto& v) { return v[0].select(2, 0).unsqueeze(-1).expand({2, 3, 5}); }, x);
  check([](auto& v) { return v[0].transpose(1, 2).contiguous().view({2, 12}); }, x);
}

TEST_CASE("dtype conversions pass the gradient back in the source dtype") {
  Tensor x = tensor({1, 2}, DType::f64).requires_grad_();
  sum(x.to(DType::f32) * 3.0).backward();
  CHECK(x.grad().dtype() == DType::f64);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("max shares the gradient among ties like torch.amax") {
  Tensor x = tensor({1, 3, 3, 2}).requires_grad_();
  max(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0});
}
