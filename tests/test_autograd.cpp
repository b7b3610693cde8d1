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
  check([](auto& v) { return maximum(v[0], v[1]); }, {a, b});
  check([](auto& v) { return minimum(v[1], v[0].transpose(0, 1).transpose(0, 1)); }, {a, b});
}

TEST_CASE("maximum and minimum share the gradient of a tie equally, as torch does") {
  Tensor a = tensor({1, 2, 3}, DType::f64).requires_grad_(), b = tensor({3, 2, 1}, DType::f64).requires_grad_();
  sum(maximum(a, b) + minimum(a, b) * 10.0).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{10, 5.5, 1});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 5.5, 10});
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

TEST_CASE("gradcheck: softmax, log_softmax and layer_norm") {
  Tensor x = leaf({3, 4, 5}, 7);
  Tensor w = leaf({5}, 8), b = leaf({5}, 9);
  Tensor w2 = leaf({4, 5}, 10), b2 = leaf({4, 5}, 11);
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  check([](auto& v) { return softmax(v[0], -1); }, {x});
  check([](auto& v) { return softmax(v[0], 1); }, {x});
  check([](auto& v) { return log_softmax(v[0], 0); }, {x});
  check([](auto& v) { return log_softmax(v[0].transpose(0, 2), -1); }, {x});
  check([](auto& v) { return layer_norm(v[0], {5}, v[1], v[2], 1e-6); }, {x, w, b});
  check([](auto& v) { return layer_norm(v[0], {5}); }, {x});
  check([](auto& v) { return layer_norm(v[0], {4, 5}, v[1], Tensor(), 1e-5); }, {x, w2});
  check([](auto& v) { return layer_norm(v[0], {4, 5}, Tensor(), v[1], 1e-5); }, {x, b2});  // bias alone, 2-D
  check([](auto& v) { return layer_norm(v[0].transpose(1, 2), {4}); }, {x});
}

TEST_CASE("gradcheck: matmul and linear") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  Tensor a = leaf({2, 3, 4}, 11), b = leaf({4, 5}, 12), c = leaf({2, 4, 5}, 13), d = leaf({1, 4, 2}, 14);
  Tensor v = leaf({4}, 15), m = leaf({3, 4}, 16);
  check([](auto& t) { return matmul(t[0], t[1]); }, {a, b});                  // batch folded into rows
  check([](auto& t) { return matmul(t[0], t[1]); }, {a, c});                  // batched
  check([](auto& t) { return matmul(t[0], t[1]); }, {a, d});                  // broadcast batch
  check([](auto& t) { return matmul(t[0].transpose(1, 2), t[1].transpose(1, 2)); }, {c, a});  // both transposed
  check([](auto& t) { return matmul(t[0], t[1]); }, {m, v});                  // matrix-vector
  check([](auto& t) { return matmul(t[1], t[0]); }, {b, v});                  // vector-matrix
  check([](auto& t) { return matmul(t[0], t[0]); }, {v});                     // dot
  check([](auto& t) { return matmul(t[0].slice(2, 0, 4, 2), t[1].slice(0, 1, 3)); }, {a, b});  // strided copy path
  Tensor x = leaf({2, 3, 4}, 17), W = leaf({6, 4}, 18), bias = leaf({6}, 19);
  check([](auto& t) { return linear(t[0], t[1], t[2]); }, {x, W, bias});
  check([](auto& t) { return linear(t[0], t[1]); }, {x, W});
  check([](auto& t) { return linear(t[0].transpose(0, 1), t[1]); }, {x, W});
}

TEST_CASE("gradcheck: gather, index_select, cat, stack, split, repeat") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  Tensor x = leaf({2, 5, 3}, 20), y = leaf({2, 2, 3}, 21);
  Tensor idx = from_vector(std::vector<int64_t>{4, 0, 4, 1, 2, 2}, {2, 3});
  check([idx](auto& t) { return gather(t[0], 1, idx.unsqueeze(-1).expand({2, 3, 3})); }, {x});  // apply_masks form
  Tensor idx_full = from_vector(std::vector<int64_t>{0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1}, {2, 2, 3});
  check([idx_full](auto& t) { return gather(t[0], 0, idx_full); }, {x});
  Tensor sel = from_vector(std::vector<int64_t>{2, 2, 0}, {3});
  check([sel](auto& t) { return index_select(t[0], 2, sel); }, {x});
  check([](auto& t) { return cat({t[0], t[1]}, 1); }, {x, y});
  check([](auto& t) { return stack({t[0], t[1].transpose(0, 1)}, 2); }, {y, y});
  check([](auto& t) { auto p = split(t[0], {2, 3}, 1); return p[1] * 2.0 + sum(p[0], {1}, true); }, {x});
  check([](auto& t) { return repeat(t[0], {2, 1, 1, 2}); }, {y});
}

TEST_CASE("gradcheck: losses") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  Tensor a = leaf({3, 4}, 22, -3, 3), b = leaf({3, 4}, 23, -3, 3);
  check([](auto& t) { return mse_loss(t[0], t[1]); }, {a, b});
  check([](auto& t) { return l1_loss(t[0], t[1], Reduction::sum); }, {a, b});
  check([](auto& t) { return smooth_l1_loss(t[0], t[1]); }, {a, b});
  check([](auto& t) { return smooth_l1_loss(t[0], t[1], 0.5, Reduction::none); }, {a, b});
  Tensor labels = from_vector(std::vector<int64_t>{3, 0, 2}, {3});
  check([labels](auto& t) { return cross_entropy(t[0], labels); }, {a});
  check([labels](auto& t) { return cross_entropy(t[0], labels, Reduction::none); }, {a});
}

TEST_CASE("gradcheck: attention composite") {
  auto check = [](auto f, std::vector<Tensor> in) { CHECK_MESSAGE(gradcheck(f, in), gradcheck(f, in)); };
  Tensor q = leaf({2, 3, 5, 4}, 24), k = leaf({2, 3, 6, 4}, 25), v = leaf({2, 3, 6, 4}, 26);
  check([](auto& t) { return scaled_dot_product_attention(t[0], t[1], t[2]); }, {q, k, v});
}
